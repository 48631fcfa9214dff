"""The manifest: one TOML file listing every model of a zoo and how to convert it.

    [defaults]
    output_dir = "ir"
    precisions = ["FP32", "FP16"]

    [resnet50]
    url = "https://example.org/resnet50.tar.gz"
    sha256 = "..."
    model = "resnet50/model.onnx"
    input_shape = [1, 3, 224, 224]      # or mo's text: "[1,3,224,224]"

`load_manifest` validates everything up front, so a typo fails in a second with the file, the
model and the key named, not after an hour of downloads. Importing this module is cheap: the
converter's option parser is pure Python and nothing heavy is imported.
"""
from __future__ import annotations

import difflib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import urlsplit

from converter.errors import UserInputError
from converter.options import CONVERSION_FLAGS, ConversionOptions, parse_data_type

from .cache import DIGEST_LENGTHS, Checksum
from .errors import ManifestError
from .unpack import MAX_FILES, MAX_TOTAL_BYTES

PRECISIONS = ("FP32", "FP16")
# FP16 has no fixed default: the verifier measures a budget per model (modelzoo.verify.budget).
DEFAULT_TOLERANCE = MappingProxyType({"FP32": 1e-4})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_PRECISION_FLAGS = ("data_type", "compress_to_fp16")  # folded into `precisions`
_FLAG_KEYS = frozenset(CONVERSION_FLAGS) - set(_PRECISION_FLAGS)
_LIMIT_KEYS = {"max_unpacked_bytes": "MODELZOO_MAX_UNPACKED_BYTES",
               "max_unpacked_files": "MODELZOO_MAX_UNPACKED_FILES"}
_SHARED_KEYS = frozenset({"framework", "precisions", "tolerance", "verify", "verify_inputs",
                          "description", *_PRECISION_FLAGS, *_LIMIT_KEYS}) | _FLAG_KEYS
MODEL_KEYS = _SHARED_KEYS | {"url", "sha256", "sha384", "size", "model", "skip"}
DEFAULT_KEYS = _SHARED_KEYS | {"output_dir", "cache_dir", "remote_cache"}


@dataclass(frozen=True)
class SourceFile:
    """One file of a model's download folder (Open Model Zoo's `files`): it lands at `name`
    inside the folder; `label` names the model and the file in messages."""

    name: str
    url: str
    checksum: Checksum
    size: int | None
    label: str


@dataclass(frozen=True)
class ModelEntry:
    """One model of the manifest, validated, with the defaults merged in.

    `flags` holds the conversion flags as written (mo's text or TOML values). `data_type` and
    `compress_to_fp16` are not among them: they are folded into `precisions`, and the converter
    runs once per precision. `tolerance` holds only what the manifest gives (FP32 defaults to
    1e-4; an FP16 tolerance left out is measured per model). `verify_inputs` is the value
    as written (see `modelzoo.verify.inputs`), its files resolved against the manifest's
    folder. `skip` is why the model is not built yet (None: it is built).

    A model comes from one archive (`url`, `checksum`) or, from an Open Model Zoo model.yml,
    from several `files` assembled into a download folder and `postprocessing` steps run in
    it (url and checksum are then None). `layout` "omz" puts its IR where omz_converter does
    (OUTPUT/public/NAME/PRECISION). `info` keeps what the report shows (license, task type).
    `error` is why the model's description is unusable: that model alone fails.
    """

    name: str
    url: str | None
    checksum: Checksum | None
    manifest: Path
    size: int | None = None
    framework: str | None = None
    model: str | None = None
    precisions: tuple[str, ...] = PRECISIONS
    tolerance: Mapping[str, float] = field(default_factory=lambda: DEFAULT_TOLERANCE, hash=False)
    verify: bool = True
    verify_inputs: Any = None
    skip: str | None = None
    description: str = ""
    flags: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    max_unpacked_bytes: int = MAX_TOTAL_BYTES
    max_unpacked_files: int = MAX_FILES
    files: tuple[SourceFile, ...] = ()
    postprocessing: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)
    layout: str = "zoo"
    info: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    error: str | None = None

    @property
    def label(self) -> str:
        """How messages name this model: `path/to/models.toml, model 'resnet50'`."""
        return f"{self.manifest}, model {self.name!r}"

    @property
    def source_key(self) -> str:
        """What the model's source tree is made of: the archive's checksum, or every file's
        name and checksum plus the postprocessing steps."""
        if not self.files:
            return str(self.checksum)
        return json.dumps([[[f.name, str(f.checksum)] for f in self.files],
                           [dict(step) for step in self.postprocessing]],
                          sort_keys=True, separators=(",", ":"))

    def verify_input_files(self) -> list[Path]:
        """The files `verify_inputs` names (they key the verification)."""
        from .verify.inputs import parse_spec, spec_files

        return spec_files(parse_spec(self.verify_inputs, self.manifest.parent))

    def options(self) -> ConversionOptions:
        return ConversionOptions.from_flags(self.flags)

    def flags_key(self) -> str:
        """Canonical JSON of the normalized options: equal for every spelling of one conversion."""
        return json.dumps(self.options().canonical(), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Manifest:
    """The models to build and where. `home` holds the build's own state (doit's database, the
    run lock, the results, the report): the TOML's folder, or for an Open Model Zoo folder or
    model.yml given directly, `omz/` in the current folder (never inside the user's clone)."""

    path: Path
    output_dir: Path
    cache_dir: Path
    models: tuple[ModelEntry, ...]
    home: Path | None = None
    remote_cache: str | None = None  # the cache's second level, an fsspec URL (modelzoo.remote)

    @property
    def state_dir(self) -> Path:
        return self.home or self.path.parent

    @property
    def anchor(self) -> Path:
        """The path state files are named after: the TOML itself, or its stand-in in `home`."""
        return self.state_dir / self.path.name

    def __getitem__(self, name: str) -> ModelEntry:
        for entry in self.models:
            if entry.name == name:
                return entry
        raise KeyError(name)


def load_manifest(path: str | Path, cache_dir: str | Path | None = None,
                  workdir: str | Path | None = None) -> Manifest:
    """Read and validate the manifest at `path`.

    An Open Model Zoo folder or model.yml given directly keeps the build's files in
    `workdir`/omz and its downloads in `workdir`/cache (`workdir`: where the user ran the
    command, default the current folder).

    `cache_dir` overrides `[defaults] cache_dir`, which defaults to `cache/` beside the manifest.
    """
    from .omz import is_omz_source

    path = Path(path).resolve()
    if is_omz_source(path):
        return _omz_manifest(path, path, {}, cache_dir, home=Path(workdir or Path.cwd()) / "omz")
    data = _read_toml(path)
    omz_source = data.pop(OMZ_KEY, None)
    defaults = data.pop("defaults", {})
    if not isinstance(defaults, dict):
        raise ManifestError(f"{path}: 'defaults' must be a table ([defaults]), "
                            f"got {type(defaults).__name__}")
    if omz_source is not None:
        return _omz_from_toml(path, omz_source, defaults, data, cache_dir)
    _check_keys(path, "[defaults]", defaults, DEFAULT_KEYS)
    _check_shared(_Where(path, "[defaults]"), defaults)
    base = path.parent
    output_dir = _folder(path, defaults, "output_dir", base / "ir")
    chosen_cache = Path(cache_dir).resolve() if cache_dir is not None else \
        _folder(path, defaults, "cache_dir", base / "cache")
    models = tuple(_entry(path, name, table, defaults) for name, table in data.items())
    if not models:
        raise ManifestError(f"{path}: no models; add a table per model, like [resnet50] with "
                            "url and sha256")
    return Manifest(path, output_dir, chosen_cache, models, remote_cache=_remote(path, defaults))


OMZ_KEY = "open_model_zoo"
# What [defaults] may say beside `open_model_zoo`: the model.yml files give the flags.
OMZ_DEFAULT_KEYS = frozenset({"precisions", "tolerance", "verify", "data_type", "compress_to_fp16",
                              "output_dir", "cache_dir", "remote_cache", *_LIMIT_KEYS})


def _omz_from_toml(path: Path, source: Any, defaults: Any, tables: dict,
                   cache_dir: str | Path | None) -> Manifest:
    where = _Where(path, "top level")
    if not isinstance(source, str) or not source.strip():
        raise where.error(OMZ_KEY, "expected the path of Open Model Zoo's models folder or of a "
                                   "model.yml, as text")
    if tables:
        raise where.error(None, f"a manifest that points at Open Model Zoo ({OMZ_KEY} = ...) "
                                f"lists no models of its own; remove {', '.join(tables)}")
    if not isinstance(defaults, dict):
        raise ManifestError(f"{path}: 'defaults' must be a table ([defaults])")
    _check_keys(path, "[defaults]", defaults, OMZ_DEFAULT_KEYS)
    _check_shared(_Where(path, "[defaults]"), defaults)
    return _omz_manifest(path, (path.parent / source).resolve(), defaults, cache_dir)


def _omz_manifest(path: Path, source: Path, defaults: Mapping[str, Any],
                  cache_dir: str | Path | None, home: Path | None = None) -> Manifest:
    from .omz import load_entries

    base = home or path.parent
    where = _Where(path, "[defaults]")
    settings = {"precisions": _level_precisions(where, defaults) or PRECISIONS,
                "tolerance": MappingProxyType({**DEFAULT_TOLERANCE, **defaults.get("tolerance", {})}),
                "verify": defaults.get("verify", True), **_limits(where, defaults)}
    output_dir = _folder(path, defaults, "output_dir", base / "ir")
    chosen_cache = Path(cache_dir).resolve() if cache_dir is not None else \
        _folder(path, defaults, "cache_dir", (home.parent if home else base) / "cache")
    return Manifest(path, output_dir, chosen_cache, load_entries(source, settings), home=home,
                    remote_cache=_remote(path, defaults))


class _Where:
    """Where a value comes from, for messages: the file, the table and the key."""

    def __init__(self, path: Path, table: str) -> None:
        self.path, self.table = path, table

    def error(self, key: str | None, problem: str) -> ManifestError:
        where = f"{self.path}: {self.table}"
        return ManifestError(f"{where}, key {key!r}: {problem}" if key else f"{where}: {problem}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found; check the path you gave") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML: {exc}; fix the syntax there") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest: {exc}") from None


def _check_keys(path: Path, table: str, values: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for key in values:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, sorted(allowed), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "remove it or check the spelling"
        extra = " (url, checksums, size and model belong in a model's table)" \
            if table == "[defaults]" and key in MODEL_KEYS else ""
        raise ManifestError(f"{path}: {table}, key {key!r}: unknown key{extra}; {hint}")


def _folder(path: Path, defaults: Mapping[str, Any], key: str, fallback: Path) -> Path:
    value = defaults.get(key)
    if value is None:
        return fallback
    if not isinstance(value, str) or not value:
        raise _Where(path, "[defaults]").error(key, f"expected a folder path as text, "
                                                    f"got {value!r}")
    return (path.parent / value).resolve()


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://.+")


def _remote(path: Path, defaults: Mapping[str, Any]) -> str | None:
    """`remote_cache`: an fsspec URL (s3://bucket/prefix, file:///mnt/shared, ...) or a folder
    path, taken relative to the manifest's folder."""
    value = defaults.get("remote_cache")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Where(path, "[defaults]").error(
            "remote_cache", f"expected a URL as text (s3://bucket/prefix, file:///shared/folder) "
                            f"or a folder path, got {value!r}")
    return value if _URL.fullmatch(value) else (path.parent / value).resolve().as_uri()


def _entry(path: Path, name: str, table: Any, defaults: Mapping[str, Any]) -> ModelEntry:
    where = _Where(path, f"model {name!r}")
    if not isinstance(table, dict):
        raise ManifestError(f"{path}: top-level key {name!r} is not a table; put each model's "
                            f"settings under a [{name}] table and shared ones under [defaults]")
    if not _NAME.fullmatch(name):
        raise where.error(None, "the model name must match [A-Za-z0-9][A-Za-z0-9_.-]*; rename "
                                "the table")
    _check_keys(path, f"model {name!r}", table, MODEL_KEYS)
    _check_shared(where, table)
    merged = {**{k: v for k, v in defaults.items() if k in _SHARED_KEYS}, **table}
    flags = _resolve_folders(path.parent, {k: merged[k] for k in merged if k in _FLAG_KEYS})
    _check_flags_together(where, flags)
    return ModelEntry(
        name=name, url=_url(where, table, path.parent), checksum=_checksum(where, table),
        manifest=path, size=_size(where, table.get("size")),
        framework=str(merged["framework"]).lower() if "framework" in merged else None,
        model=_model_path(where, table.get("model")),
        precisions=_precisions(where, table, defaults),
        tolerance=MappingProxyType({**DEFAULT_TOLERANCE, **defaults.get("tolerance", {}),
                                    **table.get("tolerance", {})}),
        verify=merged.get("verify", True), verify_inputs=merged.get("verify_inputs"),
        skip=_skip(where, table.get("skip")), description=merged.get("description", ""),
        flags=MappingProxyType(flags), **_limits(where, merged))


# Flags naming folders, relative to the manifest's folder.
_FOLDER_FLAGS = ("extensions", "tensorboard_logdir")


def _resolve_folders(base: Path, flags: dict[str, Any]) -> dict[str, Any]:
    """`extensions` and `tensorboard_logdir` as absolute paths (a list of folders or mo's
    comma-separated text for `extensions`); other flags as they are."""
    for key in _FOLDER_FLAGS:
        value = flags.get(key)
        if isinstance(value, str) and value.strip():
            parts = value.split(",") if key == "extensions" else [value]
            resolved = [str(base / p.strip()) for p in parts if p.strip()]
            flags[key] = resolved if key == "extensions" else resolved[0]
        elif isinstance(value, list):
            flags[key] = [str(base / p) if isinstance(p, str) else p for p in value]
    return flags


def _check_shared(where: _Where, table: Mapping[str, Any]) -> None:
    """Check the keys a model table and [defaults] share, each on its own."""
    if "verify" in table and not isinstance(table["verify"], bool):
        raise where.error("verify", f"expected true or false, got {table['verify']!r}")
    if "description" in table and not isinstance(table["description"], str):
        raise where.error("description", "expected text")
    if "verify_inputs" in table:
        _check_verify_inputs(where, table["verify_inputs"])
    if "framework" in table and str(table["framework"]).lower() not in ("onnx", "tf"):
        raise where.error("framework", f"expected 'onnx' or 'tf', got {table['framework']!r}")
    if "tolerance" in table:
        _check_tolerance(where, table["tolerance"])
    for key in _LIMIT_KEYS.keys() & table.keys():
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise where.error(key, f"expected a positive whole number, got {value!r}")
    if "precisions" in table:
        _check_precisions(where, table["precisions"])
    for key in sorted(_FLAG_KEYS.intersection(table) | ({"data_type"} & table.keys())):
        try:
            ConversionOptions.from_flags({key: table[key]})
        except UserInputError as exc:
            raise where.error(key, f"{exc}; give mo's command-line text or a TOML value") from None


def _check_verify_inputs(where: _Where, value: Any) -> None:
    from .verify.inputs import parse_spec, spec_files

    try:
        files = spec_files(parse_spec(value, where.path.parent))
    except ValueError as exc:
        raise where.error("verify_inputs", f"{exc}; give a .npy/.npz path or a table like "
                                           "{ids = { low = 0, high = 999 }}") from None
    for path in files:
        if not path.is_file():
            raise where.error("verify_inputs", f"{path} does not exist (paths are relative to "
                                               "the manifest's folder)")


def _skip(where: _Where, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise where.error("skip", "expected the reason the model is not built yet, as text")
    return value.strip()


def _limits(where: _Where, merged: Mapping[str, Any]) -> dict[str, int]:
    """Unpacking limits: the model's key, else [defaults], else the environment variable,
    else the built-in default (see modelzoo.unpack)."""
    import os

    limits = {}
    for key, variable in _LIMIT_KEYS.items():
        if key in merged:
            limits[key] = merged[key]
        elif os.environ.get(variable, "").strip():
            text = os.environ[variable].strip()
            if not text.isdigit() or int(text) <= 0:
                raise where.error(key, f"the environment variable {variable}={text!r} is not a "
                                       "positive whole number; fix or unset it")
            limits[key] = int(text)
    return limits


def _check_flags_together(where: _Where, flags: Mapping[str, Any]) -> None:
    try:
        ConversionOptions.from_flags(flags)
    except UserInputError as exc:
        raise where.error(None, f"conversion flags do not fit together: {exc}") from None


def _check_tolerance(where: _Where, value: Any) -> None:
    if not isinstance(value, dict):
        raise where.error("tolerance", "expected a table like {FP32 = 1e-4, FP16 = 1e-2}")
    for precision, number in value.items():
        if precision not in PRECISIONS:
            raise where.error("tolerance", f"{precision!r} is not a precision (FP32, FP16)")
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number <= 0:
            raise where.error("tolerance", f"{precision} must be a positive number, got {number!r}")


def _check_precisions(where: _Where, value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise where.error("precisions", "expected a non-empty list like ['FP32', 'FP16'], "
                                        f"got {value!r}")
    for item in value:
        if item not in PRECISIONS:
            raise where.error("precisions", f"{item!r} is not one of FP32, FP16")
    if len(set(value)) != len(value):
        raise where.error("precisions", f"{value!r} lists a precision twice")


def _level_precisions(where: _Where, table: Mapping[str, Any]) -> tuple[str, ...] | None:
    """`precisions`, or what `data_type` / `compress_to_fp16` (true: FP16) imply; several of
    them must agree."""
    explicit = tuple(table["precisions"]) if "precisions" in table else None
    implied = {}
    if "data_type" in table:
        implied["data_type"] = (parse_data_type(table["data_type"]),)
    if "compress_to_fp16" in table:
        if not isinstance(table["compress_to_fp16"], bool):
            raise where.error("compress_to_fp16", f"expected true or false, got "
                                                  f"{table['compress_to_fp16']!r}")
        implied["compress_to_fp16"] = ("FP16",) if table["compress_to_fp16"] else ("FP32",)
    for key, value in implied.items():
        if explicit is not None and explicit != value:
            raise where.error(key, f"{key} = {table[key]!r} means precisions {list(value)}, but "
                                   f"precisions is {list(explicit)}; keep only one of the two")
        explicit = value
    return explicit


def _precisions(where: _Where, table: Mapping[str, Any],
                defaults: Mapping[str, Any]) -> tuple[str, ...]:
    """The model's own setting wins over [defaults]; data_type = X means precisions [X]."""
    own = _level_precisions(where, table)
    if own is not None:
        return own
    return _level_precisions(_Where(where.path, "[defaults]"), defaults) or PRECISIONS


def _url(where: _Where, table: Mapping[str, Any], base: Path) -> str:
    raw = table.get("url")
    if raw is None:
        raise where.error("url", "missing; give the http(s) address or a path to the model file")
    if not isinstance(raw, str) or not raw.strip():
        raise where.error("url", f"expected text, got {raw!r}")
    parts = urlsplit(raw.strip())
    if parts.scheme in ("http", "https"):
        if not parts.netloc:
            raise where.error("url", f"{raw!r} has no host name")
        return raw.strip()
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise where.error("url", f"{raw!r}: a file:// url must name a local path")
        return raw.strip()
    if parts.scheme and len(parts.scheme) > 1:  # one letter: a Windows drive, not a scheme
        raise where.error("url", f"scheme {parts.scheme!r} is not supported; use http, https, "
                                 "file:// or a path relative to the manifest")
    return (base / raw.strip()).resolve().as_uri()


def _checksum(where: _Where, table: Mapping[str, Any]) -> Checksum:
    given = [algo for algo in DIGEST_LENGTHS if algo in table]
    if len(given) != 1:
        problem = "missing" if not given else "both given"
        raise where.error("sha256", f"{problem}; give exactly one of sha256 or sha384 "
                                    "(run `sha256sum FILE` to get it)")
    algo = given[0]
    value = table[algo]
    length = DIGEST_LENGTHS[algo]
    if not isinstance(value, str) or not re.fullmatch(rf"[0-9a-fA-F]{{{length}}}", value):
        raise where.error(algo, f"expected {length} hex digits, got {value!r}")
    return Checksum(algo, value.lower())


def _size(where: _Where, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise where.error("size", f"expected a positive number of bytes, got {value!r}")
    return value


def _model_path(where: _Where, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise where.error("model", f"expected a path inside the archive as text, got {value!r}")
    path = PurePosixPath(value.replace("\\", "/"))
    if path.is_absolute() or re.match(r"[A-Za-z]:", value) or ".." in path.parts:
        raise where.error("model", f"{value!r} must be a relative path inside the archive, "
                                   "without '..'")
    return str(path)
