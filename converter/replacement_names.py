"""The Model Optimizer's shipped replacement-config files this converter knows by name.

Kept apart from the TensorFlow frontend (which applies the rules, in
`frontends.tf.odapi.replacement_config`) so that reading a `--transformations_config` flag, as
the manifest and the option parser do on every no-op build, imports nothing heavy.
"""
from __future__ import annotations

from pathlib import PurePosixPath

SHIPPED_SSD_CONFIGS = frozenset({
    "ssd_v2_support.json", "ssd_support.json", "ssd_support_api_v1.14.json",
    "ssd_support_api_v1.15.json",
})


def canonical_name(value: str) -> str:
    """A shipped SSD file named by any path stands for its bare name (one cache key for all
    spellings); any other value is kept as given."""
    name = PurePosixPath(value.replace("\\", "/")).name
    return name if name in SHIPPED_SSD_CONFIGS else value
