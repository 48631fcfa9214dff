"""The benchmark's TensorFlow models, built in a process of their own (TF's name counters).

`python -m bench.models_tf OUT_DIR SEED` writes `resnet50.pb` and `mobilenet_v2.pb` (Keras
applications with seeded random weights, frozen with convert_variables_to_constants_v2) and
`savedmodel/` (a Keras MobileNetV2 saved with tf.saved_model.save). Nothing is downloaded.
"""
from __future__ import annotations

import sys
from pathlib import Path

SIZE = 224


def _frozen_bytes(model) -> bytes:
    import tensorflow as tf

    from modelzoo.localzoo_tf import frozen_graph_def

    spec = tf.TensorSpec([1, SIZE, SIZE, 3], tf.float32, name="input")
    function = tf.function(lambda x: model(x, training=False))
    return frozen_graph_def(function, spec).SerializeToString(deterministic=True)


def _application(name: str, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    build = getattr(keras.applications, name)
    return build(input_shape=(SIZE, SIZE, 3), weights=None)


def build_frozen(out_dir: Path, name: str, file_name: str, seed: int) -> None:
    target = out_dir / file_name
    if not target.exists():
        data = _frozen_bytes(_application(name, seed))
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
    wanted = set(argv[2:]) or {"resnet50", "mobilenet_v2", "savedmodel"}
    out_dir.mkdir(parents=True, exist_ok=True)
    if "resnet50" in wanted:
        build_frozen(out_dir, "ResNet50", "resnet50.pb", seed)
    if "mobilenet_v2" in wanted:
        build_frozen(out_dir, "MobileNetV2", "mobilenet_v2.pb", seed)
    if "savedmodel" in wanted:
        build_saved_model(out_dir, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
