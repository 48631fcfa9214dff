"""One handler per TensorFlow op, registered in modules by family."""
from ...common import HandlerRegistry

registry = HandlerRegistry("TensorFlow")

from . import basic, elementwise, math, nn, shape  # noqa: E402,F401  (registration)
from . import array_ops, image_ops, detection_ops  # noqa: E402,F401
from . import control_flow, tensor_list  # noqa: E402,F401
from . import spatial_ops  # noqa: E402,F401
from . import sequence_ops  # noqa: E402,F401
