"""The converter's errors, kept apart by whose fault they are.

`UserInputError` is raised for what the user can fix (a flag, a file, an unsupported op), and its
message says what to change; `InternalError` for our own bugs, and its message asks for a
report. Every error carries where it happened as fields a caller can read: `model` (the input
file, or the model's name without one), `stage` (`frontend onnx`, `frontend tf`, `pass NAME`,
`writer`) and `node` (a `NodeRef`: op type and name). Whoever raises an error fills what it
knows; the layers around it fill the rest on the way out (`ConversionError.locate`,
`attributed`). `str()` renders all of it as one paragraph:

    m.onnx, pass constant_folding, Divide node 'div': folding it raised FloatingPointError:
    divide by zero. This is a converter bug, not a fault of the model or the flags; please
    report it.
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from typing import Iterator, NamedTuple


class NodeRef(NamedTuple):
    """The node an error is about: its op type (source or OpenVINO) and its name."""

    op: str
    name: str

    def __str__(self) -> str:
        return f"{self.op} node {self.name!r}"


class ConversionError(Exception):
    """Base of every error the converter raises on purpose.

    `detail` is what went wrong; `advice`, per class, what to do about it. The location fields
    are rendered before the detail unless the detail already names them."""

    advice = ""

    def __init__(self, detail: str, *, stage: str | None = None, node: NodeRef | None = None,
                 model: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.stage = stage
        self.node = node
        self.model = model

    def locate(self, *, stage: str | None = None, node: NodeRef | None = None,
               model: str | None = None) -> "ConversionError":
        """Fill the location fields that are still unknown (the innermost layer knows best)."""
        self.stage = self.stage or stage
        self.node = self.node or node
        self.model = self.model or model
        return self

    def where(self) -> str:
        """Model, stage and node, each left out when unknown; the model and the node also when
        the detail already names them (many details start with the file's path)."""
        node = None if self.node is None else str(self.node)
        parts = [_unless_in(self.model, self.detail), self.stage, _unless_in(node, self.detail)]
        return ", ".join(p for p in parts if p)

    def __str__(self) -> str:
        where = self.where()
        text = f"{where}: {self.detail}" if where else self.detail
        if self.advice:
            text = f"{text.rstrip().rstrip('.')}. {self.advice}"
        return text

    def __reduce__(self):
        # keyword-only fields would be lost by Exception's default pickling (args only)
        return _restore, (type(self), self.args, self.__dict__)


def _unless_in(part: str | None, text: str) -> str | None:
    return None if part and part in text else part


def _restore(cls: type, args: tuple, state: dict) -> ConversionError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class UserInputError(ConversionError):
    """The model or the flags given cannot be converted as they are; the message says why."""


class ModelLoadError(UserInputError):
    """The model file cannot be read (missing, truncated, wrong format)."""


class UnsupportedOpsError(UserInputError):
    """The model uses operations the frontend does not translate; lists every one of them."""

    def __init__(self, framework: str, unsupported: list[tuple[str, str]]):
        # a malformed file can hold names that are not UTF-8 (protobuf then gives bytes)
        unsupported = [tuple(t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t)
                             for t in pair) for pair in unsupported]
        self.unsupported = unsupported
        lines = "\n".join(f"  {op} (node {name!r})" for op, name in unsupported)
        counts = Counter(op for op, _ in unsupported)  # how many nodes of each op type
        kinds = [f"{op} x{counts[op]}" for op in sorted(counts)]
        super().__init__(
            f"{len(unsupported)} {framework} node(s) use operations this converter does not "
            f"support yet ({', '.join(kinds)}):\n{lines}"
        )


class ShapeMismatchError(UserInputError):
    """The model's static shapes do not fit an operation (e.g. MatMul of [1,4] and [5,2])."""

    advice = "Check the model and any --input_shape or --batch given."


class InternalError(ConversionError):
    """A bug in the converter itself: a handler or pass produced an inconsistent graph."""

    advice = "This is a converter bug, not a fault of the model or the flags; please report it."


def describe(exc: BaseException) -> str:
    """An unexpected exception as text: its type, then its message when it has one."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@contextmanager
def attributed(*, stage: str | None = None, node: NodeRef | None = None,
               model: str | None = None, doing: str = "it",
               passthrough: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Errors leaving the block carry this location. Our own errors keep their kind and gain
    the fields they lack; any other exception (not in `passthrough`) is a converter bug and
    becomes an `InternalError` saying that `doing` raised it."""
    try:
        yield
    except ConversionError as exc:
        raise exc.locate(stage=stage, node=node, model=model)
    except passthrough:
        raise
    except Exception as exc:
        raise InternalError(f"{doing} raised {describe(exc)}", stage=stage, node=node,
                            model=model) from exc
