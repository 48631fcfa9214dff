"""One handler per TensorFlow op, registered in modules by family."""
from ...common import HandlerRegistry

registry = HandlerRegistry("TensorFlow")

from . import basic, elementwise, math, nn, shape  # noqa: E402,F401  (registration)
