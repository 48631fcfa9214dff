"""What one run did to each model and precision, told task by task by the reporter.

Task names say what they build: `download:NAME`, `unpack:NAME`, `prepare:NAME` per model,
`convert:NAME-PREC` and `verify:NAME-PREC` per model and precision, `convert:NAME` the group.
A row is done when its last task (verify, or convert for a model that is not verified) is up
to date, succeeds, or when any task of its chain fails; a row whose chain broke upstream
(download, unpack, prepare) takes that task's message as its reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .summary import (CONVERTED, COULD_NOT_VERIFY, FAILED_CONVERSION, FAILED_VERIFICATION,
                      SKIPPED, VERIFIED, Row, load_state, measure, row_key, save_state,
                      status_from_files)

if TYPE_CHECKING:
    from .manifest import ModelEntry
    from .tasks import ZooTasks

MODEL_STAGES = ("download", "unpack", "prepare")
BUILD_STAGES = ("convert", "verify")


@dataclass
class Outcome:
    status: str
    reason: str | None = None
    executed: bool = False  # False: up to date, its figures may come from the state file


def one_line(fail) -> str:
    """A task failure as one line: the TaskFailed message, or an error's last line."""
    text = (getattr(fail, "message", None) or "").strip()
    if not text or getattr(fail, "traceback", None):  # an error in our code: its last line
        lines = [line.strip() for line in fail.get_msg().splitlines() if line.strip()]
        text = lines[-1] if lines else type(fail).__name__
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


class RunOutcomes:
    """The rows of the models a run selected, filled in as the reporter hears of each task."""

    def __init__(self, zoo: "ZooTasks", selected: list[str]) -> None:
        self.zoo = zoo
        self.entries = {e.name: e for e in zoo.models}  # a shard's run: its models only
        self.rows = self._selected_rows(selected or ["convert"])
        self.outcomes: dict[tuple[str, str], Outcome] = {}
        self.upstream: dict[str, str] = {}  # model -> why its download/unpack/prepare failed

    def _selected_rows(self, selected: list[str]) -> list[tuple[str, str]]:
        """(model, precision) of every row the selected tasks build, in manifest order."""
        wanted: set[tuple[str, str]] = set()
        for name in selected:
            stage, _, rest = name.partition(":")
            if stage not in BUILD_STAGES:
                continue
            for entry in self.entries.values():
                for precision in entry.precisions:
                    if rest in ("", entry.name, f"{entry.name}-{precision}"):
                        wanted.add((entry.name, precision))
        return [(e.name, p) for e in self.entries.values() for p in e.precisions
                if (e.name, p) in wanted]

    @property
    def summarized(self) -> bool:
        """True when the run builds models (`doit convert`), not for `doit report` and such."""
        return bool(self.rows)

    @property
    def to_build(self) -> int:
        return sum(not self.entries[m].skip for m, _ in self.rows)

    @property
    def done(self) -> int:
        return sum(key in self.outcomes for key in self.rows if not self.entries[key[0]].skip)

    @property
    def failures(self) -> int:
        return sum(o.status not in (VERIFIED, CONVERTED, SKIPPED) for o in self.outcomes.values())

    def _parse(self, task_name: str) -> tuple[str, "ModelEntry | None", str | None]:
        stage, _, rest = task_name.partition(":")
        if rest in self.entries:
            return stage, self.entries[rest], None
        model, _, precision = rest.rpartition("-")
        return stage, self.entries.get(model), precision or None

    def succeeded(self, task_name: str, executed: bool) -> None:
        stage, entry, precision = self._parse(task_name)
        if entry is None or precision is None:
            return
        if stage == "verify" or (stage == "convert" and not entry.verify):
            status = VERIFIED if stage == "verify" else CONVERTED
            self.outcomes[(entry.name, precision)] = Outcome(status, executed=executed)

    def failed(self, task_name: str, reason: str, unmet: bool) -> None:
        stage, entry, precision = self._parse(task_name)
        if entry is None:
            return
        if stage in MODEL_STAGES and not unmet:
            self.upstream.setdefault(entry.name, reason)
            return
        if precision is None and entry.error and stage == "convert":
            for each in entry.precisions:  # an unusable description fails every precision
                self.outcomes[(entry.name, each)] = Outcome(FAILED_CONVERSION, entry.error, True)
            return
        if precision is None or (entry.name, precision) in self.outcomes:
            return
        if stage == "convert":
            reason = self.upstream.get(entry.name, reason) if unmet else reason
            self.outcomes[(entry.name, precision)] = Outcome(FAILED_CONVERSION, reason, True)
        elif stage == "verify" and not unmet:
            status = COULD_NOT_VERIFY if "could not verify" in reason else FAILED_VERIFICATION
            self.outcomes[(entry.name, precision)] = Outcome(status, reason, True)

    # -- the rows, once the run is over ---------------------------------------------------
    def final_rows(self) -> list[Row]:
        """Every selected row: this run's outcome with figures (read fresh for what ran, from
        the state file for what was up to date), else what earlier runs recorded."""
        state = load_state(self.zoo.manifest.anchor)
        return [self._row(self.entries[model], precision, state) for model, precision in self.rows]

    def _row(self, entry: "ModelEntry", precision: str, state: dict[str, Row]) -> Row:
        if entry.error:
            return Row(entry.name, precision, FAILED_CONVERSION, framework=entry.framework,
                       reason=entry.error)
        if entry.skip:
            return Row(entry.name, precision, SKIPPED, framework=entry.framework,
                       reason=entry.skip)
        recorded = state.get(row_key(entry.name, precision))
        outcome = self.outcomes.get((entry.name, precision))
        if outcome is None:  # not reached this run (interrupted, or only part selected)
            if recorded is not None:
                return recorded
            status = status_from_files(self.zoo, entry, precision)
            return measure(self.zoo, entry, precision, Row(entry.name, precision, status))
        if not outcome.executed and recorded is not None and recorded.status == outcome.status:
            return recorded
        row = Row(entry.name, precision, outcome.status, reason=outcome.reason)
        return measure(self.zoo, entry, precision, row)

    def save(self, rows: list[Row]) -> None:
        save_state(self.zoo.manifest.anchor, rows, set(self.entries))
