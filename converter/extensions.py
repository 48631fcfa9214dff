"""User extensions: graph passes and op handlers loaded from folders (`--extensions DIR[,DIR]`).

Every `*.py` file of a folder whose name does not start with `_` is imported, in name order, and
may define any of:

    # a pass, run once at the place it names in converter.passes.PIPELINE (the first pass of
    # that name), under the built-in passes' contract (shapes re-inferred after it, the model's
    # inputs and outputs kept); `run` returns the number of rewrites it made
    AFTER = "constant_folding"            # or BEFORE = "compress_fp16"
    NAME = "my_pass"                      # optional: how --steps and errors name it (the stem)
    def run(graph, options) -> int: ...

    # op handlers, one per source op, exactly like the built-in ones (`ctx` is the frontend's
    # node context: ctx.input(i), ctx.attrs, ctx.op(...), ctx.graph); a name the frontend already
    # handles is handled by the extension instead
    TF_HANDLERS = {"MyOp": handler}
    ONNX_HANDLERS = {"MyOp": handler, "com.example.MyOp": handler}   # "domain.op" outside ONNX's

A file defining none of them is refused (a misspelt name would otherwise do nothing). The
handlers are registered for one conversion only: the registries are restored when it ends, so
extensions never leak into the next conversion in the same process. An exception raised by an
extension's pass or handler is reported as the extension's (a UserInputError naming its file),
not as a converter bug. The files' contents key the build cache (`extensions_digest`), so editing
an extension rebuilds the IRs it touched.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Sequence

from .errors import ConversionError, UserInputError, describe

log = logging.getLogger(__name__)

HANDLER_TABLES = {"TF_HANDLERS": "tf", "ONNX_HANDLERS": "onnx"}


@dataclass
class Extensions:
    """What the folders hold: user passes (converter.passes.UserPass) and handlers per
    framework ("tf"/"onnx" -> {op name: handler})."""

    passes: list = field(default_factory=list)
    handlers: dict[str, dict[str, Callable]] = field(default_factory=dict)


def extension_files(folders: Sequence[str]) -> list[Path]:
    """The extension files of `folders`, in order; a folder that is missing is an error."""
    files = []
    for folder in folders:
        path = Path(folder)
        if not path.is_dir():
            raise UserInputError(f"--extensions {folder}: not a folder (give folders of Python "
                                 f"files defining passes or op handlers)")
        files += sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))
    return files


def extensions_digest(folders: Sequence[str]) -> str:
    """sha256 of every extension file's name and content: what keys the cache. A missing
    folder digests as such (the conversion then fails saying so)."""
    digest = hashlib.sha256()
    for folder in folders:
        path = Path(folder)
        digest.update(f"folder {path.name}\0".encode())
        if not path.is_dir():
            digest.update(b"missing\0")
            continue
        for file in sorted(p for p in path.glob("*.py") if not p.name.startswith("_")):
            digest.update(f"{file.name}\0".encode() + file.read_bytes() + b"\0")
    return digest.hexdigest()


def load_extensions(folders: Sequence[str]) -> Extensions:
    from .passes import PIPELINE, UserPass

    found = Extensions()
    for file in extension_files(folders):
        module = _import(file)
        defines = False
        if hasattr(module, "run"):
            found.passes.append(_user_pass(file, module, PIPELINE, UserPass))
            defines = True
        for table, framework in HANDLER_TABLES.items():
            handlers = getattr(module, table, None)
            if handlers is None:
                continue
            if not isinstance(handlers, dict) or not all(
                    isinstance(k, str) and callable(v) for k, v in handlers.items()):
                raise UserInputError(f"extension {file}: {table} must be a dict of op name -> "
                                     f"handler function")
            for op, handler in handlers.items():
                found.handlers.setdefault(framework, {})[op] = _as_users(file, handler)
            defines = True
        if not defines:
            raise UserInputError(f"extension {file}: defines no `run` pass and no TF_HANDLERS or "
                                 f"ONNX_HANDLERS; see converter.extensions for what a file "
                                 f"may define")
        log.info("extension %s loaded", file)
    return found


def _import(file: Path) -> ModuleType:
    name = f"converter_extension_{hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 (the user's code: its failure is reported as theirs)
        raise UserInputError(f"extension {file} failed to load: {describe(exc)}") from exc
    return module


def _user_pass(file: Path, module: ModuleType, pipeline: list[str], user_pass):
    after, before = getattr(module, "AFTER", None), getattr(module, "BEFORE", None)
    if (after is None) == (before is None):
        raise UserInputError(f"extension {file}: a pass says where it runs with exactly one of "
                             f"AFTER = \"pass\" or BEFORE = \"pass\" (passes: "
                             f"{', '.join(dict.fromkeys(pipeline))})")
    anchor = after or before
    if anchor not in pipeline:
        raise UserInputError(f"extension {file}: {'AFTER' if after else 'BEFORE'} names "
                             f"{anchor!r}, which is not a pass (passes: "
                             f"{', '.join(dict.fromkeys(pipeline))})")
    name = str(getattr(module, "NAME", file.stem))
    return user_pass(f"{name} (extension)", _as_users(file, module.run), anchor,
                     "after" if after else "before")


def _as_users(file: Path, function: Callable) -> Callable:
    """`function`, whose unexpected exceptions are reported as the extension's."""
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any):
        try:
            return function(*args, **kwargs)
        except ConversionError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise UserInputError(f"extension {file}: {function.__name__} raised "
                                 f"{describe(exc)}") from exc
    return call


def _registry(framework: str):
    if framework == "tf":
        from .frontends.tf.handlers import registry
    else:
        from .frontends.onnx.handlers import registry
    return registry


@contextlib.contextmanager
def activated(folders: Sequence[str]) -> Iterator[list]:
    """Load the extensions, register their handlers for the duration of the block, and yield
    their passes (for `run_passes`)."""
    if not folders:
        yield []
        return
    found = load_extensions(folders)
    saved = []
    try:
        for framework, handlers in found.handlers.items():
            registry = _registry(framework)
            saved.append((registry, {op: list(v) for op, v in registry._handlers.items()}))
            for op, handler in handlers.items():
                # registered from opset 1 and last, so it wins over a built-in handler
                registry._handlers[op] = [(1, handler)]
        yield found.passes
    finally:
        for registry, handlers in saved:
            registry._handlers.clear()
            registry._handlers.update(handlers)
