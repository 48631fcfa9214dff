"""`doit report`: a static report of the last builds of a manifest, in `report/` beside it.

    report/index.html          the table (sortable, filterable), plots, failures
    report/models/NAME.html    one page per model: manifest entry, flags, IR, checks, keys
    report/zoo.json            the table for machines (schema in the README)
    report/junit.xml           one test case per model and precision, for CI systems

Importing this package is free; the work (lxml, matplotlib) happens in `write_report`.
"""
from __future__ import annotations

from pathlib import Path


def write_report(manifest: str | Path, workdir: str | Path | None = None) -> Path:
    """Write the report of `manifest`'s last builds; returns the path of index.html."""
    import json
    from datetime import datetime, timezone

    from . import charts, ci, data, pages

    zoo, rows, details = data.load(manifest, workdir)
    folder = zoo.manifest.state_dir / "report"
    generated = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    where = str(zoo.manifest.path)
    for model in details:
        _publish(folder / "models" / f"{model.entry.name}.html", pages.model_page(model, where))
    _publish(folder / "zoo.json", json.dumps(data.zoo_json(zoo, rows, generated), indent=1) + "\n")
    _publish(folder / "junit.xml", ci.junit_xml(rows, where, generated[:19]))
    index = folder / "index.html"
    _publish(index, pages.index_page(where, generated, rows, charts.all_charts(rows)))
    return index


def _publish(path: Path, content: str | bytes) -> None:
    """Write a file atomically, readable as any new file (a report is served or archived)."""
    from ..fsutil import atomic_write_bytes

    atomic_write_bytes(path, content.encode() if isinstance(content, str) else content)
