"""Open Model Zoo's model.yml files as manifests (modelzoo.omz), read unchanged.

The ymls in tests/data/omz are Open Model Zoo's own; `omz_standins.mirror` serves stand-in files
on loopback and rewrites only their source, size and checksum, as a mirror of the files would.
"""
from __future__ import annotations

import json
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from doit_runner import run_doit
from httpserver import serving
from modelzoo.errors import ArchiveError, ManifestError
from modelzoo.manifest import load_manifest
from modelzoo.omz.assemble import PostprocessingError, regex_step
from modelzoo.omz.mo_args import translate
from omz_standins import OMZ_MODELS, mirror

BUILT = ["googlenet-v3", "mobilenet-v1-0.25-128", "mobilenet-v2-1.0-224", "open-closed-eye-0001",
         "resnet-50-tf", "ssdlite_mobilenet_v2"]
SKIPPED = ["resnet-50-pytorch"]
PRECISIONS = ("FP16", "FP32")


@pytest.fixture(scope="module")
def server():
    with serving() as files:
        yield files


def publisher(server):
    def publish(path: str, data: bytes) -> str:
        server.add(path, data)
        return server.url(path)
    return publish


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, server):
    """A clone-like tree with the mirrored ymls and a small TOML pointing at it."""
    root = tmp_path_factory.mktemp("omz")
    mirror(root / "open_model_zoo" / "models" / "public", publisher(server))
    (root / "omz.toml").write_text('open_model_zoo = "open_model_zoo/models/public"\n'
                                   '[defaults]\noutput_dir = "out"\n')
    return root


# -- reading the files ------------------------------------------------------------------------

def test_the_copied_ymls_are_open_model_zoos_own(zoo):
    """The mirror changed nothing but source, size and checksum lines."""
    for folder in OMZ_MODELS.iterdir():
        original = (folder / "model.yml").read_text().splitlines()
        mirrored = (zoo / "open_model_zoo/models/public" / folder.name / "model.yml").read_text().splitlines()
        assert len(original) == len(mirrored)
        changed = [b for a, b in zip(original, mirrored) if a != b]
        assert all(re.match(r"\s+(source|size|checksum): ", line) for line in changed), changed
        assert original[0].startswith("# Copyright")


def test_each_yml_becomes_an_entry_with_mo_flags(zoo):
    manifest = load_manifest(zoo / "omz.toml")
    entries = {e.name: e for e in manifest.models}
    assert sorted(entries) == sorted(BUILT + SKIPPED)
    mobilenet = entries["mobilenet-v2-1.0-224"]
    assert (mobilenet.framework, mobilenet.model) == ("tf", "mobilenet_v2_1.0_224_frozen.pb")
    assert dict(mobilenet.flags) == {
        "input": "input", "input_shape": "[1,224,224,3]", "reverse_input_channels": True,
        "mean_values": "input[127.5,127.5,127.5]", "scale_values": "input[127.5]",
        "output": "MobilenetV2/Predictions/Reshape_1"}
    assert [f.name for f in mobilenet.files] == ["mobilenet_v2_1.0_224.tgz"]
    assert mobilenet.files[0].checksum.algo == "sha384"
    assert [dict(s) for s in mobilenet.postprocessing] == [
        {"$type": "unpack_archive", "file": "mobilenet_v2_1.0_224.tgz", "format": "gztar"}]
    assert mobilenet.info["license"].startswith("https://") and mobilenet.info["task_type"] == "classification"
    ssd = entries["ssdlite_mobilenet_v2"]
    assert ssd.flags["transformations_config"] == "ssd_v2_support.json"
    assert ssd.model == "ssdlite_mobilenet_v2_coco_2018_05_09/frozen_inference_graph.pb"
    assert "PyTorch" in entries["resnet-50-pytorch"].skip
    assert all(e.precisions == ("FP32", "FP16") for e in entries.values())
    assert manifest.output_dir == zoo / "out"


def test_mo_arguments_are_substituted_as_string_template_does():
    out = translate(["--input_model=$dl_dir/a/b.pb", "--mean_values=[1,$$2]", "--input_model_is",
                     "--transformations_config=$mo_ext_dir/front/tf/ssd_v2_support.json"], "/cfg")
    assert out.model == "a/b.pb" and out.flags["mean_values"] == "[1,$2]"
    assert out.flags["transformations_config"] == "ssd_v2_support.json"
    assert out.flags["input_model_is_text"] is True  # a unique prefix, as mo's argparse allows
    assert translate(["--input_meta=$dl_dir/m/model.ckpt.meta"], "/cfg").model == "m/model.ckpt.meta"
    assert translate(["--saved_model_dir=$conv_dir/x.savedmodel"], "/cfg").unsupported


def test_a_model_optimizer_flag_the_converter_lacks_is_reported_not_malformed():
    """A yml asking for a layout change (--layout): well-formed, not buildable yet."""
    out = translate(["--layout=data(nchw)", "--output=embeddings"], "/cfg")
    assert "--layout" in out.unsupported
    assert "layout" not in out.flags and out.flags["output"] == "embeddings"


def test_freezing_a_placeholder_is_one_of_our_flags():
    """facenet's and deepspeech's ymls freeze a placeholder, which the converter does."""
    out = translate(["--freeze_placeholder_with_value=phase_train->False", "--output=embeddings"],
                    "/cfg")
    assert out.unsupported is None
    assert out.flags == {"freeze_placeholder_with_value": "phase_train->False",
                         "output": "embeddings"}


# -- building ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(zoo):
    first = run_doit("convert", manifest=zoo / "omz.toml")
    return first


@pytest.mark.slow
def test_every_model_builds_and_verifies_in_omz_layout(zoo, built):
    assert built.code == 0, built.out + built.err
    for name in BUILT:
        for precision in PRECISIONS:
            folder = zoo / "out" / "public" / name / precision
            assert (folder / f"{name}.xml").is_file() and (folder / f"{name}.bin").is_file()
            report = json.loads((folder / "verify.json").read_text())
            assert report["passed"], (name, precision, report)
    assert not (zoo / "out" / "public" / "resnet-50-pytorch").exists()
    # The download cache is keyed by the yml's own checksum (sha384).
    downloads = {p.parent.parent.name + p.parent.name for p in (zoo / "cache/downloads/sha384").glob("*/*/*")}
    yml = (zoo / "open_model_zoo/models/public/resnet-50-tf/model.yml").read_text()
    assert re.search(r"checksum: ([0-9a-f]{96})", yml).group(1) in downloads
    assert re.search(r"resnet-50-pytorch\s+FP32\s+skipped", built.out), built.out


@pytest.mark.slow
def test_a_second_run_does_nothing(zoo, built):
    again = run_doit("convert", manifest=zoo / "omz.toml")
    assert again.code == 0, again.err
    assert again.executed("download") == set()
    # The skipped model reports itself on every run; nothing is converted.
    assert again.executed("convert:") == {"convert:resnet-50-pytorch"}
    assert again.executed("verify") == set() and again.heavy == []


@pytest.mark.slow
def test_a_folder_or_one_yml_is_a_manifest_too(tmp_path, zoo, built):
    """Given directly, the build's own files go to omz/ in the current folder, not into the
    Open Model Zoo clone; the download cache is ./cache."""
    yml = zoo / "open_model_zoo/models/public/open-closed-eye-0001/model.yml"
    run = run_doit("convert", manifest=yml, cwd=tmp_path)
    assert run.code == 0, run.out + run.err
    for precision in PRECISIONS:
        assert (tmp_path / f"omz/ir/public/open-closed-eye-0001/{precision}/open-closed-eye-0001.xml").is_file()
    assert (tmp_path / "omz/.doit.db").exists() and (tmp_path / "cache").is_dir()
    assert sorted(p.name for p in yml.parent.iterdir()) == ["model.yml"]


# -- malformed files fail their model alone ----------------------------------------------------

GOOD = "mobilenet-v1-0.25-128"
# (what breaks, the text replaced in the good yml, its replacement, the key the error names)
BREAKS = [
    ("absolute file name", "- name: mobilenet_v1_0.25_128.tgz", "- name: /etc/model.tgz", "files #0 name"),
    ("parent traversal", "- name: mobilenet_v1_0.25_128.tgz", "- name: ../model.tgz", "files #0 name"),
    ("bad checksum", "checksum: ", "checksum: abc", "files #0 checksum"),
    ("unknown checksum type", "checksum: ", "checksum: {$type: md5, value: 00}\n    x_checksum: ", "files #0 checksum"),
    ("unknown source type", "    source: ", "    source: {$type: ftp, url: x}\n    x_source: ", "files #0 source"),
    ("negative size", "size: ", "size: -1\n    x_size: ", "files #0 size"),
    ("unknown variable", "--input_model=$dl_dir/", "--input_model=$download_dir/", "model_optimizer_args"),
    ("unknown flag", "--reverse_input_channels", "--reverse_input_chanels_typo", "model_optimizer_args"),
    ("unknown postprocessing", "$type: unpack_archive", "$type: unzip_it", "postprocessing #0"),
    ("unknown archive format", "format: gztar", "format: rar", "postprocessing #0 format"),
    ("no framework", "framework: tf", "", "framework"),
    ("not yaml", "files:", "files: [", "(file)"),
]


def _broken_copy(zoo: Path, target: Path, name: str, old: str, new: str) -> Path:
    text = (zoo / "open_model_zoo/models/public" / GOOD / "model.yml").read_text()
    assert old in text, old
    folder = target / name.replace(" ", "-")
    folder.mkdir(parents=True)
    (folder / "model.yml").write_text(text.replace(old, new, 1))
    return folder / "model.yml"


@pytest.mark.parametrize("what,old,new,key", BREAKS, ids=[b[0] for b in BREAKS])
def test_a_malformed_yml_names_its_file_and_key(tmp_path, zoo, what, old, new, key):
    yml = _broken_copy(zoo, tmp_path, what, old, new)
    [entry] = load_manifest(yml).models
    assert entry.error, what
    assert str(yml) in entry.error and f"key {key!r}" in entry.error, entry.error


def test_a_pytorch_model_without_its_onnx_export_args_is_malformed(tmp_path):
    text = (OMZ_MODELS / "resnet-50-pytorch/model.yml").read_text()
    folder = tmp_path / "resnet-50-pytorch"
    folder.mkdir()
    (folder / "model.yml").write_text(re.sub(r"conversion_to_onnx_args:\n(  - .*\n)+", "", text))
    [entry] = load_manifest(folder).models
    assert "conversion_to_onnx_args" in entry.error


def test_google_drive_and_pre_convert_are_reported_not_failed(tmp_path, zoo):
    drive = _broken_copy(zoo, tmp_path, "drive", "    source: ", "    source: {$type: google_drive, id: 1AbC}\n    x_source: ")
    [entry] = load_manifest(drive).models
    assert entry.error is None and "Google Drive" in entry.skip
    pre = _broken_copy(zoo, tmp_path, "pre", "framework: tf", "framework: tf")
    (pre.parent / "pre-convert.py").write_text("# exports the model with TensorFlow\n")
    [entry] = load_manifest(pre).models
    assert "pre-convert.py" in entry.skip


@pytest.mark.slow
def test_broken_models_fail_alone_while_the_others_build(tmp_path, zoo, server):
    public = tmp_path / "public"
    mirror(public, publisher(server), models=[GOOD])
    _broken_copy(zoo, public, "bad-checksum", "checksum: ", "checksum: abc")
    # Well-formed, but its regex_replace finds nothing in the downloaded file: fails when built.
    text = (public / GOOD / "model.yml").read_text().replace(
        "input_info:", "  - $type: regex_replace\n    file: README\n    pattern: NOT THERE\n"
                       "    replacement: x\ninput_info:", 1)
    (public / "no-match").mkdir()
    (public / "no-match" / "model.yml").write_text(text)
    run = run_doit("convert", manifest=public, cwd=tmp_path)
    assert run.code != 0
    assert (tmp_path / f"omz/ir/public/{GOOD}/FP32/{GOOD}.xml").is_file()
    assert re.search(r"bad-checksum\s+FP32\s+failed conversion", run.out), run.out
    assert "files #0 checksum" in run.out and str(public / "bad-checksum" / "model.yml") in run.out
    assert "pattern 'NOT THERE' matches nothing" in run.out + run.err


def test_two_ymls_naming_one_model_are_refused(tmp_path, zoo):
    for where in ("a", "b"):
        target = tmp_path / where / GOOD
        target.mkdir(parents=True)
        shutil.copy(zoo / "open_model_zoo/models/public" / GOOD / "model.yml", target)
    with pytest.raises(ManifestError, match="must be unique"):
        load_manifest(tmp_path)


# -- postprocessing steps ---------------------------------------------------------------------

@pytest.mark.parametrize("count,matches,ok", [(0, 3, True), (3, 3, True), (2, 3, True),
                                               (4, 3, False), (0, 0, False)])
def test_regex_replace_counts(tmp_path, count, matches, ok):
    """count 0 replaces every match; a count replaces at most that many and needs as many."""
    path = tmp_path / "f.txt"
    path.write_text("ab " * matches + "end")
    step = {"pattern": "a(b)", "replacement": r"<\1>", "count": count}
    if ok:
        regex_step(path, step, "here")
        replaced = matches if count == 0 else min(count, matches)
        assert path.read_text().count("<b>") == replaced
    else:
        with pytest.raises(PostprocessingError):
            regex_step(path, step, "here")


def test_unpack_archive_refuses_a_format_the_file_is_not(tmp_path):
    from modelzoo.unpack import extract_archive

    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("model.onnx", b"x")
    with pytest.raises(ArchiveError, match="not a gztar archive"):
        extract_archive(archive, tmp_path, "gztar")
    extract_archive(archive, tmp_path, "zip")
    assert (tmp_path / "model.onnx").read_bytes() == b"x"


def test_unpack_archive_keeps_the_safety_checks(tmp_path):
    from modelzoo.unpack import extract_archive

    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 1
        import io
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "inside").mkdir()
    with pytest.raises(ArchiveError, match="unsafe member"):
        extract_archive(archive, tmp_path / "inside", "gztar")
    assert not (tmp_path / "outside.txt").exists()
