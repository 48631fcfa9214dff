"""`doit report`: the page opened in a real headless browser, the model pages, zoo.json and
junit.xml (validated against the JUnit schema CI systems read), from a real build."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree, html

from doit_runner import run_doit
from modelzoo.report.charts import CHARTS
from modelzoo.summary import Row
from modelzoo.tasks import ZooTasks
from report_zoo import EXPECTED, FAILING, SKIPPED, built_zoo

pytestmark = pytest.mark.slow
SCHEMA = Path(__file__).parent / "data" / "junit.xsd"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FAILED = {"failed verification", "failed conversion", "could not verify"}


@pytest.fixture(scope="module")
def report(local_zoo, tmp_path_factory) -> Path:
    manifest, _ = built_zoo("failing", local_zoo, tmp_path_factory.getbasetemp() / "report-zoos")
    run = run_doit("report", manifest=manifest)
    assert run.code == 0, run.out + run.err
    assert "Summary of" not in run.out, "the summary belongs to builds"
    return manifest.parent / "report"


def browser(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)


def open_page(page: Path):
    """The DOM after the page's script ran, and what the browser logged."""
    done = browser("--virtual-time-budget=3000", "--dump-dom", page.as_uri())
    return html.fromstring(done.stdout), done.stderr


def screenshot(page: Path, target: Path, size: str = "1300,1500") -> Path:
    browser(f"--window-size={size}", f"--screenshot={target}", page.as_uri())
    return target


def script_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def test_the_page_shows_every_row_the_failures_and_the_plots(report, tmp_path):
    rows = [Row.from_dict(r) for r in json.loads((report / "zoo.json").read_text())["results"]]
    dom, log = open_page(report / "index.html")
    assert dom.body.get("data-ready") == "1" and script_errors(log) == []
    table = dom.get_element_by_id("results")
    shown = {tr.get("data-model"): tr for tr in table.xpath("./tbody/tr")}
    assert {m: tr.get("data-status") for m, tr in shown.items()} == EXPECTED
    assert table.get("data-shown") == str(len(EXPECTED))
    for model, tr in shown.items():
        assert ("failed" in tr.get("class").split()) == (EXPECTED[model] in FAILED)
    assert set(dom.xpath("//ul[@id='failures']/li/a/text()")) == set(FAILING)
    for chart in CHARTS:
        svg = dom.xpath(f"//svg[@data-chart='{chart}']")
        assert len(svg) == 1, chart
        marks = svg[0].xpath(f".//*[starts-with(@id, 'mark-{chart}-')]")
        expected = {"size": lambda r: r.source_bytes and r.ir_bytes or None,
                    "convert": lambda r: r.convert_seconds, "error": lambda r: r.max_rel_error,
                    "latency": lambda r: r.latency_ms}[chart]
        assert len(marks) == sum(expected(r) is not None for r in rows) > 0, chart
    assert screenshot(report / "index.html", tmp_path / "index.png").stat().st_size > 10_000


def test_a_model_page_tells_its_entry_ir_checks_and_keys(report):
    dom, log = open_page(report / "models" / "tiny-strict.html")
    assert dom.body.get("data-ready") == "1" and script_errors(log) == []
    text = dom.text_content()
    zoo = ZooTasks(report.parent / "models.toml")
    entry = zoo.manifest["tiny-strict"]
    for key in (zoo.prepare_key(entry), zoo.ir_key(entry, "FP32"), zoo.verify_key(entry, "FP32")):
        assert key in text
    normalized = json.loads(entry.flags_key())
    assert normalized and all(json.dumps(key) in text for key in normalized)  # as normalized
    assert "disable_fusing" in text and "true" in text  # as given
    ops = {tr[0].text: int(tr[1].text) for tr in dom.xpath("//table[@class='ops']//tr")}
    xml = (report.parent / "ir/tiny-strict/FP32/tiny-strict.xml").read_text()
    assert ops and all(xml.count(f'type="{op}"') == n for op, n in ops.items())
    assert ops["Parameter"] == 1 and "[1, 3, 32, 32]" in text and "f32" in text
    assert "failed verification" in text and "tolerance 1e-12" in text
    assert "onnxruntime" in text  # the reference and its version


def test_zoo_json_holds_the_table(report):
    data = json.loads((report / "zoo.json").read_text())
    assert data["schema"] == "modelzoo-report/1" and data["total"] == len(EXPECTED)
    results = {r["model"]: r for r in data["results"]}
    assert {m: r["status"] for m, r in results.items()} == EXPECTED
    assert results["tiny-cnn-onnx"]["passed"] is True and results[SKIPPED[0]]["passed"] is None
    assert results["tiny-strict"]["passed"] is False and results["tiny-strict"]["reason"]
    assert data["failed"] == len(FAILING)


def test_junit_xml_is_valid_and_reads_as_a_test_run(report):
    document = etree.parse(str(report / "junit.xml"))
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    assert schema.validate(document), schema.error_log
    cases = {c.get("classname").split(".", 1)[1]: c for c in document.iter("testcase")}
    assert cases.keys() == EXPECTED.keys()
    for model, case in cases.items():
        failure, skipped = case.find("failure"), case.find("skipped")
        assert (failure is not None) == (EXPECTED[model] in FAILED)
        assert (skipped is not None) == (model == SKIPPED[0])
    assert "no_such_node" in cases["tiny-bad-output"].find("failure").get("message")
    suite = document.getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == \
        (str(len(EXPECTED)), str(len(FAILING)), "1")


def test_the_report_files_are_written_whole(report):
    assert not [p for p in report.rglob("*") if p.name.endswith(".tmp")]
