"""The shipped `models.toml`, tried offline: each buildable entry keeps every key but where its
file comes from (`url`, `sha256`, `size`), which points at a loopback-served stand-in with the
real file's layout and node names (see `standins.py`). So the entries' own flags (`model`,
`input`, `input_shape`, `mean_values`, `scale_values`, `reverse_input_channels`, `output`) go
through the whole pipeline unchanged. Entries marked `skip` must be neither downloaded nor
built, and the run must say why."""
from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path

import pytest

from doit_runner import run_doit
from httpserver import serving
from standins import MOBILENET, RESNET, SSD_ARCHIVES, build_standins

pytestmark = pytest.mark.slow

SHIPPED = Path(__file__).resolve().parent.parent / "models.toml"
BUILT = (MOBILENET, RESNET, *SSD_ARCHIVES)
SKIPPED = ("ssd_mobilenet_v1_fpn_coco", "ssd-resnet34-1200-onnx")
PRECISIONS = ("FP32", "FP16")
DOWNLOAD_KEYS = ("url", "sha256", "sha384", "size")
_HEADER = re.compile(r"^\[\s*\"?([^\]\"]+)\"?\s*\]\s*$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


# -- editing the manifest's text, line by line, so every other key stays as written ----------
def table_of_each_line(text: str) -> list[tuple[str | None, str]]:
    """Each line with the name of the table it belongs to (None before the first table)."""
    table, lines = None, []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            table = header.group(1).strip()
        lines.append((table, line))
    return lines


def with_values(text: str, table: str, values: dict[str, object]) -> str:
    """`text` with the given keys of `table` set to `values`; each key must be there already."""
    out, replaced = [], set()
    for owner, line in table_of_each_line(text):
        key = _KEY.match(line)
        if owner == table and key and key.group(1) in values:
            name = key.group(1)
            line = f"{name} = {json.dumps(values[name])}"
            replaced.add(name)
        out.append(line)
    missing = set(values) - replaced
    assert not missing, f"[{table}] of {SHIPPED} has no {sorted(missing)}"
    return "\n".join(out) + "\n"


def without_tables(text: str, tables: tuple[str, ...]) -> str:
    return "\n".join(line for owner, line in table_of_each_line(text) if owner not in tables) + "\n"


def download_keys(url: str, data: bytes, algo: str) -> dict[str, object]:
    """Where the stand-in comes from, with its checksum in the entry's own algorithm."""
    return {"url": url, algo: hashlib.new(algo, data).hexdigest(), "size": len(data)}


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def standin_files(tmp_path_factory) -> dict[str, Path]:
    return build_standins(tmp_path_factory.mktemp("standins"))


@pytest.fixture(scope="module")
def server(standin_files):
    """Serves each stand-in under the real file's name; nothing is served for the skipped."""
    with serving() as files:
        for name, path in standin_files.items():
            files.add(f"/{name}/{path.name}", path.read_bytes())
        yield files


def unserved_path(name: str) -> str:
    return f"/never-served/{name}/model"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, server, standin_files) -> dict[str, Path]:
    """Two manifests in one folder (so they share the cache, outputs and doit state): the
    shipped one with stand-ins for its buildable entries, and the same without the skipped."""
    folder = tmp_path_factory.mktemp("shipped-zoo")
    text = SHIPPED.read_text()
    shipped = tomllib.loads(text)
    for name, path in standin_files.items():
        algo = "sha384" if "sha384" in shipped[name] else "sha256"
        text = with_values(text, name, download_keys(server.url(f"/{name}/{path.name}"),
                                                     path.read_bytes(), algo))
    for name in SKIPPED:
        text = with_values(text, name, {"url": server.url(unserved_path(name))})
    manifests = {"all": folder / "models.toml", "built": folder / "buildable.toml"}
    manifests["all"].write_text(text)
    manifests["built"].write_text(without_tables(text, SKIPPED))
    return manifests


@pytest.fixture(scope="module")
def build(zoo):
    return run_doit("convert", manifest=zoo["built"], timeout=300)


@pytest.fixture(scope="module")
def run_with_skipped(zoo, build):
    return run_doit("convert", manifest=zoo["all"], timeout=300)


def doit_output(run) -> str:
    return f"exit status {run.code}\n--- stdout\n{run.out}\n--- stderr\n{run.err}"


# -- tests -------------------------------------------------------------------------------------
def test_only_where_the_files_come_from_changes(zoo):
    shipped = tomllib.loads(SHIPPED.read_text())
    tried = tomllib.loads(zoo["all"].read_text())
    assert tried.keys() == shipped.keys()
    for name, table in shipped.items():
        kept = {k: v for k, v in table.items() if k not in DOWNLOAD_KEYS}
        assert {k: v for k, v in tried[name].items() if k not in DOWNLOAD_KEYS} == kept, name
    for name in SKIPPED:
        assert shipped[name].get("skip"), f"{name} should carry `skip = \"reason\"` in {SHIPPED}"


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", BUILT)
def test_each_buildable_entry_converts_and_verifies_from_its_standin(zoo, server, build, name,
                                                                     precision):
    folder = zoo["built"].parent / "ir" / name / precision
    failed = [line for line in (build.out + build.err).splitlines()
              if line.startswith("TaskFailed") and f":{name}" in line]
    assert not failed, doit_output(build)
    assert (folder / f"{name}.xml").is_file() and (folder / f"{name}.bin").is_file()
    report = json.loads((folder / "verify.json").read_text())
    assert report["passed"] is True, json.dumps(report, indent=1)
    assert any(r.path.startswith(f"/{name}/") for r in server.log), "not fetched over loopback"


def test_the_buildable_manifest_builds_without_failures(build):
    assert build.code == 0, doit_output(build)


def test_skipped_entries_are_not_downloaded_and_the_run_says_why(zoo, server, run_with_skipped):
    run = run_with_skipped
    text = run.out + run.err
    assert run.code == 0, doit_output(run)
    for name in SKIPPED:
        assert server.requests_for(unserved_path(name)) == [], f"{name} was downloaded"
        assert not run.executed(f"download:{name}"), f"doit ran download:{name}"
        assert not (zoo["all"].parent / "ir" / name).exists()
        reason = tomllib.loads(SHIPPED.read_text())[name]["skip"]
        said = [line for line in text.splitlines()
                if name in line and "skip" in line.lower() and reason in line]
        assert said, f"no line says {name} is skipped, and why:\n{doit_output(run)}"
    for name in BUILT:
        for precision in PRECISIONS:
            report = zoo["all"].parent / "ir" / name / precision / "verify.json"
            assert json.loads(report.read_text())["passed"] is True
