"""Open Model Zoo's `model.yml` files as manifests, read unchanged.

    doit convert manifest=open_model_zoo/models/public                  # every model.yml under it
    doit convert manifest=open_model_zoo/models/public/NAME/model.yml   # one model
    doit convert manifest=omz.toml     # a TOML whose `open_model_zoo = "PATH"` points at either,
                                       # with [defaults] (precisions, tolerance, limits, folders)

Each model.yml becomes a ModelEntry (see `model_yml`): its files are fetched into the
content-addressed cache and assembled into its download folder (see `assemble`), its
`model_optimizer_args` become our flags (see `mo_args`), and its IR lands where omz_converter
puts it: OUTPUT/public/NAME/PRECISION/NAME.xml, with verify.json beside it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..errors import ManifestError
from ..manifest import ModelEntry

YML_NAMES = ("model.yml", "model.yaml")


def is_omz_source(path: Path) -> bool:
    """A folder, or a YAML file: what Open Model Zoo's manifests are."""
    return path.is_dir() or path.suffix.lower() in (".yml", ".yaml")


def model_ymls(source: Path) -> list[Path]:
    """The model.yml files `source` stands for, in a stable order."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise ManifestError(f"{source}: no such file or folder; give an Open Model Zoo models "
                            "folder (e.g. open_model_zoo/models/public) or one model.yml")
    found = sorted(p for name in YML_NAMES for p in source.rglob(name))
    if not found:
        raise ManifestError(f"{source}: holds no model.yml; give Open Model Zoo's models/public "
                            "folder, a model's folder or its model.yml")
    return found


def load_entries(source: Path, settings: Mapping[str, Any]) -> tuple[ModelEntry, ...]:
    from .model_yml import read_entry

    entries = [read_entry(yml, settings) for yml in model_ymls(source)]
    seen: dict[str, Path] = {}
    for entry in entries:
        if entry.name in seen:
            raise ManifestError(f"{entry.manifest}: model {entry.name!r} is also described by "
                                f"{seen[entry.name]}; model names (folder names) must be unique")
        seen[entry.name] = entry.manifest
    return tuple(entries)
