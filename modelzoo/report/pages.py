"""The report's HTML: the index (counts, the sortable table, the plots, the failures) and one
page per model. Plain strings, every value escaped; style and script inlined."""
from __future__ import annotations

import json
from html import escape

from ..summary import Row, human_bytes, short_reason
from .assets import CSS, JS
from .data import ModelDetail, PrecisionDetail

CHART_TITLES = {"size": "IR size against source size", "convert": "Conversion time",
                "error": "Max error against tolerance", "latency": "OpenVINO CPU latency"}


def _page(title: str, body: str, script: bool = False) -> str:
    tail = f"<script>{JS}</script>" if script else \
        "<script>document.body.setAttribute('data-ready', '1');</script>"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n"
            f"<body>\n{body}\n{tail}\n</body></html>\n")


def _num(value, text: str) -> str:
    raw = "" if value is None else repr(value)
    return f'<td class="num" data-value="{raw}">{escape(text)}</td>'


def _fmt(value, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def _row_class(row: Row) -> str:
    return "failed" if row.failed else ("skipped" if row.status == "skipped" else "ok")


def table_row(row: Row) -> str:
    status = escape(row.status)
    return (f'<tr class="{_row_class(row)}" data-status="{status}" data-model="{escape(row.model)}">'
            f'<td><a href="models/{escape(row.model)}.html">{escape(row.model)}</a></td>'
            f"<td>{escape(row.precision)}</td>"
            f'<td class="status {status.replace(" ", "-")}">{status}</td>'
            f"<td>{escape(row.framework or '-')}</td>"
            + _num(row.source_bytes, human_bytes(row.source_bytes))
            + _num(row.ir_bytes, human_bytes(row.ir_bytes))
            + _num(row.convert_seconds, _fmt(row.convert_seconds, "{:.3f} s"))
            + _num(row.max_rel_error, _fmt(row.max_rel_error, "{:.2e}"))
            + _num(row.tolerance, _fmt(row.tolerance, "{:.0e}"))
            + _num(row.latency_ms, _fmt(row.latency_ms, "{:.3f} ms")) + "</tr>")


HEADERS = ("model", "precision", "status", "framework", "source size", "IR size",
           "conversion", "max error", "tolerance", "latency")


def _results_table(rows: list[Row]) -> str:
    statuses = sorted({row.status for row in rows})
    options = "".join(f'<option value="{escape(s)}">{escape(s)}</option>' for s in statuses)
    heads = "".join(f'<th class="{"num" if i > 3 else ""}">{escape(h)}</th>'
                    for i, h in enumerate(HEADERS))
    return (f'<div class="filters"><input id="filter-text" type="search" placeholder="filter rows">'
            f' <select id="filter-status"><option value="">every status</option>{options}</select></div>'
            f'<table id="results" data-rows="{len(rows)}"><thead><tr>{heads}</tr></thead>'
            f"<tbody>{''.join(table_row(row) for row in rows)}</tbody></table>")


def index_page(manifest: str, generated: str, rows: list[Row], charts: dict[str, str | None]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    count_html = "".join(f"<span><b>{n}</b> {escape(s)}</span>" for s, n in counts.items())
    plots = "".join(f'<div class="chart" id="chart-{name}"><h3>{CHART_TITLES[name]}</h3>{svg}</div>'
                    for name, svg in charts.items() if svg)
    failed = [row for row in rows if row.failed]
    failures = "".join(f'<li><a href="models/{escape(r.model)}.html">{escape(r.model)}</a> '
                       f"{escape(r.precision)}: {escape(r.status)}: "
                       f"{escape(short_reason(r, manifest))}</li>" for r in failed)
    body = (f"<h1>Model zoo build</h1><p class=\"meta\">{escape(manifest)}, report of "
            f"{escape(generated)}</p><p class=\"counts\">{count_html}</p>"
            f"<h2>Results</h2>{_results_table(rows)}"
            + (f'<h2>Failures</h2><ul id="failures">{failures}</ul>' if failed else "")
            + f'<h2>Plots</h2><div class="charts">{plots}</div>')
    return _page("Model zoo build", body, script=True)


# -- a model's page ---------------------------------------------------------------------------
def _kv_table(items: dict) -> str:
    if not items:
        return '<p class="muted">none</p>'
    cells = "".join(f"<tr><th>{escape(str(k))}</th><td><code>{escape(_text(v))}</code></td></tr>"
                    for k, v in items.items())
    return f"<table>{cells}</table>"


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _e(value) -> str:
    return escape(str(value))


def _table_row(*cells: str) -> str:
    """One `<tr>` of cells already in HTML."""
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _types(item: dict) -> str:
    return f"{_e(item.get('source_element_type'))} / {_e(item.get('ir_element_type'))}"


def _ports(title: str, ports) -> str:
    rows = "".join(_table_row(escape(p.name), escape(p.element_type), _e(p.shape)) for p in ports)
    return (f"<h4>{title} (IR)</h4><table><tr><th>name</th><th>element type</th><th>shape</th>"
            f"</tr>{rows}</table>")


def _verify_section(report: dict | None) -> str:
    if not report:
        return '<p class="muted">no verify.json</p>'
    inputs = "".join(
        _table_row(_e(i.get("name")), _e(i.get("shape")), _types(i), _e(i.get("kind")),
                   f"[{i.get('low')}, {i.get('high')}]",
                   f"<code>{escape(_text(i.get('preprocessing')))}</code>")
        for i in report.get("inputs", []))
    outputs = "".join(
        _table_row(_e(o.get("name")), _e(o.get("shape")), _types(o), _e(o.get("max_abs_error")),
                   _e(o.get("max_rel_error")),
                   f"{'passed' if o.get('passed') else 'FAILED'} {escape(o.get('problem') or '')}")
        for o in report.get("outputs", []))
    reference = report.get("reference") or {}
    return (f"<p>{'passed' if report.get('passed') else '<b>failed</b>'}; tolerance "
            f"{report.get('tolerance')} ({escape(_text(report.get('tolerance_from')))}); reference "
            f"{escape(str(reference.get('runtime')))} {escape(str(reference.get('version')))} "
            f"({escape(str(reference.get('detail')))}); OpenVINO {escape(str(report.get('openvino')))}; "
            f"latency {report.get('latency_ms')} ms</p>"
            f"<h4>Inputs fed</h4><table><tr><th>name</th><th>shape</th><th>type source / IR</th>"
            f"<th>made as</th><th>range</th><th>preprocessing on the reference</th></tr>{inputs}</table>"
            f"<h4>Outputs compared</h4><table><tr><th>name</th><th>shape</th><th>type source / IR</th>"
            f"<th>max abs error</th><th>max error / range</th><th>verdict</th></tr>{outputs}</table>")


def _precision_section(detail: PrecisionDetail, manifest: str) -> str:
    row = detail.row
    parts = [f'<h2 id="{escape(row.precision)}">{escape(row.precision)}: '
             f'<span class="status">{escape(row.status)}</span></h2>']
    if row.reason:
        parts.append(f'<p class="failure">{escape(short_reason(row, manifest))}</p>')
    parts.append(f"<h3>Cache keys</h3>{_kv_table(detail.keys)}")
    if detail.ir:
        ops = "".join(f"<tr><td>{escape(k)}</td><td class=\"num\">{n}</td></tr>"
                      for k, n in detail.ir.ops.items())
        parts.append(f"<h3>IR</h3><p><code>{escape(str(detail.xml))}</code></p>"
                     + _ports("Inputs", detail.ir.inputs) + _ports("Outputs", detail.ir.outputs)
                     + f'<h4>Operations</h4><table class="ops">{ops}</table>')
    parts.append(f"<h3>Verification</h3>{_verify_section(detail.verify)}")
    return "".join(parts)


def model_page(model: ModelDetail, manifest: str) -> str:
    entry = model.entry
    body = (f'<p><a href="../index.html">all models</a></p><h1>{escape(entry.name)}</h1>'
            f"<p>{escape(entry.description)}</p>"
            f"<h2>Manifest entry</h2>{_kv_table(model.table)}"
            f"<h3>Flags as given</h3>{_kv_table(dict(entry.flags))}"
            f"<h3>Flags as normalized</h3><pre>{escape(json.dumps(model.flags_normalized, indent=1))}</pre>"
            + "".join(_precision_section(d, manifest) for d in model.precisions))
    return _page(entry.name, body)
