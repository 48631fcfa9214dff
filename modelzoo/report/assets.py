"""The report's style and script, inlined into every page (no network needed to view it)."""

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1b1b1b; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta, .muted { color: #666; }
.counts span { display: inline-block; margin-right: 14px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 4px 9px; border-bottom: 1px solid #e2e2e2; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
#results th { cursor: pointer; user-select: none; background: #f4f4f4; position: sticky; top: 0; }
#results th[data-sorted="asc"]::after { content: " \\25B2"; }
#results th[data-sorted="desc"]::after { content: " \\25BC"; }
tr.failed { background: #fdecea; } tr.failed td.status { color: #b71c1c; font-weight: 600; }
tr.skipped td { color: #888; }
td.status.verified { color: #1b5e20; }
.filters { margin: 10px 0; } .filters input, .filters select { font: inherit; padding: 3px 6px; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; }
.chart { border: 1px solid #e2e2e2; padding: 8px; } .chart svg { max-width: 100%; height: auto; }
.failure { background: #fdecea; border-left: 4px solid #c62828; padding: 6px 10px; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; }
"""

# Sort on a header click (numbers by data-value), filter by text and by status. The last line
# marks the page ready, so a headless browser can tell the script ran to the end.
JS = """
(function () {
  var table = document.getElementById('results');
  if (table) {
    var body = table.tBodies[0];
    var cellValue = function (row, index) {
      var cell = row.cells[index];
      var raw = cell.getAttribute('data-value');
      if (raw === null) { return cell.textContent.trim().toLowerCase(); }
      return raw === '' ? Infinity : parseFloat(raw);
    };
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
      header.addEventListener('click', function () {
        var ascending = header.getAttribute('data-sorted') !== 'asc';
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
          other.removeAttribute('data-sorted');
        });
        header.setAttribute('data-sorted', ascending ? 'asc' : 'desc');
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index), y = cellValue(b, index);
          var order = x < y ? -1 : (x > y ? 1 : 0);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
    var text = document.getElementById('filter-text');
    var status = document.getElementById('filter-status');
    var apply = function () {
      var needle = text.value.trim().toLowerCase();
      var wanted = status.value;
      var shown = 0;
      Array.prototype.forEach.call(body.rows, function (row) {
        var visible = (!needle || row.textContent.toLowerCase().indexOf(needle) >= 0) &&
                      (!wanted || row.getAttribute('data-status') === wanted);
        row.hidden = !visible;
        shown += visible ? 1 : 0;
      });
      table.setAttribute('data-shown', String(shown));
    };
    text.addEventListener('input', apply);
    status.addEventListener('change', apply);
    apply();
  }
  document.body.setAttribute('data-ready', '1');
})();
"""
