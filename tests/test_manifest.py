"""Manifest loading: defaults, resolution, the flags key, and every kind of validation error."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelzoo.errors import ManifestError
from modelzoo.manifest import load_manifest

SHA = "a" * 64
GOOD = f'url = "https://example.org/net.tar.gz"\nsha256 = "{SHA}"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "zoo.toml"
    path.write_text(text)
    return path


def model(name: str = "net", extra: str = "", body: str = GOOD) -> str:
    return f"[{name}]\n{body}{extra}\n"


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(ManifestError) as caught:
        load_manifest(write(tmp_path, text))
    return str(caught.value)


def assert_names(message: str, *parts: str) -> None:
    assert "zoo.toml" in message, message
    for part in parts:
        assert part in message, message


def test_defaults_and_model_values(tmp_path: Path) -> None:
    text = ('[defaults]\nverify = false\nreverse_input_channels = true\n'
            'tolerance = {FP16 = 0.05}\nframework = "onnx"\n'
            + model("b", 'model = "./net/model.onnx"\nsize = 123\nverify = true\n')
            + model("a", 'description = "second"\ntolerance = {FP32 = 0.001}'))
    manifest = load_manifest(write(tmp_path, text))
    b, a = manifest.models
    assert [m.name for m in manifest.models] == ["b", "a"]
    assert manifest["a"] is a
    assert (b.model, b.size, b.verify, a.verify) == ("net/model.onnx", 123, True, False)
    assert a.precisions == ("FP32", "FP16") and a.framework == "onnx"
    assert dict(a.tolerance) == {"FP32": 0.001, "FP16": 0.05}
    assert dict(b.tolerance) == {"FP32": 1e-4, "FP16": 0.05}
    assert dict(a.flags) == {"reverse_input_channels": True, "framework": "onnx"}
    assert a.checksum == ("sha256", SHA) and a.manifest == tmp_path / "zoo.toml"
    assert manifest.output_dir == tmp_path / "ir" and manifest.cache_dir == tmp_path / "cache"


def test_folders_from_defaults_and_argument(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\noutput_dir = "out/ir"\ncache_dir = "/tmp/c"\n' + model())
    assert load_manifest(path).output_dir == tmp_path / "out" / "ir"
    assert load_manifest(path).cache_dir == Path("/tmp/c")
    assert load_manifest(path, cache_dir=tmp_path / "x").cache_dir == tmp_path / "x"


def test_urls_are_resolved(tmp_path: Path) -> None:
    text = (model("rel", body=f'url = "files/net.onnx"\nsha256 = "{SHA}"')
            + model("file", body=f'url = "file:///srv/net.onnx"\nsha384 = "{"B" * 96}"'))
    rel, local = load_manifest(write(tmp_path, text)).models
    assert rel.url == (tmp_path / "files" / "net.onnx").as_uri()
    assert local.url == "file:///srv/net.onnx" and local.checksum == ("sha384", "b" * 96)


def test_two_spellings_give_the_same_flags_key(tmp_path: Path) -> None:
    text = (model("text", 'input_shape = "[1,3,224,224]"\nmean_values = "data[123,117,104]"\n'
                          'reverse_input_channels = "true"')
            + model("toml", 'input_shape = [1, 3, 224, 224]\nmean_values = {data = [123, 117, 104]}'
                            '\nreverse_input_channels = true')
            + model("other", 'input_shape = [1, 3, 256, 256]'))
    text_entry, toml_entry, other = load_manifest(write(tmp_path, text)).models
    assert text_entry.flags_key() == toml_entry.flags_key()
    assert text_entry.flags["input_shape"] == "[1,3,224,224]"  # kept as written
    assert other.flags_key() != text_entry.flags_key()
    assert '"input_shape":[[1,3,256,256]]' in other.flags_key()


def test_data_type_means_precisions(tmp_path: Path) -> None:
    text = ('[defaults]\nprecisions = ["FP32"]\n' + model("half", 'data_type = "half"')
            + model("plain") + model("both", 'data_type = "FP16"\nprecisions = ["FP16"]'))
    half, plain, both = load_manifest(write(tmp_path, text)).models
    assert (half.precisions, plain.precisions, both.precisions) == (("FP16",), ("FP32",), ("FP16",))
    assert "data_type" not in half.flags


def test_data_type_conflicting_with_precisions(tmp_path: Path) -> None:
    message = error_for(tmp_path, model(extra='data_type = "FP16"\nprecisions = ["FP32", "FP16"]'))
    assert_names(message, "model 'net'", "'data_type'", "keep only one")


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    message = error_for(tmp_path, model() + "broken = = 1\n" + model("other"))
    assert_names(message, "not valid TOML", "line 5")


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        load_manifest(tmp_path / "absent.toml")


def test_empty_manifest(tmp_path: Path) -> None:
    assert_names(error_for(tmp_path, "[defaults]\nverify = true\n"), "no models")


def test_unknown_key_suggests_the_close_name(tmp_path: Path) -> None:
    message = error_for(tmp_path, model(extra="input_shap = [1, 2]"))
    assert_names(message, "model 'net'", "'input_shap'", "unknown key",
                 "did you mean 'input_shape'")


def test_unknown_default_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[defaults]\nprecision = ["FP32"]\n' + model())
    assert_names(message, "[defaults]", "'precision'", "did you mean 'precisions'")


def test_model_only_key_in_defaults(tmp_path: Path) -> None:
    message = error_for(tmp_path, f'[defaults]\nsha256 = "{SHA}"\n' + model())
    assert_names(message, "[defaults]", "'sha256'", "belong in a model's table")


def test_bad_model_name(tmp_path: Path) -> None:
    assert_names(error_for(tmp_path, model('"-net"')), "model '-net'", "model name must match")


def test_top_level_value_is_not_a_model(tmp_path: Path) -> None:
    assert_names(error_for(tmp_path, 'verify = true\n' + model()), "'verify'", "is not a table")


@pytest.mark.parametrize("extra,key,hint", [
    ("size = \"12MB\"", "size", "positive number of bytes"),
    ("size = 0", "size", "positive number of bytes"),
    ("verify = \"yes\"", "verify", "true or false"),
    ("description = 3", "description", "expected text"),
    ("framework = \"caffe\"", "framework", "'onnx' or 'tf'"),
    ("precisions = [\"FP64\"]", "precisions", "not one of FP32, FP16"),
    ("precisions = \"FP32\"", "precisions", "non-empty list"),
    ("precisions = [\"FP32\", \"FP32\"]", "precisions", "twice"),
    ("tolerance = 0.1", "tolerance", "a table like"),
    ("tolerance = {FP32 = -1}", "tolerance", "positive number"),
    ("tolerance = {INT8 = 0.1}", "tolerance", "not a precision"),
    ("model = \"/abs/model.onnx\"", "model", "relative path"),
    ("model = \"net/../../model.onnx\"", "model", "without '..'"),
    ("model = 7", "model", "as text"),
    ("skip = \"\"", "skip", "the reason"),
    ("skip = true", "skip", "the reason"),
    ("verify_inputs = 3", "verify_inputs", "file path or a table"),
    ("verify_inputs = \"inputs.txt\"", "verify_inputs", ".npy or .npz"),
    ("verify_inputs = \"missing.npz\"", "verify_inputs", "does not exist"),
    ("verify_inputs = {ids = {low = 9, high = 1}}", "verify_inputs", "low <= high"),
    ("compress_to_fp16 = \"yes\"", "compress_to_fp16", "true or false"),
    ("compress_to_fp16 = true\nprecisions = [\"FP32\"]", "compress_to_fp16", "keep only one"),
])
def test_wrong_values(tmp_path: Path, extra: str, key: str, hint: str) -> None:
    assert_names(error_for(tmp_path, model(extra=extra)), "model 'net'", f"key '{key}'", hint)


@pytest.mark.parametrize("body,key,hint", [
    (f'sha256 = "{SHA}"', "url", "missing"),
    (f'url = "ftp://x/net.onnx"\nsha256 = "{SHA}"', "url", "not supported"),
    (f'url = 5\nsha256 = "{SHA}"', "url", "expected text"),
    (f'url = "https:///net.onnx"\nsha256 = "{SHA}"', "url", "no host"),
    ('url = "https://x/net.onnx"', "sha256", "exactly one of sha256 or sha384"),
    (f'url = "https://x/n"\nsha256 = "{SHA}"\nsha384 = "{"a" * 96}"', "sha256", "both given"),
    ('url = "https://x/n"\nsha256 = "abc"', "sha256", "64 hex digits"),
    (f'url = "https://x/n"\nsha384 = "{"g" * 96}"', "sha384", "96 hex digits"),
])
def test_url_and_checksum_errors(tmp_path: Path, body: str, key: str, hint: str) -> None:
    assert_names(error_for(tmp_path, model(body=body)), "model 'net'", f"key '{key}'", hint)


@pytest.mark.parametrize("flag", ['input_shape = "[1,a,3]"', "input_shape = [1, 2.5]",
                                  "batch = 0", 'mean_values = "123"', "scale = 0",
                                  'reverse_input_channels = "maybe"', 'data_type = "INT4"',
                                  "output = []"])
def test_malformed_flag_values(tmp_path: Path, flag: str) -> None:
    key = flag.split(" = ")[0]
    message = error_for(tmp_path, model(extra=flag))
    assert_names(message, "model 'net'", f"key '{key}'", "mo's command-line text")


def test_malformed_flag_in_defaults(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[defaults]\nbatch = -2\n' + model())
    assert_names(message, "[defaults]", "key 'batch'")


def test_flags_that_do_not_fit_together(tmp_path: Path) -> None:
    message = error_for(tmp_path, model(extra='input = "a,b"\ninput_shape = "[1,2]"'))
    assert_names(message, "model 'net'", "do not fit together", "input_shape")


def test_bad_folder_in_defaults(tmp_path: Path) -> None:
    assert_names(error_for(tmp_path, "[defaults]\noutput_dir = 3\n" + model()),
                 "[defaults]", "'output_dir'")


def test_importing_is_cheap() -> None:
    code = ("import modelzoo.manifest, modelzoo.cache, sys; "
            "heavy = [m for m in ('numpy', 'onnx', 'tensorflow', 'requests', 'tqdm') "
            "if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_empty_dimension_in_mo_text(tmp_path: Path) -> None:
    message = error_for(tmp_path, model(extra='input_shape = "[1,3,,224]"'))
    assert_names(message, "model 'net'", "key 'input_shape'")


def test_duplicate_model_names_name_the_line(tmp_path: Path) -> None:
    message = error_for(tmp_path, model() + "\n" + model())
    assert_names(message, "not valid TOML", "line")


@pytest.mark.parametrize("value", ["0", "-5", "'big'", "1.5", "true"])
def test_bad_unpacking_limits(tmp_path: Path, value: str) -> None:
    message = error_for(tmp_path, f"[defaults]\nmax_unpacked_files = {value}\n" + model())
    assert_names(message, "[defaults]", "key 'max_unpacked_files'", "positive whole number")


def test_unpacking_limits_from_the_manifest_and_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODELZOO_MAX_UNPACKED_BYTES", "5000")
    monkeypatch.setenv("MODELZOO_MAX_UNPACKED_FILES", "7")
    text = "[defaults]\nmax_unpacked_files = 3\n" + model() + model("other", "max_unpacked_files = 9")
    entries = load_manifest(write(tmp_path, text)).models
    assert [(e.max_unpacked_bytes, e.max_unpacked_files) for e in entries] == [(5000, 3), (5000, 9)]
    monkeypatch.setenv("MODELZOO_MAX_UNPACKED_BYTES", "lots")
    assert_names(error_for(tmp_path, model()), "MODELZOO_MAX_UNPACKED_BYTES", "positive whole number")


def test_verification_keys(tmp_path: Path) -> None:
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "x.npy").write_bytes(b"")
    text = (model("a", 'verify_inputs = "samples/x.npy"\ncompress_to_fp16 = true')
            + model("b", 'verify_inputs = {ids = {low = 0, high = 99}}\nskip = " needs Loop "'))
    a, b = load_manifest(write(tmp_path, text)).models
    assert a.verify_input_files() == [tmp_path / "samples" / "x.npy"]
    assert a.precisions == ("FP16",) and "compress_to_fp16" not in a.flags
    assert b.verify_input_files() == [] and b.skip == "needs Loop" and a.skip is None
    assert dict(a.tolerance) == {"FP32": 1e-4}, "no fixed FP16 tolerance: it is measured per model"
