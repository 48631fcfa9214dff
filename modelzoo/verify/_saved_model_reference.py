"""The SavedModel reference: the original SavedModel, run through one of its signatures.

TF2's loader runs the signature as saved. A TF1 SavedModel (no object graph) is loaded the same
way, but when TensorFlow cannot call its TF2 signature it runs in a v1 session instead, with
`tf.compat.v1.saved_model.loader.load` and the signature's tensors. Either way inputs and
outputs are named by their signature keys; a TF1 model's also carry its tensor names.
"""
from __future__ import annotations

from pathlib import Path

from ._tf_references import numpy_dtype_name, round_session_weights, shape_of
from .errors import VerifierUnavailable
from .references import feeds_by_name, first_line, import_runtime, round_to_fp16
from .source import SourceModel, TensorInfo


class SavedModelReference:
    runtime = "tensorflow"

    def __init__(self, source: SourceModel, fp16_weights: bool = False):
        tf = import_runtime("tensorflow", source)
        self.source, self.fp16_weights, self.version = source, fp16_weights, tf.__version__
        meta_graph = _meta_graph(source.path, list(source.tags), source.signature)
        self._tags = list(source.tags) or list(meta_graph.meta_info_def.tags)
        self._signature_def = meta_graph.signature_def[source.signature]
        self._tf1 = not meta_graph.object_graph_def.nodes
        self._function = self._v1 = None
        where = f"signature {source.signature!r} (tags {', '.join(self._tags)})"
        try:
            self._function = self._load_function(tf)
            self.detail = f"SavedModel {where} through TF2's loader"
        except Exception as exc:  # noqa: BLE001 - TensorFlow's load errors have no common base
            if not self._tf1:
                raise VerifierUnavailable(f"{source.path}: TensorFlow cannot load this "
                                          f"SavedModel ({first_line(exc)})") from None
            self._use_v1(tf, first_line(exc))
            return
        self.inputs, self.outputs = self._function_infos(tf)

    def with_fp16_weights(self) -> "SavedModelReference":
        return SavedModelReference(self.source, fp16_weights=True)

    def run(self, feeds: dict) -> dict:
        feeds = feeds_by_name(self.inputs, feeds, self.source.path)
        tf = import_runtime("tensorflow", self.source)
        if self._function is not None:
            try:
                return self._call_function(tf, feeds)
            except Exception as exc:  # noqa: BLE001
                if not self._tf1:
                    raise VerifierUnavailable(f"{self.source.path}: TensorFlow failed to run "
                                              f"its signature ({first_line(exc)})") from None
                self._use_v1(tf, first_line(exc))
        graph, session, extra_feeds = self._v1
        feed_dict = {self._signature_def.inputs[key].name: value for key, value in feeds.items()}
        keys = sorted(self._signature_def.outputs)
        try:
            values = session.run([self._signature_def.outputs[key].name for key in keys],
                                 {**extra_feeds, **feed_dict})
        except (tf.errors.OpError, ValueError, TypeError) as exc:
            raise VerifierUnavailable(f"{self.source.path}: TensorFlow failed to run signature "
                                      f"{self.source.signature!r} ({first_line(exc)})") from None
        return dict(zip(keys, values))

    # -- TF2 -----------------------------------------------------------------------------------
    def _load_function(self, tf):
        loaded = tf.saved_model.load(str(self.source.path), tags=self._tags)
        function = loaded.signatures[self.source.signature]
        if self.fp16_weights:
            for variable in function.variables:
                if variable.dtype.is_floating:
                    variable.assign(round_to_fp16(variable.numpy()))
        self._loaded = loaded  # the signature's variables live as long as the loaded object
        return function

    def _function_infos(self, tf) -> tuple[list[TensorInfo], list[TensorInfo]]:
        specs = self._function.structured_input_signature[1]
        inputs = [TensorInfo(key, numpy_dtype_name(tf, spec.dtype), shape_of(spec.shape),
                             frozenset({spec.name, f"{spec.name}:0"} if spec.name else ())
                             | self._tensor_aliases(self._signature_def.inputs, key))
                  for key, spec in specs.items()]
        structured = self._function.structured_outputs
        outputs = [TensorInfo(key, numpy_dtype_name(tf, structured[key].dtype),
                              shape_of(structured[key].shape),
                              self._tensor_aliases(self._signature_def.outputs, key))
                   for key in sorted(structured)]
        return inputs, outputs

    def _tensor_aliases(self, tensors, key: str) -> frozenset[str]:
        """A TF1 model's tensor names (`x:0`, `x`), which a v1 run is fed and read by."""
        if not self._tf1 or key not in tensors:
            return frozenset()
        return frozenset({tensors[key].name, tensors[key].name.rsplit(":", 1)[0]})

    def _call_function(self, tf, feeds: dict) -> dict:
        specs = self._function.structured_input_signature[1]
        arguments = {key: tf.convert_to_tensor(value, dtype=specs[key].dtype)
                     for key, value in feeds.items()}
        results = self._function(**arguments)
        return {info.name: results[info.name].numpy() for info in self.outputs}

    # -- TF1 -----------------------------------------------------------------------------------
    def _use_v1(self, tf, why: str) -> None:
        """Load the SavedModel in a v1 session; inputs and outputs from its signature_def."""
        with tf.Graph().as_default() as graph:
            session = tf.compat.v1.Session(graph=graph)
            try:
                tf.compat.v1.saved_model.loader.load(session, self._tags, str(self.source.path))
                extra_feeds = round_session_weights(tf, graph, session, feed_constants=True) \
                    if self.fp16_weights else {}
            except Exception as exc:  # noqa: BLE001
                raise VerifierUnavailable(f"{self.source.path}: TensorFlow cannot load this "
                                          f"SavedModel ({why}; v1 loader: {first_line(exc)})"
                                          ) from None
        self._function, self._v1 = None, (graph, session, extra_feeds)
        self.inputs = [self._v1_info(tf, self._signature_def.inputs, key)
                       for key in sorted(self._signature_def.inputs)]
        self.outputs = [self._v1_info(tf, self._signature_def.outputs, key)
                        for key in sorted(self._signature_def.outputs)]
        self.detail = (f"SavedModel signature {self.source.signature!r} (tags "
                       f"{', '.join(self._tags)}) in a v1 session; TF2's loader failed: {why}")

    def _v1_info(self, tf, tensors, key: str) -> TensorInfo:
        info = tensors[key]
        shape = None if info.tensor_shape.unknown_rank else tuple(
            dim.size if dim.size >= 0 else None for dim in info.tensor_shape.dim)
        return TensorInfo(key, numpy_dtype_name(tf, info.dtype), shape,
                          self._tensor_aliases(tensors, key))


def _meta_graph(folder: Path, tags: list[str], signature: str):
    """The MetaGraphDef saved under exactly `tags`, with the signature asked for; otherwise a
    VerifierUnavailable listing the tag sets or the signatures there are. Without `tags`: the
    only meta graph when there is one, else the one tagged "serve" (as the converter picks)."""
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    try:
        if (folder / "saved_model.pb").is_file():
            saved_model.ParseFromString((folder / "saved_model.pb").read_bytes())
        else:
            text_format.Parse((folder / "saved_model.pbtxt").read_text(), saved_model)
    except Exception as exc:  # noqa: BLE001 - OSError, DecodeError, ParseError
        raise VerifierUnavailable(f"{folder}: not a readable SavedModel folder "
                                  f"({first_line(exc)}); pass the folder that holds "
                                  f"saved_model.pb") from None
    if not tags and len(saved_model.meta_graphs) == 1:
        tags = list(saved_model.meta_graphs[0].meta_info_def.tags)
    tags = tags or ["serve"]
    found = [meta for meta in saved_model.meta_graphs if set(meta.meta_info_def.tags) == set(tags)]
    if not found:
        known = "; ".join(", ".join(sorted(meta.meta_info_def.tags)) or "(no tags)"
                          for meta in saved_model.meta_graphs)
        raise VerifierUnavailable(f"{folder}: no meta graph is tagged {', '.join(tags)} (tag "
                                  f"sets saved: {known or 'none'}); pass one of them as the "
                                  f"model's saved_model_tags")
    if signature not in found[0].signature_def:
        known = ", ".join(sorted(found[0].signature_def)) or "none"
        raise VerifierUnavailable(f"{folder}: no signature {signature!r} under tags "
                                  f"{', '.join(tags)} (signatures: {known})")
    return found[0]
