"""The onnx wheel's node conformance cases, for the handler tests: pick the cases of some
operators, and check one exactly as `python -m bench.conformance` does (IR written to disk,
read back, compiled on CPU in f32, every expected output within the case's rtol/atol)."""
from __future__ import annotations

import functools

from bench.conformance_cases import Case, collect
from bench.conformance_check import check


@functools.lru_cache(maxsize=1)
def _all_node_cases() -> tuple[Case, ...]:
    return tuple(collect(("node",)))


def cases_of(*operators: str, exclude: tuple[str, ...] = ()) -> list[Case]:
    """The node cases (function-expanded ones included) of `operators`, by name, minus the
    cases named in `exclude`."""
    wanted = set(operators)
    return [case for case in _all_node_cases()
            if case.operator in wanted and case.name not in exclude]


def case_id(case: Case) -> str:
    return case.name


def assert_conforms(case: Case) -> None:
    """Convert `case` with our converter and check it as the conformance runner does."""
    outcome = check(case, "ours")
    assert outcome.passed, f"{case.name} failed at {outcome.stage}: {outcome.error}"
