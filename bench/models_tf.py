"""The benchmark's TensorFlow models, built in a process of their own (TF's name counters).

`python -m bench.models_tf OUT_DIR SEED [NAME ...]` writes the frozen graphs of `FROZEN` (Keras
applications with seeded random weights, frozen with convert_variables_to_constants_v2) and
`savedmodel/` (a Keras MobileNetV2 saved with tf.saved_model.save); by default `resnet50`,
`mobilenet_v2` and `savedmodel`, else the NAMEs given. Nothing is downloaded.
"""
from __future__ import annotations

import sys
from pathlib import Path

SIZE = 224

# name -> (Keras application, input size); each is written as `<name>.pb`.
FROZEN = {"resnet50": ("ResNet50", SIZE), "mobilenet_v2": ("MobileNetV2", SIZE),
          "efficientnet_b0": ("EfficientNetB0", SIZE), "densenet121": ("DenseNet121", SIZE),
          "inception_v3": ("InceptionV3", 299)}
DEFAULT = ("resnet50", "mobilenet_v2", "savedmodel")


def _frozen_bytes(model, size: int = SIZE) -> bytes:
    import tensorflow as tf

    from modelzoo.localzoo_tf import frozen_graph_def

    spec = tf.TensorSpec([1, size, size, 3], tf.float32, name="input")
    function = tf.function(lambda x: model(x, training=False))
    return frozen_graph_def(function, spec).SerializeToString(deterministic=True)


def _application(name: str, seed: int, size: int = SIZE):
    import keras

    keras.utils.set_random_seed(seed)
    build = getattr(keras.applications, name)
    return build(input_shape=(size, size, 3), weights=None)


def build_frozen(out_dir: Path, name: str, file_name: str, seed: int, size: int = SIZE) -> None:
    target = out_dir / file_name
    if not target.exists():
        data = _frozen_bytes(_application(name, seed, size), size)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)


def build_saved_model(out_dir: Path, seed: int) -> None:
    """Keras 3 export (tf.saved_model.save underneath): ovc reads its variables too."""
    import tensorflow as tf

    target = out_dir / "savedmodel"
    if target.exists():
        return
    model = _application("MobileNetV2", seed + 1)
    staging = out_dir / "savedmodel.tmp"
    model.export(str(staging), format="tf_saved_model", verbose=False)
    staging.rename(target)


def main(argv: list[str]) -> int:
    out_dir, seed = Path(argv[0]), int(argv[1])
    wanted = set(argv[2:]) or set(DEFAULT)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = []
    for name, (application, size) in FROZEN.items():
        if name in wanted:
            try:
                build_frozen(out_dir, application, f"{name}.pb", seed, size)
            except Exception as exc:  # the others still get built; the caller sees what is missing
                print(f"{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                failed.append(name)
    if "savedmodel" in wanted:
        build_saved_model(out_dir, seed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
