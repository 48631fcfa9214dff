"""Offline stand-ins for the shipped manifest's downloadable models.

The real archives of `models.toml` cannot be fetched without internet, so each buildable entry
gets a small stand-in with the real file's layout: the same file names inside the archive and
the same node names where the entry's flags point (`input`, `output`, the `model` path), with
small seeded weights. Serving a stand-in at the entry's place exercises its flags unchanged.
The Object Detection API entries get the project's own tiny SSD export under their folder name.

    files = build_standins(folder)     # {"mobilenet-v2-1_0-224": Path(...tgz), ...}

The graphs are built by TensorFlow in a child process (`python tests/standins.py FOLDER`):
TensorFlow names nodes from process-wide counters, so a build inside the test process would
depend on what ran before it. The archive is packed here, byte-reproducibly.
"""
from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

MOBILENET = "mobilenet-v2-1_0-224"
RESNET = "resnet-50-tf"

MOBILENET_STEM = "mobilenet_v2_1.0_224"
MOBILENET_ARCHIVE = f"{MOBILENET_STEM}.tgz"
MOBILENET_FILES = (f"{MOBILENET_STEM}.ckpt.data-00000-of-00001", f"{MOBILENET_STEM}.ckpt.index",
                   f"{MOBILENET_STEM}.ckpt.meta", f"{MOBILENET_STEM}_eval.pbtxt",
                   f"{MOBILENET_STEM}_frozen.pb", f"{MOBILENET_STEM}_info.txt")
MOBILENET_OUTPUT = "MobilenetV2/Predictions/Reshape_1"
RESNET_FILE = "resnet_v1-50.pb"
RESNET_CUT = "map/TensorArrayStack/TensorArrayGatherV3"
RESNET_OUTPUT = "softmax_tensor"
CLASSES = 10
# ResNet takes pixels in [0, 255] less the mean, unscaled: its first kernel is small to match.
PIXEL_GAIN = 1 / 128
IMAGE = (1, 224, 224, 3)
# The Object Detection API entries: the project's real (tiny) SSD export, its folder renamed to
# the zoo archive's, so the entry finds its frozen graph and pipeline.config where it would.
SSD_EXPORT = Path(__file__).resolve().parent / "data" / "ssd_mobilenet_v2_tiny_voc.tar.gz"
SSD_ARCHIVES = {
    "ssd_mobilenet_v2_coco": "ssd_mobilenet_v2_coco_2018_03_29",
    "ssd_mobilenet_v1_coco": "ssd_mobilenet_v1_coco_2018_01_28",
    "ssdlite_mobilenet_v2": "ssdlite_mobilenet_v2_coco_2018_05_09",
}


def build_standins(folder: Path, seed: int = 0) -> dict[str, Path]:
    """Build both stand-ins in `folder`; the file to serve for each manifest entry."""
    graphs = folder / "graphs"
    graphs.mkdir(parents=True, exist_ok=True)
    _run_tensorflow_child(graphs, seed)
    archive = folder / MOBILENET_ARCHIVE
    archive.write_bytes(flat_tgz({name: (graphs / name).read_bytes() for name in MOBILENET_FILES}))
    files = {MOBILENET: archive, RESNET: graphs / RESNET_FILE}
    for name, stem in SSD_ARCHIVES.items():
        files[name] = folder / name / f"{stem}.tar.gz"
        files[name].parent.mkdir(exist_ok=True)
        files[name].write_bytes(renamed_export(stem))
    return files


def renamed_export(stem: str) -> bytes:
    """The SSD test export with its top folder called `stem`."""
    out = io.BytesIO()
    with tarfile.open(SSD_EXPORT) as source, tarfile.open(fileobj=out, mode="w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member) if member.isfile() else None
            member.name = "/".join([stem, *member.name.split("/")[1:]])
            target.addfile(member, data)
    return out.getvalue()


def _run_tensorflow_child(out_dir: Path, seed: int) -> None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, __file__, str(out_dir), str(seed)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building the stand-in models failed:\n{done.stderr[-4000:]}")


def flat_tgz(files: dict[str, bytes]) -> bytes:
    """A .tgz whose members sit at its top as `./NAME` after a `./` folder entry, the way
    `tar czf x.tgz .` packs them (and the MobileNet checkpoints are packed); zero mtimes and
    owners, so the bytes depend only on the files."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_tar_info("./", tarfile.DIRTYPE, 0o755))
        for name in sorted(files):
            info = _tar_info(f"./{name}", tarfile.REGTYPE, 0o644)
            info.size = len(files[name])
            tar.addfile(info, io.BytesIO(files[name]))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _tar_info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = kind, mode
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


# -- in the child process: the graphs ---------------------------------------------------------
class _Weights:
    """Seeded weights, He-scaled so activations stay in a useful range through the layers."""

    def __init__(self, seed: int):
        import numpy as np

        self.np = np
        self.rng = np.random.default_rng(seed)

    def kernel(self, *shape: int, gain: float = 1.0):
        fan_in = int(self.np.prod(shape[:-1]))
        return self.rng.normal(0, gain * (2.0 / fan_in) ** 0.5, shape).astype(self.np.float32)

    def depthwise(self, size: int, channels: int):
        return self.rng.normal(0, (2.0 / size ** 2) ** 0.5, (size, size, channels, 1)).astype(self.np.float32)

    def vector(self, n: int, low: float, high: float):
        return self.rng.uniform(low, high, n).astype(self.np.float32)


def _batch_norm(tf, x, weights: _Weights, make, scope: str):
    """FusedBatchNormV3 at inference, its four statistics made by `make(name, value)`."""
    n = x.shape[-1]
    stats = [make(f"{scope}/{key}", weights.vector(n, low, high)) for key, low, high in
             (("gamma", 0.5, 1.5), ("beta", -0.1, 0.1), ("moving_mean", -0.1, 0.1),
              ("moving_variance", 0.5, 1.5))]
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, *stats, epsilon=1e-3, is_training=False,
                                               name=f"{scope}/FusedBatchNormV3")
    return y


def mobilenet_graph(tf, weights: _Weights, make):
    """TF-slim MobileNet V2 in miniature: the real graph's input, scopes and prediction tail."""
    v1 = tf.compat.v1
    x = v1.placeholder(tf.float32, list(IMAGE), name="input")
    with tf.name_scope("MobilenetV2/Conv/"):
        x = tf.nn.conv2d(x, make("MobilenetV2/Conv/weights", weights.kernel(3, 3, 3, 8)),
                         [1, 2, 2, 1], "SAME", name="Conv2D")
    x = tf.nn.relu6(_batch_norm(tf, x, weights, make, "MobilenetV2/Conv/BatchNorm"),
                    name="MobilenetV2/Conv/Relu6")
    scope = "MobilenetV2/expanded_conv/depthwise"
    x = tf.nn.depthwise_conv2d(x, make(f"{scope}/depthwise_weights", weights.depthwise(3, 8)),
                               [1, 2, 2, 1], "SAME", name=f"{scope}/depthwise")
    x = tf.nn.relu6(_batch_norm(tf, x, weights, make, f"{scope}/BatchNorm"), name=f"{scope}/Relu6")
    scope = "MobilenetV2/expanded_conv/project"
    x = tf.nn.conv2d(x, make(f"{scope}/weights", weights.kernel(1, 1, 8, 16)), [1, 1, 1, 1],
                     "SAME", name=f"{scope}/Conv2D")
    x = _batch_norm(tf, x, weights, make, f"{scope}/BatchNorm")
    x = tf.nn.avg_pool2d(x, [1, 56, 56, 1], [1, 1, 1, 1], "VALID", name="MobilenetV2/Logits/AvgPool")
    scope = "MobilenetV2/Logits/Conv2d_1c_1x1"
    x = tf.nn.conv2d(x, make(f"{scope}/weights", weights.kernel(1, 1, 16, CLASSES)),
                     [1, 1, 1, 1], "SAME", name=f"{scope}/Conv2D")
    x = tf.nn.bias_add(x, make(f"{scope}/biases", weights.vector(CLASSES, -0.1, 0.1)),
                       name=f"{scope}/BiasAdd")
    logits = tf.squeeze(x, [1, 2], name="MobilenetV2/Logits/output")
    flat = tf.reshape(logits, [-1, CLASSES], name="MobilenetV2/Predictions/Reshape")
    probabilities = tf.nn.softmax(flat, name="MobilenetV2/Predictions/Softmax")
    return tf.reshape(probabilities, tf.shape(logits), name=MOBILENET_OUTPUT)


def build_mobilenet(tf, out_dir: Path, seed: int) -> None:
    """The checkpoint (variables), the eval graph as text, the frozen graph and an info file."""
    v1 = tf.compat.v1
    weights = _Weights(seed)
    with tf.Graph().as_default() as graph:
        mobilenet_graph(tf, weights, lambda name, value: v1.Variable(value, name=name))
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            saver.save(session, str(out_dir / f"{MOBILENET_STEM}.ckpt"), write_state=False)
            graph_def = graph.as_graph_def()
            frozen = v1.graph_util.convert_variables_to_constants(session, graph_def, [MOBILENET_OUTPUT])
    v1.train.write_graph(graph_def, str(out_dir), f"{MOBILENET_STEM}_eval.pbtxt", as_text=True)
    (out_dir / f"{MOBILENET_STEM}_frozen.pb").write_bytes(frozen.SerializeToString(deterministic=True))
    (out_dir / f"{MOBILENET_STEM}_info.txt").write_text(
        f"Model: {MOBILENET_STEM} stand-in (seeded weights, {CLASSES} classes)\n"
        f"Input: input\nOutput: {MOBILENET_OUTPUT}\n")


def _decode_and_resize(tf, encoded):
    image = tf.image.decode_jpeg(encoded, channels=3)
    image = tf.image.resize(tf.cast(image, tf.float32), IMAGE[1:3])
    return tf.reshape(image, IMAGE[1:])


def resnet_graph(tf, weights: _Weights):
    """Encoded images decoded in a `tf.map_fn` loop (TensorArrays, DecodeJpeg: ops the
    converter cuts away), then a one-block residual CNN ending in `softmax_tensor`."""
    v1 = tf.compat.v1
    encoded = v1.placeholder(tf.string, [None], name="input_tensor")
    images = tf.map_fn(lambda e: _decode_and_resize(tf, e), encoded, back_prop=False,
                       fn_output_signature=tf.TensorSpec(IMAGE[1:], tf.float32), name="map")
    assert images.op.name == RESNET_CUT, images.op.name
    const = lambda name, value: tf.constant(value, name=name)  # noqa: E731
    with tf.name_scope("resnet_model"):
        x = tf.nn.conv2d(images, const("conv2d/kernel", weights.kernel(7, 7, 3, 16, gain=PIXEL_GAIN)),
                         [1, 2, 2, 1], "SAME", name="conv2d/Conv2D")
        x = tf.nn.relu(_batch_norm(tf, x, weights, const, "batch_normalization"), name="Relu")
        x = tf.nn.max_pool2d(x, 3, 2, "SAME", name="max_pooling2d/MaxPool")
        y = tf.nn.conv2d(x, const("conv2d_1/kernel", weights.kernel(1, 1, 16, 16)),
                         [1, 1, 1, 1], "SAME", name="conv2d_1/Conv2D")
        y = tf.nn.relu(_batch_norm(tf, y, weights, const, "batch_normalization_1"), name="Relu_1")
        y = tf.nn.conv2d(y, const("conv2d_2/kernel", weights.kernel(3, 3, 16, 16)),
                         [1, 1, 1, 1], "SAME", name="conv2d_2/Conv2D")
        y = _batch_norm(tf, y, weights, const, "batch_normalization_2")
        x = tf.nn.relu(tf.add(x, y, name="add"), name="Relu_2")
        x = tf.reduce_mean(x, [1, 2], keepdims=True, name="Mean")
        x = tf.reshape(x, [-1, 16], name="Reshape")
        x = tf.matmul(x, const("dense/kernel", weights.kernel(16, CLASSES)), name="dense/MatMul")
        logits = tf.nn.bias_add(x, const("dense/bias", weights.vector(CLASSES, -0.1, 0.1)),
                                name="dense/BiasAdd")
        logits = tf.identity(logits, name="final_dense")
    tf.argmax(logits, axis=1, name="ArgMax")
    return tf.nn.softmax(logits, name=RESNET_OUTPUT)


def build_resnet(tf, out_dir: Path, seed: int) -> None:
    with tf.Graph().as_default() as graph:
        resnet_graph(tf, _Weights(seed + 1))
    (out_dir / RESNET_FILE).write_bytes(graph.as_graph_def().SerializeToString(deterministic=True))


def main(argv: list[str]) -> int:
    import tensorflow as tf

    # Graph-era ops, as in the real files: reference variables (VariableV2 + `/read`), and
    # v1 control flow, whose map_fn keeps its images in TensorArrayV3 ops.
    tf.compat.v1.disable_resource_variables()
    tf.compat.v1.disable_control_flow_v2()
    out_dir, seed = Path(argv[0]), int(argv[1])
    build_mobilenet(tf, out_dir, seed)
    build_resnet(tf, out_dir, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
