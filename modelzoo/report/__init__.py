"""`doit report`: a static report of the last builds of a manifest, in `report/` beside it.

    report/index.html          the table (sortable, filterable), plots, failures
    report/models/NAME.html    one page per model: manifest entry, flags, IR, checks, keys
    report/zoo.json            the table for machines (schema in the README)
    report/junit.xml           one test case per model and precision, for CI systems

Importing this package is free; the work (lxml, matplotlib) happens in `write_report`.
"""
from __future__ import annotations

from pathlib import Path


def write_report(manifest: str | Path) -> Path:
    """Write the report of `manifest`'s last builds; returns the path of index.html."""
    import json
    from datetime import datetime, timezone

    from . import charts, ci, data, pages

    zoo, rows, details = data.load(manifest)
    folder = zoo.manifest.path.parent / "report"
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
    """Write a file atomically (a temporary beside it, renamed over it), readable by all: a
    report is meant to be served or archived as it is."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
