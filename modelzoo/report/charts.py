"""The report's plots, drawn with matplotlib as inline SVG (the page works offline).

Every mark (a point or a bar, one per model and precision that has the figure) is its own
artist with the id `mark-CHART-N`, so the page's marks can be counted; a failed row's mark is
drawn in red.
"""
from __future__ import annotations

import io
import re

from ..summary import Row

OK_COLOUR, FAILED_COLOUR, TOLERANCE_COLOUR = "#2f6db5", "#c62828", "#444444"
CHARTS = ("size", "convert", "error", "latency")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 9})
    import matplotlib.pyplot as plt

    return plt


def _label(row: Row) -> str:
    return f"{row.model} {row.precision}"


def _colour(row: Row) -> str:
    return FAILED_COLOUR if row.failed else OK_COLOUR


def _svg(figure, chart: str) -> str:
    """The figure as an <svg> element for inlining: no XML prolog, ids unique to the chart."""
    import matplotlib

    plt = _pyplot()
    with matplotlib.rc_context({"svg.hashsalt": chart}):
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    # matplotlib's ids (clip paths, glyphs) repeat across figures: give each chart its own.
    text = re.sub(r'id="(?!mark-)([^"]+)"', rf'id="{chart}-\1"', text)
    text = re.sub(r'(href="#|url\(#)(?!mark-)', rf"\g<1>{chart}-", text)
    return text.replace("<svg ", f'<svg data-chart="{chart}" ', 1)


def _bars(rows: list[Row], value, chart: str, xlabel: str, log: bool = False) -> str | None:
    shown = [row for row in rows if value(row) is not None]
    if not shown:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 0.9 + 0.28 * len(shown)))
    for index, row in enumerate(shown):
        axes.barh(index, value(row), color=_colour(row), gid=f"mark-{chart}-{index}")
    axes.set_yticks(range(len(shown)), [_label(row) for row in shown])
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    if log:
        axes.set_xscale("log")
    axes.grid(axis="x", alpha=0.3)
    return _svg(figure, chart)


def size_chart(rows: list[Row]) -> str | None:
    """IR size against source size, log-log, with the line IR = source."""
    shown = [row for row in rows if row.source_bytes and row.ir_bytes]
    if not shown:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    for index, row in enumerate(shown):
        axes.plot([row.source_bytes], [row.ir_bytes], "o", color=_colour(row),
                  gid=f"mark-size-{index}", label=_label(row))
    low = min(min(r.source_bytes, r.ir_bytes) for r in shown) / 2
    high = max(max(r.source_bytes, r.ir_bytes) for r in shown) * 2
    axes.plot([low, high], [low, high], "--", color="#999999", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("source size (bytes)")
    axes.set_ylabel("IR size, .xml + .bin (bytes)")
    axes.grid(alpha=0.3)
    return _svg(figure, "size")


def error_chart(rows: list[Row]) -> str | None:
    """Max error relative to range per model and precision (log scale), its tolerance as a
    tick beside it."""
    shown = [row for row in rows if row.max_rel_error is not None]
    if not shown:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 0.9 + 0.28 * len(shown)))
    floor = 1e-12  # an exact match (error 0) still gets a mark on a log axis
    for index, row in enumerate(shown):
        axes.plot([max(row.max_rel_error, floor)], [index], "o", color=_colour(row),
                  gid=f"mark-error-{index}")
        if row.tolerance:
            axes.plot([row.tolerance], [index], "|", color=TOLERANCE_COLOUR, markersize=14,
                      markeredgewidth=2)
    axes.set_yticks(range(len(shown)), [_label(row) for row in shown])
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("max error relative to the output's range (| = tolerance)")
    axes.grid(axis="x", alpha=0.3)
    return _svg(figure, "error")


def all_charts(rows: list[Row]) -> dict[str, str | None]:
    """Each chart's SVG by name (None when no row has its figure)."""
    return {"size": size_chart(rows),
            "convert": _bars(rows, lambda r: r.convert_seconds, "convert",
                             "conversion time (s)"),
            "error": error_chart(rows),
            "latency": _bars(rows, lambda r: r.latency_ms, "latency",
                             "OpenVINO CPU latency, batch 1 (ms)")}


def mark_count(rows: list[Row], chart: str) -> int:
    """How many marks `chart` draws for `rows` (what the page must show)."""
    value = {"size": lambda r: r.source_bytes and r.ir_bytes or None,
             "convert": lambda r: r.convert_seconds, "error": lambda r: r.max_rel_error,
             "latency": lambda r: r.latency_ms}[chart]
    return sum(value(row) is not None for row in rows)
