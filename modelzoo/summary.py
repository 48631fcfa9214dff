"""What a zoo build tells its user: one row per model and precision, and the state behind it.

A row's status, and for a failure its one-line reason, come from the task outcomes the reporter
saw (`modelzoo.reporter`); its figures (sizes, conversion time, error, latency) are read from
the build's outputs and cache entries. Rows are kept in a small JSON state file beside the
manifest (`.<manifest stem>-results.json`), merged run after run, so a run that finds
everything up to date reads its summary from that one file. Nothing here imports anything
heavy: the no-op path prints this summary.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .fsutil import atomic_write_text

if TYPE_CHECKING:
    from .manifest import ModelEntry
    from .tasks import ZooTasks

VERIFIED, CONVERTED = "verified", "converted"
FAILED_VERIFICATION, COULD_NOT_VERIFY = "failed verification", "could not verify"
FAILED_CONVERSION, SKIPPED, NOT_BUILT = "failed conversion", "skipped", "not built"
FAILURES = (FAILED_CONVERSION, FAILED_VERIFICATION, COULD_NOT_VERIFY)
STATE_FORMAT = 1


@dataclass
class Row:
    """One model in one precision. Sizes in bytes, times in seconds, latency in ms; the error
    is the largest over the outputs, relative to each output's range (see verify.json)."""

    model: str
    precision: str
    status: str = NOT_BUILT
    framework: str | None = None
    source_bytes: int | None = None
    ir_bytes: int | None = None
    convert_seconds: float | None = None
    max_rel_error: float | None = None
    tolerance: float | None = None
    latency_ms: float | None = None
    reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILURES

    @classmethod
    def from_dict(cls, data: dict) -> "Row":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# -- figures read from the outputs and the cache ---------------------------------------------
def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _size(paths: Iterable[Path]) -> int | None:
    try:
        return sum(p.stat().st_size for p in paths)
    except OSError:
        return None


def source_size(tree: Path, location: dict) -> int | None:
    """The source model's size as unpacked in `tree`: the file, the SavedModel folder, or a
    checkpoint's meta graph and its shards."""
    path = tree / location.get("path", "")
    if location.get("kind") == "saved_model":
        return _size(p for p in path.rglob("*") if p.is_file())
    if location.get("kind") == "checkpoint" and location.get("checkpoint"):
        prefix = Path(location["checkpoint"]).name
        return _size(p for p in path.parent.iterdir() if p.name.startswith(prefix))
    return _size([path])


def _source_bytes(zoo: "ZooTasks", entry: "ModelEntry", prepared: dict | None) -> int | None:
    if not prepared:
        return None
    from .actions import source_tree_dir

    return source_size(source_tree_dir(zoo.cache, entry), prepared.get("location") or {})


def measure(zoo: "ZooTasks", entry: "ModelEntry", precision: str, row: Row) -> Row:
    """Fill `row`'s figures from what the build left: outputs, verify.json, cache entries."""
    folder = zoo.output_dir(entry, precision)
    prepared = _read_json(zoo.prepared_dir(entry) / "prepared.json")
    converted = _read_json(zoo.cache.tree_dir("ir", zoo.ir_key(entry, precision)) / "convert.json")
    report = _read_json(folder / "verify.json") or {}
    converted = converted or {}
    row.framework = report.get("framework") or converted.get("framework") or \
        (prepared or {}).get("framework") or entry.framework
    row.source_bytes = converted.get("source_bytes") or _source_bytes(zoo, entry, prepared)
    row.ir_bytes = _size(Path(p) for p in zoo.ir_files(entry, precision))
    row.convert_seconds = converted.get("seconds")
    row.max_rel_error = report.get("max_rel_error")
    row.tolerance = report.get("tolerance")
    row.latency_ms = report.get("latency_ms")
    return row


def status_from_files(zoo: "ZooTasks", entry: "ModelEntry", precision: str) -> str:
    """A row's status judged from the outputs alone (no run recorded one)."""
    if entry.skip:
        return SKIPPED
    if entry.error:
        return FAILED_CONVERSION
    report = _read_json(zoo.output_dir(entry, precision) / "verify.json")
    if entry.verify and report is not None:
        return VERIFIED if report.get("passed") else FAILED_VERIFICATION
    if all(Path(p).is_file() for p in zoo.ir_files(entry, precision)):
        return CONVERTED if not entry.verify else NOT_BUILT
    return NOT_BUILT


# -- the state file ------------------------------------------------------------------------
def state_path(manifest: Path) -> Path:
    return manifest.parent / f".{manifest.stem}-results.json"


def load_state(manifest: Path) -> dict[str, Row]:
    """The rows earlier runs recorded, by `model/precision` (none when absent or unreadable)."""
    data = _read_json(state_path(manifest))
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        return {}
    return {key: Row.from_dict(value) for key, value in data.get("rows", {}).items()}


def save_state(manifest: Path, rows: Iterable[Row], names: set[str]) -> None:
    """Merge `rows` into the state file (atomically); rows of models no longer in the manifest
    (`names`) are dropped. Nothing is written when nothing changed (a no-op run)."""
    path = state_path(manifest)
    old = _read_json(path)
    merged = {key: asdict(row) for key, row in load_state(manifest).items()
              if row.model in names}
    merged.update({row_key(row.model, row.precision): asdict(row) for row in rows})
    data = {"format": STATE_FORMAT, "rows": dict(sorted(merged.items()))}
    if data != old:
        atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def row_key(model: str, precision: str) -> str:
    return f"{model}/{precision}"


def current_rows(zoo: "ZooTasks", entries: Iterable["ModelEntry"] | None = None) -> list[Row]:
    """Every row of the manifest as the last runs left it: recorded rows, else judged from the
    files (with figures read from them too)."""
    state = load_state(zoo.manifest.anchor)
    rows = []
    for entry in entries if entries is not None else zoo.manifest.models:
        for precision in entry.precisions:
            row = state.get(row_key(entry.name, precision))
            if row is None or (entry.skip and row.status != SKIPPED) or entry.error:
                row = Row(entry.name, precision, status_from_files(zoo, entry, precision),
                          reason=entry.skip or entry.error)
                if row.status != SKIPPED and not entry.error:
                    measure(zoo, entry, precision, row)
            rows.append(row)
    return rows


# -- the text table -------------------------------------------------------------------------
COLUMNS = ("model", "prec", "status", "framework", "source", "IR", "convert", "max error / tol",
           "latency")


def human_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return "-"  # pragma: no cover


def _cells(row: Row) -> tuple[str, ...]:
    error = "-" if row.max_rel_error is None else f"{row.max_rel_error:.1e}"
    tolerance = "-" if row.tolerance is None else f"{row.tolerance:.0e}"
    return (row.model, row.precision, row.status, row.framework or "-",
            human_bytes(row.source_bytes), human_bytes(row.ir_bytes),
            "-" if row.convert_seconds is None else f"{row.convert_seconds:.3f} s",
            f"{error} / {tolerance}",
            "-" if row.latency_ms is None else f"{row.latency_ms:.3f} ms")


def short_reason(row: Row, manifest: Path) -> str:
    """The reason without the `manifest, model 'NAME'[, PREC]: ` prefix the row already says."""
    text = row.reason or ""
    for prefix in (f"{manifest}, model {row.model!r}, {row.precision}: ",
                   f"{manifest}, model {row.model!r}: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    return text.removeprefix(f"{row.status}: ")


def format_summary(rows: list[Row], manifest: Path) -> str:
    """The table, the failures with their reasons, and a count per status."""
    table = [COLUMNS] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = ["", f"Summary of {manifest}:"]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
              for line in table]
    failed = [row for row in rows if row.failed]
    if failed:
        lines += ["", "Failures:"]
        lines += [f"  {row.model} {row.precision}: {row.status}: {short_reason(row, manifest)}"
                  for row in failed]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    lines += ["", f"{len(rows)} results: " +
              ", ".join(f"{n} {status}" for status, n in counts.items())]
    return "\n".join(lines) + "\n"
