"""`python -m modelzoo.verify IR.xml SOURCE`: check any IR (ours, ovc's, an old mo's) against
its source model with the pipeline's own machinery.

The flags mean what they meant to the Model Optimizer: the IR takes raw input, and the source
is fed reverse-channels, then minus mean, then divided by scale. Exit status: 0 when the IR
passes, 1 when it is wrong, 2 when the check could not run.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PASSED, WRONG, UNAVAILABLE = 0, 1, 2
MO_FLAGS = ("input_shape", "input", "output", "mean_values", "scale_values", "scale")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m modelzoo.verify",
        description="Verify an OpenVINO IR against its source model (ONNX file, frozen TF graph, "
                    "SavedModel folder or checkpoint .meta). Exit 0: passed, 1: the IR is wrong, "
                    "2: the check could not run.")
    parser.add_argument("ir", type=Path, help="the IR's .xml (its .bin beside it)")
    parser.add_argument("source", type=Path, help="the model the IR was converted from")
    parser.add_argument("--framework", choices=("onnx", "tf"), help="found from SOURCE when left out")
    parser.add_argument("--precision", choices=("FP32", "FP16"),
                        help="the IR's precision; found from its constants when left out")
    parser.add_argument("--tolerance", type=float,
                        help="max error relative to each output's range (default: 1e-4 for FP32, "
                             "measured from the model for FP16)")
    for flag in MO_FLAGS:
        parser.add_argument(f"--{flag}", help=f"as the Model Optimizer's --{flag}")
    parser.add_argument("--reverse_input_channels", action="store_true")
    parser.add_argument("--saved_model_tags", help="SavedModel tags, comma separated (default serve)")
    parser.add_argument("--input_checkpoint", type=Path, help="checkpoint prefix of a .meta SOURCE")
    parser.add_argument("--inputs", help="a .npy/.npz file of input values (as verify_inputs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the report there")
    return parser


def ir_precision(xml_path: Path) -> str:
    """FP16 when the IR stores float constants in f16, else FP32."""
    from lxml import etree

    root = etree.parse(str(xml_path)).getroot()
    const_types = {data.get("element_type") for data in root.iterfind("layers/layer[@type='Const']/data")}
    return "FP16" if "f16" in const_types else "FP32"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from . import VerifierUnavailable, cut_names, output_names, verify_ir
    from .source import SourceModel

    flags = {flag: getattr(args, flag) for flag in MO_FLAGS if getattr(args, flag) is not None}
    flags["reverse_input_channels"] = args.reverse_input_channels
    more = {"inputs": cut_names(flags.get("input")), "outputs": output_names(flags.get("output"))}
    if args.saved_model_tags:
        more["tags"] = tuple(t.strip() for t in args.saved_model_tags.split(",") if t.strip())
    if args.input_checkpoint:
        more["checkpoint"] = args.input_checkpoint
    try:
        if not args.ir.is_file() or not args.source.exists():
            missing = args.ir if not args.ir.is_file() else args.source
            raise VerifierUnavailable(f"{missing}: no such file")
        source = SourceModel.from_file(args.source, args.framework, **more)
        report = verify_ir(args.ir, source, precision=args.precision or ir_precision(args.ir),
                           tolerance=args.tolerance, flags=flags, inputs=args.inputs,
                           base_dir=Path.cwd(), seed=args.seed)
    except VerifierUnavailable as exc:
        print(f"could not verify {args.ir}: {exc}", file=sys.stderr)
        return UNAVAILABLE
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, sort_keys=True, default=str))
    print(render(report))
    return PASSED if report["passed"] else WRONG


def render(report: dict) -> str:
    """The report for a terminal: the verdict, the reference, each input and output."""
    from . import VerificationError, assert_passed

    reference = report.get("reference") or {}
    lines = [f"IR {report['model']} against {report['source']} ({report['precision']}): "
             f"{'PASSED' if report['passed'] else 'FAILED'}",
             f"  reference: {reference.get('runtime')} {reference.get('version')} "
             f"({reference.get('detail')}); OpenVINO {report.get('openvino')}",
             f"  tolerance: {report['tolerance']} ({(report.get('tolerance_from') or {}).get('source')})"]
    for item in report["inputs"]:
        lines.append(f"  input {item['name']!r} {item['shape']} {item['ir_element_type']}: "
                     f"{item['kind']} {item.get('low', '')}..{item.get('high', '')}")
    for output in report["outputs"]:
        lines.append(f"  output {output['name']!r} {output['shape']} {output['ir_element_type']}"
                     f"/{output['source_element_type']}: max abs {output['max_abs_error']}, "
                     f"relative {output['max_rel_error']}, {'ok' if output['passed'] else 'FAILED'}")
    try:
        assert_passed(report, Path(report["model"]).stem)
    except VerificationError as exc:
        lines += str(exc).splitlines()[1:]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
