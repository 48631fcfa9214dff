"""The converter's errors, kept apart by whose fault they are.

`UserInputError` is raised for what the user can fix (a flag, a file, an unsupported op);
`InternalError` for our own bugs, with the pass or handler that failed named in the message.
Both carry text meant to be read by a person, never a bare traceback.
"""


class ConversionError(Exception):
    """Base of every error the converter raises on purpose."""


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
        kinds = sorted({op for op, _ in unsupported})
        super().__init__(
            f"{len(unsupported)} {framework} node(s) use operations this converter does not "
            f"support yet ({', '.join(kinds)}):\n{lines}"
        )


class ShapeMismatchError(UserInputError):
    """The model's static shapes do not fit an operation (e.g. MatMul of [1,4] and [5,2])."""


class InternalError(ConversionError):
    """A bug in the converter itself: a handler or pass produced an inconsistent graph."""
