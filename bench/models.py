"""The benchmark's models, built from seeds (no weights are ever downloaded) and cached.

Everything lands in `bench/models/seed<SEED>/` (git-ignored), so a rerun with the same seed
reuses the files. The TensorFlow ones are built by `bench.models_tf` in a child process.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .measure import PROJECT, child_env

MODELS_DIR = PROJECT / "bench" / "models"


@dataclass(frozen=True)
class BenchModel:
    name: str
    path: Path
    framework: str


def models_dir(seed: int) -> Path:
    return MODELS_DIR / f"seed{seed}"


def conversion_models(seed: int) -> list[BenchModel]:
    """The four conversion benchmarks' models, built if not cached yet."""
    folder = models_dir(seed)
    tf_files = [folder / "resnet50.pb", folder / "mobilenet_v2.pb", folder / "savedmodel"]
    if not all(p.exists() for p in tf_files):
        subprocess.run([sys.executable, "-m", "bench.models_tf", str(folder), str(seed)],
                       check=True, env=child_env(), cwd=PROJECT, capture_output=True)
    onnx_path = folder / "resnet50.onnx"
    if not onnx_path.exists():
        _write(onnx_path, resnet50_onnx_bytes(seed))
    return [BenchModel("resnet50-tf-frozen", tf_files[0], "tf"),
            BenchModel("mobilenetv2-tf-frozen", tf_files[1], "tf"),
            BenchModel("resnet50-onnx", onnx_path, "onnx"),
            BenchModel("mobilenetv2-savedmodel", tf_files[2], "tf")]


def ir_models(seed: int, limit: int | None = None) -> list[BenchModel]:
    """The models of the `ir` benchmark (issue 15's list), built if not cached yet: Keras
    applications as frozen graphs and the onnx wheel's light ResNet50 and DenseNet121.
    `limit` keeps the first ones only (Keras ResNet50 and MobileNetV2 first: the conversion
    benchmark's own), building nothing else."""
    from .models_tf import FROZEN

    folder = models_dir(seed)
    frozen = {name: folder / f"{name}.pb" for name in list(FROZEN)[:limit]}
    missing = [name for name, path in frozen.items() if not path.exists()]
    if missing:  # one that fails to build stays missing: its conversion fails, reported as such
        subprocess.run([sys.executable, "-m", "bench.models_tf", str(folder), str(seed), *missing],
                       check=False, env=child_env(), cwd=PROJECT, capture_output=True)
    models = [BenchModel(f"{name.replace('_', '')}-tf-frozen", path, "tf")
              for name, path in frozen.items()]
    for name in list(LIGHT_ONNX)[:None if limit is None else max(0, limit - len(frozen))]:
        path = folder / f"{name}.onnx"
        if not path.exists():
            _write(path, light_onnx_bytes(name, seed))
        models.append(BenchModel(f"{name}-onnx", path, "onnx"))
    return models


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _weight(rng: np.random.Generator, shape: list[int], role: str) -> np.ndarray:
    """He-normal kernels; batch-norm scales and variances positive, other vectors small."""
    if role in ("scale", "var"):
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    if len(shape) > 1:
        fan_in = int(np.prod(shape[1:]))
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)
    return rng.normal(0.0, 0.05, shape).astype(np.float32)


def _roles(graph) -> dict[str, str]:
    """What each batch norm input is, by tensor name (scale, bias, mean, var); a vector that a
    Mul scales by (directly or through an Unsqueeze, as DenseNet121's scale-shift) is a scale."""
    roles = {}
    unsqueezed = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Unsqueeze"}
    for node in graph.node:
        if node.op_type == "BatchNormalization":
            for name, role in zip(node.input[1:], ("scale", "bias", "mean", "var")):
                roles[name] = role
        elif node.op_type == "Mul":
            for name in node.input:
                roles.setdefault(unsqueezed.get(name, name), "scale")
    return roles


# The onnx wheel's light models the benchmark uses, and each one's seed offset.
LIGHT_ONNX = {"resnet50": 50, "densenet121": 51}


def resnet50_onnx_bytes(seed: int) -> bytes:
    """The onnx wheel's light ResNet50 with its ConstantOfShape weights made seeded random."""
    return light_onnx_bytes("resnet50", seed)


def light_onnx_bytes(name: str, seed: int) -> bytes:
    """The onnx wheel's `light_<name>.onnx` with its ConstantOfShape weights made seeded random
    (the light models ship shapes only, no weights)."""
    import onnx
    from onnx import numpy_helper

    source = Path(onnx.__file__).parent / f"backend/test/data/light/light_{name}.onnx"
    model = onnx.load(str(source))
    graph = model.graph
    shapes = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    wanted = {n.output[0]: [int(d) for d in shapes[n.input[0]]]
              for n in graph.node if n.op_type == "ConstantOfShape"}
    wanted.update({t.name: list(t.dims) for t in graph.initializer
                   if t.data_type == onnx.TensorProto.FLOAT})
    rng, roles = np.random.default_rng(seed + LIGHT_ONNX[name]), _roles(graph)
    shape_inputs = {n.input[0] for n in graph.node if n.op_type == "ConstantOfShape"}
    kept = [t for t in graph.initializer if t.name not in wanted and t.name not in shape_inputs]
    initializers = kept + [numpy_helper.from_array(_weight(rng, shape, roles.get(name, "")), name)
                           for name, shape in sorted(wanted.items())]
    nodes = [n for n in graph.node if n.op_type != "ConstantOfShape"]
    inputs = [i for i in graph.input if i.name not in shape_inputs and i.name not in wanted
              and i.name not in {t.name for t in kept}]
    for repeated, values in ((graph.node, nodes), (graph.input, inputs),
                             (graph.initializer, initializers)):
        del repeated[:]
        repeated.extend(values)
    model.ir_version = 4
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)


def tiny_onnx_bytes(seed: int, size: int = 8) -> bytes:
    """A small Conv/Relu/GlobalAveragePool/Gemm model; `seed` makes each one different."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    width = 4 + seed % 5
    weights = {"w": _weight(rng, [width, 3, 3, 3], ""), "b": _weight(rng, [width], ""),
               "fc": _weight(rng, [5, width], ""), "fcb": _weight(rng, [5], "")}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], transB=1)]
    graph = helper.make_graph(
        nodes, f"tiny{seed}", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString(deterministic=True)
