"""Builds that share a remote cache: machines, CI shards, a remote that fails, `doit cache`.

Two "machines" are two copies of a zoo folder, each with its own local `cache/`, sharing one
remote: a real S3 server on loopback (moto's, through s3fs) or a plain shared folder. A machine
that finds everything on the remote converts nothing: its doit process imports none of the heavy
libraries, and its IR is byte-identical to the first machine's.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from doit_runner import PROJECT, run_doit
from modelzoo.manifest import load_manifest
from modelzoo.tasks import select_shard
from s3server import S3Server, s3, s3_server  # noqa: F401 (fixtures)
from zoo_fixtures import cache_problems, ir_outputs

pytestmark = pytest.mark.slow

# Copies of the tiny ONNX model under other names (distinct IR, one shared archive), so a
# matrix of three shards has models to share out.
NAMES = ("tiny-cnn-onnx", "tiny-b", "tiny-c", "tiny-d", "tiny-e", "tiny-f")


def zoo_manifest(local_zoo: Path, folder: Path, remote: str | None = None, names=NAMES) -> Path:
    """A manifest of tiny ONNX models in FP32 (verified), in a folder of its own."""
    block = next(b for b in (local_zoo / "models.toml").read_text().split("\n\n")
                 if b.startswith('["tiny-cnn-onnx"]'))
    block = block.replace('url = "archives/', f'url = "{local_zoo.as_posix()}/archives/')
    block = re.sub(r'precisions = .*\n?', "", block)
    tables = [block.replace('["tiny-cnn-onnx"]', f'["{name}"]', 1) for name in names]
    remote_line = f'remote_cache = "{remote}"\n' if remote else ""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "models.toml"
    manifest.write_text(f'[defaults]\nprecisions = ["FP32"]\n{remote_line}\n' + "\n\n".join(tables) + "\n")
    return manifest


def machine(tmp_path: Path, name: str, local_zoo: Path, remote: str | None, names=NAMES) -> Path:
    return zoo_manifest(local_zoo, tmp_path / name, remote, names)


def assert_restored_only(run) -> None:
    """The run succeeded and converted, verified and unpacked nothing itself."""
    assert run.code == 0, run.out + run.err
    assert run.heavy == [], f"a restoring build imported {run.heavy}"


def test_a_second_machine_restores_everything_from_s3(tmp_path, local_zoo, s3):
    url = s3.new_bucket()
    first = machine(tmp_path, "first", local_zoo, url)
    built = run_doit("convert", manifest=first)
    assert built.code == 0, built.out + built.err
    assert any(key.startswith("ir/") for key in s3.objects(url))

    second = machine(tmp_path, "second", local_zoo, url)
    restored = run_doit("convert", manifest=second)
    assert_restored_only(restored)
    assert ir_outputs(second) == ir_outputs(first)
    for name in NAMES:
        assert (second.parent / f"ir/{name}/FP32/verify.json").read_bytes() == \
            (first.parent / f"ir/{name}/FP32/verify.json").read_bytes()
    assert cache_problems(second.parent / "cache") == []
    # only what the outputs need came over: no archive, no unpacked tree, no prepared model
    fetched = {p.name for p in (second.parent / "cache").iterdir()} - {"locks"}
    assert fetched == {"ir", "verify"}, fetched
    again = run_doit("convert", manifest=second)
    assert again.code == 0 and again.executed("convert:") == set()


def test_a_shard_matrix_then_one_build_that_converts_nothing(tmp_path, local_zoo, s3):
    url = s3.new_bucket()
    built: dict[str, set[str]] = {}
    for k in (1, 2, 3):
        manifest = machine(tmp_path, f"shard{k}", local_zoo, url)
        run = run_doit("convert", f"shard={k}/3", manifest=manifest)
        assert run.code == 0, run.out + run.err
        built[k] = {p.parent.parent.name for p in (manifest.parent / "ir").glob("*/FP32/*.xml")} \
            if (manifest.parent / "ir").is_dir() else set()
        expected = {e.name for e in select_shard(load_manifest(manifest).models, f"{k}/3", manifest)}
        assert built[k] == expected
        summarized = {line.split()[0] for line in run.out.splitlines()
                      if line.startswith("  ") and line.split()[0] in NAMES}
        assert summarized == expected  # the summary's rows: this shard's models only
    assert set().union(*built.values()) == set(NAMES)
    assert sum(len(v) for v in built.values()) == len(NAMES)  # disjoint

    final = machine(tmp_path, "final", local_zoo, url)
    run = run_doit("convert", manifest=final)
    assert_restored_only(run)
    assert len(ir_outputs(final)) == 2 * len(NAMES)
    for k, names in built.items():
        shard_outputs = ir_outputs(tmp_path / f"shard{k}" / "models.toml")
        assert {path: data for path, data in ir_outputs(final).items()
                if path.split("/")[0] in names} == shard_outputs


def test_shards_are_stable_when_models_are_added(tmp_path, local_zoo):
    small = load_manifest(zoo_manifest(local_zoo, tmp_path / "small", names=NAMES[:3])).models
    # the new models come first: a model's shard must not depend on its place in the manifest
    large = load_manifest(zoo_manifest(local_zoo, tmp_path / "large", names=NAMES[3:] + NAMES[:3])).models
    for k in ("1/4", "2/4", "3/4", "4/4"):
        before = {e.name for e in select_shard(small, k, tmp_path)}
        after = {e.name for e in select_shard(large, k, tmp_path)}
        assert before == after & set(NAMES[:3])


@pytest.mark.parametrize("shard", ["0/3", "4/3", "two", "1/0"])
def test_a_bad_shard_is_a_clear_error(tmp_path, local_zoo, shard):
    manifest = zoo_manifest(local_zoo, tmp_path / "zoo", names=NAMES[:1])
    run = run_doit("list", f"shard={shard}", manifest=manifest)
    assert run.code != 0
    assert f"shard={shard!r}" in run.err and "expected K/N with 1 <= K <= N" in run.err
    assert "Traceback" not in run.err


def test_doit_list_shows_a_shards_models_only(tmp_path, local_zoo):
    manifest = zoo_manifest(local_zoo, tmp_path / "zoo")
    run = run_doit("list", "--all", "shard=2/3", manifest=manifest)
    listed = {line.split()[0].split(":", 1)[1] for line in run.out.splitlines()
              if line.startswith("convert:") and "-FP32" not in line}
    assert listed == {e.name for e in select_shard(load_manifest(manifest).models, "2/3", manifest)}


def test_a_remote_that_goes_away_mid_build_leaves_a_complete_local_build(tmp_path, local_zoo):
    server = S3Server()
    url = server.new_bucket()
    env_run = dict(server.env)
    manifest = machine(tmp_path, "zoo", local_zoo, url)
    process = _start_doit(manifest, env_run)
    try:
        deadline = time.monotonic() + 120
        while not any(key.startswith("ir/") for key in server.objects(url)):
            assert process.poll() is None, "the build ended before its first upload"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        server.stop()  # the remote goes away with most of the build still to do
        out, err = process.communicate(timeout=300)
    finally:
        server.stop()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out + err
    assert err.count("is unavailable") == 1, err  # one warning, then local only
    assert len(ir_outputs(manifest)) == 2 * len(NAMES)
    assert cache_problems(manifest.parent / "cache") == []
    reference = machine(tmp_path, "reference", local_zoo, None)
    assert run_doit("convert", manifest=reference).code == 0
    assert ir_outputs(manifest) == ir_outputs(reference)


def _start_doit(manifest: Path, env: dict[str, str]) -> subprocess.Popen:
    import os

    return subprocess.Popen([sys.executable, "-m", "doit", "-f", str(PROJECT / "dodo.py"), "convert",
                             f"manifest={manifest}"], cwd=PROJECT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env})


def test_a_corrupted_remote_ir_is_detected_rebuilt_and_uploaded_again(tmp_path, local_zoo, s3):
    url = s3.new_bucket()
    first = machine(tmp_path, "first", local_zoo, url, names=NAMES[:1])
    assert run_doit("convert", manifest=first).code == 0
    xml = (first.parent / "ir/tiny-cnn-onnx/FP32/tiny-cnn-onnx.xml").read_bytes()
    import hashlib

    blob = hashlib.sha256(xml).hexdigest()
    s3.put(url, f"blobs/{blob[:2]}/{blob[2:]}", xml.replace(b"Convolution", b"Convolutiom"))

    second = machine(tmp_path, "second", local_zoo, url, names=NAMES[:1])
    run = run_doit("convert", manifest=second)
    assert run.code == 0, run.out + run.err
    assert "is damaged" in run.err and "does not match its record" in run.err
    assert "onnx" in run.heavy, "the damaged IR must be converted again, not trusted"
    assert ir_outputs(second) == ir_outputs(first)

    third = machine(tmp_path, "third", local_zoo, url, names=NAMES[:1])
    run = run_doit("convert", manifest=third)
    assert_restored_only(run)
    assert "is damaged" not in run.err
    assert ir_outputs(third) == ir_outputs(first)


def test_cache_push_then_pull_on_a_fresh_machine(tmp_path, local_zoo):
    shared = (tmp_path / "shared").as_uri()
    first = machine(tmp_path, "first", local_zoo, None, names=NAMES[:2])
    assert run_doit("convert", manifest=first).code == 0
    pushed = _doit_cache(first, "push", remote=shared)
    assert pushed.returncode == 0, pushed.stderr
    count = int(re.search(r"(\d+) entries uploaded", pushed.stdout)[1])
    assert count == 1 + 1 + 1 + 2 + 2  # the shared archive, its tree and prepared model; 2 IR, 2 verdicts
    again = _doit_cache(first, "push", remote=shared)
    assert "0 entries uploaded" in again.stdout

    second = machine(tmp_path, "second", local_zoo, None, names=NAMES[:2])
    pulled = _doit_cache(second, "pull", remote=shared)
    assert pulled.returncode == 0, pulled.stderr
    assert "0 not on the remote" in pulled.stdout
    # with the remote switched off, the pulled cache alone rebuilds nothing
    run = run_doit("convert", manifest=second)
    assert_restored_only(run)
    assert ir_outputs(second) == ir_outputs(first)


def test_cache_gc_keeps_what_the_manifest_needs(tmp_path, local_zoo):
    shared = (tmp_path / "shared").as_uri()
    both = machine(tmp_path, "both", local_zoo, shared, names=NAMES[:2])
    assert run_doit("convert", manifest=both).code == 0
    one = machine(tmp_path, "one", local_zoo, shared, names=NAMES[:1])
    kept = _doit_cache(one, "gc")
    assert kept.returncode == 0 and "0 entries and 0 files deleted" in kept.stdout
    time.sleep(1.1)  # S3 times are whole seconds
    collected = _doit_cache(one, "gc", "--keep-days", "0")
    assert collected.returncode == 0, collected.stderr
    deleted = int(re.search(r"(\d+) entries and", collected.stdout)[1])
    assert deleted == 2  # tiny-b's IR and verdict (its archive, tree and prepared model are shared)
    fresh = machine(tmp_path, "fresh", local_zoo, shared, names=NAMES[:1])
    assert_restored_only(run_doit("convert", manifest=fresh))


def test_cache_command_without_a_remote_says_how_to_set_one(tmp_path, local_zoo):
    manifest = machine(tmp_path, "zoo", local_zoo, None, names=NAMES[:1])
    result = _doit_cache(manifest, "push")
    assert result.returncode == 3
    assert "names no remote cache" in result.stderr and "MODELZOO_REMOTE_CACHE" in result.stderr
    assert _doit_cache(manifest, "upload").returncode == 3


def _doit_cache(manifest: Path, *args: str, remote: str | None = None) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k != "MODELZOO_REMOTE_CACHE"}
    if remote:
        env["MODELZOO_REMOTE_CACHE"] = remote
    return subprocess.run([sys.executable, "-m", "doit", "cache", *args, f"manifest={manifest}"],
                          cwd=PROJECT, capture_output=True, text=True, env=env, timeout=300)


def test_remote_cache_in_the_manifest_is_checked(tmp_path, local_zoo):
    manifest = zoo_manifest(local_zoo, tmp_path / "zoo", names=NAMES[:1])
    text = manifest.read_text()
    manifest.write_text(text.replace("[defaults]\n", "[defaults]\nremote_cache = 42\n"))
    run = run_doit("list", manifest=manifest)
    assert run.code != 0 and "'remote_cache'" in run.err and "expected a URL" in run.err
    manifest.write_text(text.replace("[defaults]\n", '[defaults]\nremote_cache = "../remote-store"\n'))
    assert load_manifest(manifest).remote_cache == (tmp_path / "remote-store").resolve().as_uri()
    assert "Traceback" not in run.err


def test_no_op_with_a_remote_imports_nothing_of_it(tmp_path, local_zoo, s3):
    manifest = machine(tmp_path, "zoo", local_zoo, s3.new_bucket(), names=NAMES[:1])
    assert run_doit("convert", manifest=manifest).code == 0
    run = run_doit("convert", manifest=manifest)
    assert run.code == 0 and run.executed("convert:") == set()
    assert run.heavy == []
    probe = subprocess.run([sys.executable, "-c", _NO_S3FS, "-f", str(PROJECT / "dodo.py"), "convert",
                            f"manifest={manifest}"], cwd=PROJECT, capture_output=True, text=True)
    assert probe.returncode == 0 and "IMPORTED= []" in probe.stderr, probe.stderr


_NO_S3FS = """
import sys
from doit.doit_cmd import DoitMain
code = DoitMain().run(sys.argv[1:])
print("IMPORTED=", sorted(m for m in ("fsspec", "s3fs", "botocore", "dask", "distributed") if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""

