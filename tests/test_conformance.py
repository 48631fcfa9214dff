"""The ONNX conformance runner (`python -m bench.conformance`) on a handful of node cases."""
from __future__ import annotations

import json

import pytest

from bench import conformance

KNOWN_GOOD = ("test_relu", "test_add", "test_conv_with_strides_padding")
# A string operator: OpenVINO IR has few string operations, so the converter is not meant to take it.
UNSUPPORTED, UNSUPPORTED_OP = "test_string_split_basic", "StringSplit"
ONLY = "|".join(f"^{name}$" for name in (*KNOWN_GOOD, UNSUPPORTED))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("conformance")
    assert conformance.main(["--suite", "node", "--only", ONLY, "--jobs", "2",
                             "--out", str(out)]) == 0
    return out, json.loads((out / "results.json").read_text())


@pytest.mark.slow
def test_every_selected_case_has_both_sides(results):
    _, document = results
    cases = {case["name"]: case for case in document["cases"]}
    assert sorted(cases) == sorted((*KNOWN_GOOD, UNSUPPORTED))
    for case in cases.values():
        assert case["suite"] == "node" and (case["rtol"], case["atol"]) == (1e-3, 1e-7)
        for side in ("ours", "ovc"):
            assert set(case[side]) >= {"passed", "stage", "error", "max_abs_error"}
    assert document["summary"] == [{"suite": "node", "cases": 4,
                                    "ours": sum(cases[n]["ours"]["passed"] for n in cases),
                                    "ovc": sum(cases[n]["ovc"]["passed"] for n in cases)}]


@pytest.mark.slow
def test_known_good_cases_pass_on_both_sides(results):
    _, document = results
    cases = {case["name"]: case for case in document["cases"]}
    for name in KNOWN_GOOD:
        for side in ("ours", "ovc"):
            outcome = cases[name][side]
            assert outcome["passed"], (name, side, outcome)
            assert outcome["stage"] is None and outcome["max_abs_error"] < 1e-4


@pytest.mark.slow
def test_unsupported_operator_fails_ours_at_convert_naming_it(results):
    _, document = results
    [case] = [case for case in document["cases"] if case["name"] == UNSUPPORTED]
    assert case["operator"] == UNSUPPORTED_OP
    assert not case["ours"]["passed"]
    assert case["ours"]["stage"] == "convert"
    assert UNSUPPORTED_OP in case["ours"]["error"]
    assert "model.onnx" in case["ours"]["error"] and "/tmp" not in case["ours"]["error"]


@pytest.mark.slow
def test_markdown_lists_the_suite_and_the_failing_operator(results):
    out, _ = results
    text = (out / "results.md").read_text()
    assert "| node | 4 |" in text
    assert f"| {UNSUPPORTED_OP} | 1 | 1 |" in text
