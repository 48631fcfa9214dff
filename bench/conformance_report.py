"""What a conformance run found: `results.json` (every case, both sides) and `results.md`
(per suite: cases, passed by ours and by ovc; the operators where ours fails most)."""
from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from pathlib import Path

from .conformance_cases import SUITES


def summary_rows(cases: list[dict]) -> list[tuple[str, int, int, int]]:
    """(suite, cases, passed by ours, passed by ovc) per suite present, then the total."""
    per_suite: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for case in cases:
        counts = per_suite[case["suite"]]
        counts[0] += 1
        counts[1] += bool(case.get("ours", {}).get("passed"))
        counts[2] += bool(case.get("ovc", {}).get("passed"))
    rows = [(suite, *per_suite[suite]) for suite in SUITES if suite in per_suite]
    if len(rows) > 1:
        rows.append(("total", *(sum(row[i] for row in rows) for i in (1, 2, 3))))
    return rows


def typical(message: str | None) -> str:
    """A failure message with its node names and numbers blurred, so alike failures group."""
    text = re.sub(r"'[^']*'", "'…'", message or "")
    return re.sub(r"\d+(\.\d+)?(e-?\d+)?", "N", text)[:160]


def failing_operators(cases: list[dict], side: str = "ours", top: int = 20) -> list[dict]:
    """Node-suite operators by how many of their cases `side` fails, with the stage and the
    message most of those failures share."""
    failures: dict[str, list[dict]] = defaultdict(list)
    totals: Counter = Counter()
    for case in cases:
        if case["suite"] != "node":
            continue
        totals[case["operator"]] += 1
        if not case.get(side, {}).get("passed", True):
            failures[case["operator"]].append(case)
    ranked = sorted(failures.items(), key=lambda item: (-len(item[1]), item[0]))[:top]
    return [operator_row(operator, failed, totals[operator], side) for operator, failed in ranked]


def operator_row(operator: str, failed: list[dict], total: int, side: str) -> dict:
    """The typical failure is read from the operator's own cases when some failed: the
    function-expanded ones fail on the operators of the expansion instead."""
    own = [case for case in failed if "_expanded" not in case["name"]] or failed
    stages = Counter(case[side]["stage"] for case in own)
    messages = Counter(typical(case[side]["error"]) for case in own)
    message = messages.most_common(1)[0][0]
    example = next(case[side]["error"] for case in own if typical(case[side]["error"]) == message)
    return {"operator": operator, "failed": len(failed), "cases": total,
            "ovc_failed": sum(not case.get("ovc", {}).get("passed", True) for case in failed),
            "stage": stages.most_common(1)[0][0], "error": example}


def markdown(cases: list[dict], meta: dict) -> str:
    lines = ["# ONNX conformance: ours against ovc", "",
             f"onnx {meta.get('onnx')}, openvino {meta.get('openvino')}; a case passes when its "
             "IR, read back and compiled on CPU (f32), matches every expected output within the "
             "case's rtol/atol.", "", table(cases), ""]
    operators = failing_operators(cases)
    if operators:
        lines += ["## Node operators where ours fails most", "",
                  "| operator | ours failed | cases | ovc failed too | stage | typical error |",
                  "|---|---:|---:|---:|---|---|"]
        lines += [f"| {row['operator']} | {row['failed']} | {row['cases']} | {row['ovc_failed']} "
                  f"| {row['stage']} | {escape(row['error'])} |" for row in operators]
        lines.append("")
    model_failures = [case for case in cases if case["suite"] != "node"
                      and not case.get("ours", {}).get("passed", True)]
    if model_failures:
        lines += ["## Model cases ours fails", "", "| suite | case | ovc | stage | error |",
                  "|---|---|---|---|---|"]
        lines += [f"| {case['suite']} | {case['name']} | "
                  f"{'pass' if case.get('ovc', {}).get('passed') else 'fail'} | "
                  f"{case['ours']['stage']} | {escape(case['ours']['error'])} |"
                  for case in model_failures]
        lines.append("")
    return "\n".join(lines)


def table(cases: list[dict]) -> str:
    lines = ["| suite | cases | ours | ovc |", "|---|---:|---:|---:|"]
    for suite, total, ours, ovc in summary_rows(cases):
        lines.append(f"| {suite} | {total} | {ours} ({percent(ours, total)}) "
                     f"| {ovc} ({percent(ovc, total)}) |")
    return "\n".join(lines)


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def escape(text: str | None) -> str:
    return (text or "").replace("|", "\\|")[:200]


def write(cases: list[dict], meta: dict, out: Path) -> None:
    """Write both files, each by an atomic rename."""
    out.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "summary": [dict(zip(("suite", "cases", "ours", "ovc"), row))
                                          for row in summary_rows(cases)],
                "failing_operators": failing_operators(cases), "cases": cases}
    atomic_write(out / "results.json", json.dumps(document, indent=1, sort_keys=False))
    atomic_write(out / "results.md", markdown(cases, meta))


def atomic_write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)
