"""Conversion options under the Model Optimizer's flag names, parsed once into a frozen value.

Every flag can be given as mo's command line spells it (`input_shape="[1,3,224,224]"`,
`mean_values="data[123,117,104]"`) or as a structured value (`input_shape=[1, 3, 224, 224]`,
`mean_values={"data": [123, 117, 104]}`), which is what a TOML manifest gives. Both normalize to
the same `ConversionOptions`, whose `canonical()` form keys the build cache.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

from .errors import UserInputError

Shape = tuple[int, ...]


@dataclass(frozen=True)
class InputCut:
    """One entry of `--input`: a tensor to feed, optionally with a shape or a frozen value."""

    name: str
    shape: Shape | None = None
    value: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ConversionOptions:
    input_model: str | None = None
    output_dir: str = "."
    model_name: str | None = None
    framework: str | None = None
    input: tuple[InputCut, ...] = ()
    output: tuple[str, ...] = ()
    input_shape: tuple[Shape, ...] = ()
    batch: int | None = None
    mean_values: tuple[tuple[str, tuple[float, ...]], ...] = ()   # ("" = every input)
    scale_values: tuple[tuple[str, tuple[float, ...]], ...] = ()
    scale: float | None = None
    reverse_input_channels: bool = False
    data_type: str = "FP32"
    disable_fusing: bool = False
    disable_gfusing: bool = False
    input_model_is_text: bool = False
    input_checkpoint: str | None = None
    input_meta_graph: str | None = None
    saved_model_dir: str | None = None
    saved_model_tags: tuple[str, ...] = ()
    tensorflow_object_detection_api_pipeline_config: str | None = None
    # mo's replacement-config file (also spelled tensorflow_use_custom_operations_config)
    transformations_config: str | None = None
    # --freeze_placeholder_with_value: (input name, values) pairs, each input becomes a constant
    freeze_placeholder_with_value: tuple[tuple[str, tuple[float, ...]], ...] = ()
    # --finegrain_fusing: regular expressions of node names the fusing passes leave alone
    finegrain_fusing: tuple[str, ...] = ()
    # --extensions: folders of user passes and op handlers (see converter.extensions)
    extensions: tuple[str, ...] = ()
    # TensorFlow: --nhwc_to_nchw declares 4-D image inputs NCHW, as the Model Optimizer did;
    # --disable_nhwc_to_nchw keeps them NHWC (the default here, as ovc does)
    nhwc_to_nchw: bool = False
    disable_nhwc_to_nchw: bool = False
    # flags that change what the conversion reports or writes beside the IR, never the IR
    steps: bool = False
    tensorboard_logdir: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)
    # the flags of INERT_FLAGS that were set: accepted, changing nothing, reported when converting
    inert_flags: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any]) -> "ConversionOptions":
        """Validate and normalize `flags`; the error names the flag that is wrong (and the
        model, when the flags name one)."""
        try:
            return cls._from_flags(flags)
        except UserInputError as exc:
            raise exc.locate(model=_model_label(flags.get))

    @classmethod
    def _from_flags(cls, flags: Mapping[str, Any]) -> "ConversionOptions":
        known = ({f.name for f in fields(cls)} - _NOT_FLAGS) | set(IMPLYING_FLAGS)
        values: dict[str, Any] = {}
        inert: dict[str, Any] = {}
        for key, raw in flags.items():
            if raw is None:
                continue
            if key in INERT_FLAGS:
                inert[key] = _parse(key, raw, _INERT_PARSERS.get(key, _switch))
            elif key in known:
                values[key] = _parse(key, raw, _PARSERS.get(key, _text))
            else:
                raise UserInputError(f"unknown conversion flag {key!r}; known flags: "
                                     f"{', '.join(sorted(known))}")
        _apply_compress_to_fp16(values)
        _apply_custom_operations_config(values)
        _refuse_misleading(inert)
        options = cls(**values, inert_flags=tuple(flag for flag, value in inert.items() if value))
        options._check_consistency()
        return options

    def _check_consistency(self) -> None:
        if self.input_shape and self.input and len(self.input_shape) != len(self.input):
            raise UserInputError(f"flag input_shape gives {len(self.input_shape)} shape(s) but "
                                 f"input names {len(self.input)} input(s)")
        if self.nhwc_to_nchw and self.disable_nhwc_to_nchw:
            raise UserInputError("flags nhwc_to_nchw and disable_nhwc_to_nchw ask for opposite "
                                 "input layouts; give one of them")
        if self.batch is not None and self.batch < 1:
            raise UserInputError(f"flag batch: expected a positive integer, got {self.batch}")
        for flag in ("mean_values", "scale_values"):
            for _, values in getattr(self, flag):
                if self.reverse_input_channels and len(values) not in (1, 3):
                    raise UserInputError(f"flag {flag}: reverse_input_channels needs 3 values "
                                         f"per input, got {len(values)}")

    def replace(self, **changes: Any) -> "ConversionOptions":
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(changes)
        return ConversionOptions(**data)

    def canonical(self) -> dict[str, Any]:
        """A JSON-ready form with every default left out: two spellings of one conversion agree."""
        default = ConversionOptions()
        out = {}
        for f in fields(self):
            if f.name in _NOT_FLAGS | _NOT_IN_IR | _BY_CONTENT | {"input_model", "output_dir",
                                                                  "model_name"}:
                continue
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                out[f.name] = _jsonable(value)
        if self.extensions:  # the extensions' code, wherever it lies, keys the cache
            from .extensions import extensions_digest

            out["extensions_digest"] = extensions_digest(self.extensions)
        return out

    def frozen_inputs(self) -> dict[str, tuple[float, ...]]:
        """Input name -> the values it is frozen to, by `--input name->[values]` or by
        `--freeze_placeholder_with_value name->values` (the two spellings of one request)."""
        frozen = dict(self.freeze_placeholder_with_value)
        frozen.update((cut.name, cut.value) for cut in self.input if cut.value is not None)
        return frozen

    @property
    def model_label(self) -> str | None:
        """How errors name the model: the input file (or folder), else the model's name."""
        return _model_label(lambda key: getattr(self, key))

    def inert_flag_notes(self) -> list[str]:
        """One line per accepted flag that changes nothing here, saying what happens instead."""
        return [f"{flag}: {note}" for flag, note in INERT_FLAGS.items() if flag in self.inert_flags]

    def per_input(self, flag: str, input_name: str, index: int) -> tuple[float, ...] | None:
        """The mean or scale values for one input: named ones first, then an unnamed list."""
        entries = dict(getattr(self, flag))
        if input_name in entries:
            return entries[input_name]
        return entries.get("")


def _jsonable(value: Any) -> Any:
    if isinstance(value, InputCut):
        return {k: _jsonable(v) for k, v in asdict(value).items() if v is not None}
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


# Fields of ConversionOptions that no flag sets.
_NOT_FLAGS = frozenset({"extra", "inert_flags"})
# Flags that change what a conversion reports or writes beside the IR, never the IR itself: left
# out of `canonical()` (the cache key and the IR's conversion_parameters).
_NOT_IN_IR = frozenset({"steps", "tensorboard_logdir"})
# Flags whose canonical form is the content they name, not where it lies.
_BY_CONTENT = frozenset({"extensions"})


def _model_label(get) -> str | None:
    for key in ("input_model", "saved_model_dir", "input_meta_graph", "model_name"):
        if get(key):
            return str(get(key))
    return None


def _parse(flag: str, raw: Any, parser) -> Any:
    try:
        return parser(raw)
    except (ValueError, TypeError) as exc:
        raise UserInputError(f"flag {flag}: {exc}") from None


# Flags that set another flag: ovc's compress_to_fp16 is data_type by another name.
IMPLYING_FLAGS = ("compress_to_fp16", "tensorflow_use_custom_operations_config")


def _apply_compress_to_fp16(values: dict[str, Any]) -> None:
    """compress_to_fp16=True means data_type FP16, False FP32; an explicit data_type that says
    otherwise is a conflict. Folding it into data_type keeps `canonical()` (the cache key) the
    same for both spellings."""
    if "compress_to_fp16" not in values:
        return
    compress = values.pop("compress_to_fp16")
    implied = "FP16" if compress else "FP32"
    given = values.setdefault("data_type", implied)
    if given != implied:
        raise UserInputError(f"flags compress_to_fp16 and data_type disagree: compress_to_fp16="
                             f"{compress} means data_type {implied}, but data_type is {given}; "
                             f"give only one of them")


def _apply_custom_operations_config(values: dict[str, Any]) -> None:
    """mo's older name of transformations_config: folded into it, so that `canonical()` is the
    same for both spellings; both given and different is a conflict."""
    if "tensorflow_use_custom_operations_config" not in values:
        return
    old = values.pop("tensorflow_use_custom_operations_config")
    given = values.setdefault("transformations_config", old)
    if given != old:
        raise UserInputError(f"flags tensorflow_use_custom_operations_config ({old}) and "
                             f"transformations_config ({given}) disagree; they are one flag "
                             f"under two names, give only one of them")


# Flags mo accepts that do not change the IR here. Each is accepted and, when set, the
# conversion logs one line saying what happens instead.
INERT_FLAGS = {
    "log_level": "the converter logs through Python's logging (logger 'converter'); set the "
                 "level there, or give --log_level on the command line",
    "silent": "the converter prints nothing when called from Python; only the command line "
              "prints its [ SUCCESS ] lines",
    "progress": "no progress bar is shown; --log_level DEBUG logs each pass as it ends",
    "stream_output": "messages are logged as they happen; there is no other output to stream",
    "static_shape": "IR shapes are static where the inputs are; give --input_shape (or --batch) "
                    "to make every input static",
    "keep_shape_ops": "shape computations are kept where shapes are dynamic and folded where "
                      "they are static, as OpenVINO's own converter does",
    "disable_resnet_optimization": "this converter does no ResNet stride optimization, so there "
                                   "is none to disable; the IR is the same without the flag",
    "generate_deprecated_IR_V7": "IR v11 is written, as without the flag",
    "generate_deprecated_IR_V2": "IR v11 is written, as without the flag (IR v2 is long gone "
                                 "from OpenVINO, which reads IR v10 and v11 only)",
    "move_to_preprocess": "IR v11 has no preprocessing section: the mean and scale values are "
                          "baked into the model after its input (folded into the first "
                          "convolution where exact), as without the flag; to apply them at run "
                          "time instead, leave them out and use OpenVINO's PrePostProcessor",
    "offload_unsupported_operations_to_tf": "OpenVINO IR cannot call TensorFlow; give handlers "
                                            "for the unsupported ops with --extensions",
    "tensorflow_subgraph_patterns": "OpenVINO IR cannot run a subgraph in TensorFlow; give "
                                    "handlers for its ops with --extensions",
    "tensorflow_operation_patterns": "OpenVINO IR cannot run an op in TensorFlow; give "
                                     "handlers for the ops with --extensions",
    "tensorflow_custom_layer_libraries": "TensorFlow libraries of custom ops cannot be loaded "
                                         "into an IR; give handlers for the ops with "
                                         "--extensions",
    "tensorflow_custom_operations_config_update": "this converter never rewrites a "
                                                  "replacement-config file; its SSD rules are "
                                                  "built in",
    "version": "the converter's version is recorded in the IR's rt_info (Converter_version); "
               "`python -m converter --version` prints it",
}

# Inert flags that, set to true, ask for what this converter cannot give: accepting them would
# mislead, so they are refused.
REFUSED_WHEN_SET = {
    "generate_deprecated_IR_V7": "this converter writes IR v11 only (IR v7 is deprecated and "
                                 "not supported); leave the flag out",
    "offload_unsupported_operations_to_tf": INERT_FLAGS["offload_unsupported_operations_to_tf"],
    "tensorflow_subgraph_patterns": INERT_FLAGS["tensorflow_subgraph_patterns"],
    "tensorflow_operation_patterns": INERT_FLAGS["tensorflow_operation_patterns"],
    "tensorflow_custom_layer_libraries": INERT_FLAGS["tensorflow_custom_layer_libraries"],
    "tensorflow_custom_operations_config_update":
        INERT_FLAGS["tensorflow_custom_operations_config_update"] + "; leave the flag out",
}


def _refuse_misleading(inert: Mapping[str, Any]) -> None:
    for flag, reason in REFUSED_WHEN_SET.items():
        if inert.get(flag):
            raise UserInputError(f"flag {flag}: {reason}")


# ---------------------------------------------------------------------------------------------
# Parsers: each takes a command-line string or a structured (TOML) value.

def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise TypeError(f"expected text, got {raw!r}")
    return raw


def _switch(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0", "yes", "no"):
        return raw.lower() in ("true", "1", "yes")
    raise TypeError(f"expected true or false, got {raw!r}")


def _positive_int(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise TypeError(f"expected a positive integer, got {raw!r}")
    value = int(raw)
    if value < 1:
        raise ValueError(f"expected a positive integer, got {raw!r}")
    return value


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise TypeError(f"expected a number, got {raw!r}")
    value = float(raw)
    if value == 0:
        raise ValueError("must not be zero")
    return value


def _dim(text: str) -> int:
    text = text.strip()
    if text in ("?", "-1"):
        return -1
    if not re.fullmatch(r"\d+", text):
        raise ValueError(f"{text!r} is not a dimension (a non-negative integer, ? or -1)")
    return int(text)


def _shape_from(raw: Any) -> Shape:
    if isinstance(raw, (list, tuple)):
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= -1 for d in raw):
            raise ValueError(f"{list(raw)} is not a shape (integers, -1 for a dynamic dimension)")
        return tuple(int(d) for d in raw)
    body = str(raw).strip()
    if not body:
        return ()
    parts = body.split(",") if "," in body else body.split()
    if any(not p.strip() for p in parts):
        raise ValueError(f"{body!r} has an empty dimension")
    return tuple(_dim(d) for d in parts)


def parse_input_shape(raw: Any) -> tuple[Shape, ...]:
    """`[1,3,224,224]`, `(1,224,224,3),[2,4]`, `[1, 3, 224, 224]` or `[[1,3,224,224], [2,4]]`."""
    if isinstance(raw, (list, tuple)):
        if raw and all(isinstance(s, (list, tuple)) for s in raw):
            return tuple(_shape_from(s) for s in raw)
        return (_shape_from(raw),)
    text = str(raw).strip()
    groups = re.findall(r"[\[(]([^\])]*)[\])]", text)
    leftover = re.sub(r"[\[(][^\])]*[\])]", "", text).replace(",", "").strip()
    if not groups or leftover:
        raise ValueError(f"{text!r} is not a shape list like [1,3,224,224] or [1,3,224,224],[2,4]")
    return tuple(_shape_from(g) for g in groups)


def parse_input(raw: Any) -> tuple[InputCut, ...]:
    """`data`, `data[1 3 224 224]`, `a,b[2 4]->[1 2 3 4 5 6 7 8]` or a list of such names."""
    items = raw if isinstance(raw, (list, tuple)) else _split_top_level(str(raw))
    cuts = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"expected input names, got {item!r}")
        match = re.fullmatch(r"\s*([^\[\]]+?)\s*(?:\[([^\]]*)\])?\s*(?:->\s*(.+))?\s*", item)
        if not match or not match.group(1):
            raise ValueError(f"{item!r} is not an input like name, name[1 3 224 224] or name->[1 2]")
        name, shape, value = match.groups()
        cuts.append(InputCut(name, None if shape is None else _shape_from(shape),
                             None if value is None else _values(value)))
    return tuple(cuts)


def parse_output(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    names = tuple(str(i).strip() for i in items if str(i).strip())
    if not names:
        raise ValueError("expected at least one output name")
    return names


_BOOLEANS = {"true": 1.0, "false": 0.0}


def _values(text: str) -> tuple[float, ...]:
    """`[1 2 3]`, `(1,2)`, `7` or `True` (booleans as 1 and 0, for boolean placeholders)."""
    body = text.strip().strip("[]()")
    try:
        return tuple(_BOOLEANS[v.lower()] if v.lower() in _BOOLEANS else float(v)
                     for v in re.split(r"[,\s]+", body.strip()) if v)
    except ValueError:
        raise ValueError(f"{text!r} is not a list of numbers") from None


def parse_frozen_values(raw: Any) -> tuple[tuple[str, tuple[float, ...]], ...]:
    """`name->True`, `a->[1 2],b->3`, a list of such texts, or `{name = true, b = [1, 2]}`."""
    if isinstance(raw, Mapping):
        items = [(str(k), v) for k, v in raw.items()]
    else:
        texts = raw if isinstance(raw, (list, tuple)) else _split_top_level(str(raw))
        items = []
        for text in texts:
            name, arrow, value = str(text).partition("->")
            if not arrow or not name.strip() or not value.strip():
                raise ValueError(f"{text!r} is not like name->value or name->[1 2 3]")
            items.append((name.strip(), value))
    if not items:
        raise ValueError("expected at least one name->value")
    return tuple(sorted((name, _frozen(value)) for name, value in items))


def _frozen(value: Any) -> tuple[float, ...]:
    if isinstance(value, str):
        values = _values(value)
    elif isinstance(value, (bool, int, float)):
        values = (float(value),)
    elif isinstance(value, (list, tuple)) and all(isinstance(v, (bool, int, float))
                                                  for v in value):
        values = tuple(float(v) for v in value)
    else:
        raise TypeError(f"expected a number, true/false or a list of numbers, got {value!r}")
    if not values:
        raise ValueError(f"{value!r} gives no value")
    return values


def parse_patterns(raw: Any) -> tuple[str, ...]:
    """Regular expressions, comma-separated as mo took them (`Convolution1,.*Scale.*`) or a
    list; each must compile."""
    items = raw if isinstance(raw, (list, tuple)) else _split_top_level(str(raw))
    patterns = tuple(str(p).strip() for p in items if str(p).strip())
    if not patterns:
        raise ValueError("expected at least one regular expression")
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
    return patterns


def parse_folders(raw: Any) -> tuple[str, ...]:
    """`dir`, `dir1,dir2` or a list; an empty text means none, as for mo."""
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    items = [part for item in items for part in (item.split(",") if isinstance(item, str)
                                                 else [item])]
    if not all(isinstance(i, str) for i in items):
        raise TypeError(f"expected folder paths, got {raw!r}")
    return tuple(i.strip() for i in items if i.strip())


def parse_per_input_values(raw: Any) -> tuple[tuple[str, tuple[float, ...]], ...]:
    """`[123,117,104]`, `data[255,255,255],info[1,1,1]`, `[1, 2, 3]` or `{data = [1, 2, 3]}`."""
    if isinstance(raw, Mapping):
        return tuple(sorted((str(k), _numbers(v)) for k, v in raw.items()))
    if isinstance(raw, (list, tuple)):
        return (("", _numbers(raw)),)
    text = str(raw).strip()
    entries = re.findall(r"([^\[\](),]*)[\[(]([^\])]*)[\])]", text)
    leftover = re.sub(r"[^\[\](),]*[\[(][^\])]*[\])]", "", text).replace(",", "").strip()
    if not entries or leftover:
        raise ValueError(f"{text!r} is not like [123,117,104] or data[123,117,104]")
    parsed = tuple((name.strip(), _values(body)) for name, body in entries)
    if any(not values for _, values in parsed):
        raise ValueError(f"{text!r} has an empty list of values")
    return parsed


def _numbers(raw: Any) -> tuple[float, ...]:
    if isinstance(raw, str):
        return _values(raw)
    if not isinstance(raw, (list, tuple)) or not raw or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
        raise ValueError(f"{raw!r} is not a non-empty list of numbers")
    return tuple(float(v) for v in raw)


def parse_data_type(raw: Any) -> str:
    aliases = {"FP32": "FP32", "FLOAT": "FP32", "FP16": "FP16", "HALF": "FP16"}
    key = str(raw).upper()
    if key not in aliases:
        raise ValueError(f"{raw!r} is not one of FP32, FP16 (or float, half)")
    return aliases[key]


def parse_framework(raw: Any) -> str:
    value = str(raw).lower()
    if value not in ("onnx", "tf"):
        raise ValueError(f"{raw!r} is not a supported framework (onnx, tf)")
    return value


def parse_tags(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    return tuple(str(t).strip() for t in items if str(t).strip())


def parse_transformations_config(raw: Any) -> str:
    """A replacement-config file; mo's shipped SSD files, however their path is spelled,
    normalize to their bare name (what the file says is built in)."""
    from .replacement_names import canonical_name

    text = _text(raw).strip()
    if not text:
        raise ValueError("expected a file name or path, got an empty text")
    return canonical_name(text)


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets: `a[1,2],b` -> [`a[1,2]`, `b`] (nor
    inside braces, for regular expressions such as `x{1,2}`)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[({"
        depth -= ch in "])}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


_PARSERS = {
    "input": parse_input,
    "output": parse_output,
    "input_shape": parse_input_shape,
    "batch": _positive_int,
    "mean_values": parse_per_input_values,
    "scale_values": parse_per_input_values,
    "scale": _number,
    "reverse_input_channels": _switch,
    "data_type": parse_data_type,
    "disable_fusing": _switch,
    "disable_gfusing": _switch,
    "compress_to_fp16": _switch,
    "input_model_is_text": _switch,
    "framework": parse_framework,
    "saved_model_tags": parse_tags,
    "transformations_config": parse_transformations_config,
    "tensorflow_use_custom_operations_config": parse_transformations_config,
    "freeze_placeholder_with_value": parse_frozen_values,
    "finegrain_fusing": parse_patterns,
    "extensions": parse_folders,
    "nhwc_to_nchw": _switch,
    "disable_nhwc_to_nchw": _switch,
    "steps": _switch,
    "tensorboard_logdir": _text,
}

_INERT_PARSERS = {"log_level": _text, "tensorflow_subgraph_patterns": _text,
                  "tensorflow_operation_patterns": _text,
                  "tensorflow_custom_layer_libraries": _text,
                  "tensorflow_custom_operations_config_update": _text}

# The flag names a manifest may use (everything but paths, which the pipeline sets itself); the
# inert ones are accepted there too, saying what happens instead when the model converts.
CONVERSION_FLAGS = frozenset(_PARSERS) | {"tensorflow_object_detection_api_pipeline_config"} | \
    frozenset(INERT_FLAGS)
