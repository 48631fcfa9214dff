"""TensorFlow's GraphDef protobuf messages, built at runtime without importing TensorFlow.

Importing TensorFlow costs seconds; converting a frozen graph only needs its message classes.
The descriptors below declare the subset of TensorFlow's framework .proto files a frozen graph,
a SavedModel and a checkpoint use (graph.proto, node_def.proto, attr_value.proto, tensor.proto,
tensor_shape.proto, types.proto, versions.proto, function.proto, op_def.proto, meta_graph.proto,
saved_model.proto, saved_object_graph.proto, trackable_object_graph.proto, tensor_bundle.proto)
with TensorFlow's own field numbers and types; fields left out (debug info, full types,
structured signatures...) are kept as unknown fields and ignored. The tests parse files
TensorFlow wrote and compare with TensorFlow's own classes. One message is ours alone,
`TensorContentSpan`: the file location of a tensor's bytes left out of the parse.
"""
from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "tensorflow"

# types.proto: the DataType values a frozen graph can carry (reference types are value + 100).
DATA_TYPES = {
    "DT_INVALID": 0, "DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4,
    "DT_INT16": 5, "DT_INT8": 6, "DT_STRING": 7, "DT_COMPLEX64": 8, "DT_INT64": 9,
    "DT_BOOL": 10, "DT_QINT8": 11, "DT_QUINT8": 12, "DT_QINT32": 13, "DT_BFLOAT16": 14,
    "DT_QINT16": 15, "DT_QUINT16": 16, "DT_UINT16": 17, "DT_COMPLEX128": 18, "DT_HALF": 19,
    "DT_RESOURCE": 20, "DT_VARIANT": 21, "DT_UINT32": 22, "DT_UINT64": 23,
}

# (name, number, label, type, message/enum type name or None)
_OPT, _REP = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
_MESSAGES: dict[str, list[tuple[str, int, int, int, str | None]]] = {
    "TensorShapeProto.Dim": [
        ("size", 1, _OPT, _F.TYPE_INT64, None),
        ("name", 2, _OPT, _F.TYPE_STRING, None),
    ],
    "TensorShapeProto": [
        ("dim", 2, _REP, _F.TYPE_MESSAGE, "TensorShapeProto.Dim"),
        ("unknown_rank", 3, _OPT, _F.TYPE_BOOL, None),
    ],
    "TensorProto": [
        ("dtype", 1, _OPT, _F.TYPE_ENUM, "DataType"),
        ("tensor_shape", 2, _OPT, _F.TYPE_MESSAGE, "TensorShapeProto"),
        ("version_number", 3, _OPT, _F.TYPE_INT32, None),
        ("tensor_content", 4, _OPT, _F.TYPE_BYTES, None),
        ("float_val", 5, _REP, _F.TYPE_FLOAT, None),
        ("double_val", 6, _REP, _F.TYPE_DOUBLE, None),
        ("int_val", 7, _REP, _F.TYPE_INT32, None),
        ("string_val", 8, _REP, _F.TYPE_BYTES, None),
        ("scomplex_val", 9, _REP, _F.TYPE_FLOAT, None),
        ("int64_val", 10, _REP, _F.TYPE_INT64, None),
        ("bool_val", 11, _REP, _F.TYPE_BOOL, None),
        ("dcomplex_val", 12, _REP, _F.TYPE_DOUBLE, None),
        ("half_val", 13, _REP, _F.TYPE_INT32, None),
        ("uint32_val", 16, _REP, _F.TYPE_UINT32, None),
        ("uint64_val", 17, _REP, _F.TYPE_UINT64, None),
    ],
    "NameAttrList": [
        ("name", 1, _OPT, _F.TYPE_STRING, None),
        ("attr", 2, _REP, _F.TYPE_MESSAGE, "NameAttrList.AttrEntry"),
    ],
    "NameAttrList.AttrEntry": [
        ("key", 1, _OPT, _F.TYPE_STRING, None),
        ("value", 2, _OPT, _F.TYPE_MESSAGE, "AttrValue"),
    ],
    "AttrValue.ListValue": [
        ("s", 2, _REP, _F.TYPE_BYTES, None),
        ("i", 3, _REP, _F.TYPE_INT64, None),
        ("f", 4, _REP, _F.TYPE_FLOAT, None),
        ("b", 5, _REP, _F.TYPE_BOOL, None),
        ("type", 6, _REP, _F.TYPE_ENUM, "DataType"),
        ("shape", 7, _REP, _F.TYPE_MESSAGE, "TensorShapeProto"),
        ("tensor", 8, _REP, _F.TYPE_MESSAGE, "TensorProto"),
        ("func", 9, _REP, _F.TYPE_MESSAGE, "NameAttrList"),
    ],
    "AttrValue": [  # every field sits in the oneof `value`
        ("list", 1, _OPT, _F.TYPE_MESSAGE, "AttrValue.ListValue"),
        ("s", 2, _OPT, _F.TYPE_BYTES, None),
        ("i", 3, _OPT, _F.TYPE_INT64, None),
        ("f", 4, _OPT, _F.TYPE_FLOAT, None),
        ("b", 5, _OPT, _F.TYPE_BOOL, None),
        ("type", 6, _OPT, _F.TYPE_ENUM, "DataType"),
        ("shape", 7, _OPT, _F.TYPE_MESSAGE, "TensorShapeProto"),
        ("tensor", 8, _OPT, _F.TYPE_MESSAGE, "TensorProto"),
        ("placeholder", 9, _OPT, _F.TYPE_STRING, None),
        ("func", 10, _OPT, _F.TYPE_MESSAGE, "NameAttrList"),
    ],
    "NodeDef.AttrEntry": [
        ("key", 1, _OPT, _F.TYPE_STRING, None),
        ("value", 2, _OPT, _F.TYPE_MESSAGE, "AttrValue"),
    ],
    "NodeDef": [
        ("name", 1, _OPT, _F.TYPE_STRING, None),
        ("op", 2, _OPT, _F.TYPE_STRING, None),
        ("input", 3, _REP, _F.TYPE_STRING, None),
        ("device", 4, _OPT, _F.TYPE_STRING, None),
        ("attr", 5, _REP, _F.TYPE_MESSAGE, "NodeDef.AttrEntry"),
    ],
    "VersionDef": [
        ("producer", 1, _OPT, _F.TYPE_INT32, None),
        ("min_consumer", 2, _OPT, _F.TYPE_INT32, None),
        ("bad_consumers", 3, _REP, _F.TYPE_INT32, None),
    ],
    "GraphDef": [
        ("node", 1, _REP, _F.TYPE_MESSAGE, "NodeDef"),
        ("library", 2, _OPT, _F.TYPE_MESSAGE, "FunctionDefLibrary"),
        ("version", 3, _OPT, _F.TYPE_INT32, None),
        ("versions", 4, _OPT, _F.TYPE_MESSAGE, "VersionDef"),
    ],
    # function.proto and op_def.proto: the function library of a TF2 graph.
    "FunctionDefLibrary": [
        ("function", 1, _REP, _F.TYPE_MESSAGE, "FunctionDef"),
    ],
    "FunctionDef": [
        ("signature", 1, _OPT, _F.TYPE_MESSAGE, "OpDef"),
        ("node_def", 3, _REP, _F.TYPE_MESSAGE, "NodeDef"),
        ("ret", 4, _REP, _F.TYPE_MESSAGE, "FunctionDef.RetEntry"),
        ("attr", 5, _REP, _F.TYPE_MESSAGE, "FunctionDef.AttrEntry"),
        ("control_ret", 6, _REP, _F.TYPE_MESSAGE, "FunctionDef.ControlRetEntry"),
    ],
    "FunctionDef.RetEntry": [
        ("key", 1, _OPT, _F.TYPE_STRING, None),
        ("value", 2, _OPT, _F.TYPE_STRING, None),
    ],
    "FunctionDef.ControlRetEntry": [
        ("key", 1, _OPT, _F.TYPE_STRING, None),
        ("value", 2, _OPT, _F.TYPE_STRING, None),
    ],
    "FunctionDef.AttrEntry": [
        ("key", 1, _OPT, _F.TYPE_STRING, None),
        ("value", 2, _OPT, _F.TYPE_MESSAGE, "AttrValue"),
    ],
    "OpDef": [
        ("name", 1, _OPT, _F.TYPE_STRING, None),
        ("input_arg", 2, _REP, _F.TYPE_MESSAGE, "OpDef.ArgDef"),
        ("output_arg", 3, _REP, _F.TYPE_MESSAGE, "OpDef.ArgDef"),
        ("attr", 4, _REP, _F.TYPE_MESSAGE, "OpDef.AttrDef"),
    ],
    "OpDef.AttrDef": [
        ("name", 1, _OPT, _F.TYPE_STRING, None),
        ("type", 2, _OPT, _F.TYPE_STRING, None),
        ("default_value", 3, _OPT, _F.TYPE_MESSAGE, "AttrValue"),
    ],
    "OpDef.ArgDef": [
        ("name", 1, _OPT, _F.TYPE_STRING, None),
        ("type", 3, _OPT, _F.TYPE_ENUM, "DataType"),
        ("type_attr", 4, _OPT, _F.TYPE_STRING, None),
        ("number_attr", 5, _OPT, _F.TYPE_STRING, None),
        ("type_list_attr", 6, _OPT, _F.TYPE_STRING, None),
    ],
    "OpList": [
        ("op", 1, _REP, _F.TYPE_MESSAGE, "OpDef"),
    ],
    # meta_graph.proto and saved_model.proto: a SavedModel or a checkpoint's .meta file.
    "SavedModel": [
        ("saved_model_schema_version", 1, _OPT, _F.TYPE_INT64, None),
        ("meta_graphs", 2, _REP, _F.TYPE_MESSAGE, "MetaGraphDef"),
    ],
    "MetaGraphDef": [
        ("meta_info_def", 1, _OPT, _F.TYPE_MESSAGE, "MetaInfoDef"),
        ("graph_def", 2, _OPT, _F.TYPE_MESSAGE, "GraphDef"),
        ("saver_def", 3, _OPT, _F.TYPE_MESSAGE, "SaverDef"),
        ("collection_def", 4, _REP, _F.TYPE_MESSAGE, "MetaGraphDef.CollectionDefEntry"),
        ("signature_def", 5, _REP, _F.TYPE_MESSAGE, "MetaGraphDef.SignatureDefEntry"),
        ("object_graph_def", 7, _OPT, _F.TYPE_MESSAGE, "SavedObjectGraph"),
    ],
    "MetaGraphDef.CollectionDefEntry": [
        ("key", 1, _OPT, _F.TYPE_STRING, None),
        ("value", 2, _OPT, _F.TYPE_MESSAGE, "CollectionDef"),
    ],
    "MetaGraphDef.SignatureDefEntry": [
        ("key", 1, _OPT, _F.TYPE_STRING, None),
        ("value", 2, _OPT, _F.TYPE_MESSAGE, "SignatureDef"),
    ],
    "MetaInfoDef": [
        ("meta_graph_version", 1, _OPT, _F.TYPE_STRING, None),
        ("stripped_op_list", 2, _OPT, _F.TYPE_MESSAGE, "OpList"),
        ("tags", 4, _REP, _F.TYPE_STRING, None),
        ("tensorflow_version", 5, _OPT, _F.TYPE_STRING, None),
    ],
    "SaverDef": [
        ("filename_tensor_name", 1, _OPT, _F.TYPE_STRING, None),
        ("save_tensor_name", 2, _OPT, _F.TYPE_STRING, None),
        ("restore_op_name", 3, _OPT, _F.TYPE_STRING, None),
    ],
    "CollectionDef": [
        ("node_list", 1, _OPT, _F.TYPE_MESSAGE, "CollectionDef.NodeList"),
        ("bytes_list", 2, _OPT, _F.TYPE_MESSAGE, "CollectionDef.BytesList"),
    ],
    "CollectionDef.NodeList": [
        ("value", 1, _REP, _F.TYPE_STRING, None),
    ],
    "CollectionDef.BytesList": [
        ("value", 1, _REP, _F.TYPE_BYTES, None),
    ],
    "SignatureDef": [
        ("inputs", 1, _REP, _F.TYPE_MESSAGE, "SignatureDef.InputsEntry"),
        ("outputs", 2, _REP, _F.TYPE_MESSAGE, "SignatureDef.OutputsEntry"),
        ("method_name", 3, _OPT, _F.TYPE_STRING, None),
    ],
    "SignatureDef.InputsEntry": [
        ("key", 1, _OPT, _F.TYPE_STRING, None),
        ("value", 2, _OPT, _F.TYPE_MESSAGE, "TensorInfo"),
    ],
    "SignatureDef.OutputsEntry": [
        ("key", 1, _OPT, _F.TYPE_STRING, None),
        ("value", 2, _OPT, _F.TYPE_MESSAGE, "TensorInfo"),
    ],
    "TensorInfo": [
        ("name", 1, _OPT, _F.TYPE_STRING, None),
        ("dtype", 2, _OPT, _F.TYPE_ENUM, "DataType"),
        ("tensor_shape", 3, _OPT, _F.TYPE_MESSAGE, "TensorShapeProto"),
    ],
    # saved_object_graph.proto: which graph nodes are the model's variables.
    "SavedObjectGraph": [
        ("nodes", 1, _REP, _F.TYPE_MESSAGE, "SavedObject"),
        ("concrete_functions", 2, _REP, _F.TYPE_MESSAGE,
         "SavedObjectGraph.ConcreteFunctionsEntry"),
    ],
    "SavedObjectGraph.ConcreteFunctionsEntry": [
        ("key", 1, _OPT, _F.TYPE_STRING, None),
        ("value", 2, _OPT, _F.TYPE_MESSAGE, "SavedConcreteFunction"),
    ],
    "ObjectReference": [  # TrackableObjectGraph.TrackableObject.ObjectReference
        ("node_id", 1, _OPT, _F.TYPE_INT32, None),
        ("local_name", 2, _OPT, _F.TYPE_STRING, None),
    ],
    "SavedObject": [
        ("children", 1, _REP, _F.TYPE_MESSAGE, "ObjectReference"),
        ("function", 6, _OPT, _F.TYPE_MESSAGE, "SavedFunction"),
        ("variable", 7, _OPT, _F.TYPE_MESSAGE, "SavedVariable"),
        ("bare_concrete_function", 8, _OPT, _F.TYPE_MESSAGE, "SavedBareConcreteFunction"),
        ("constant", 9, _OPT, _F.TYPE_MESSAGE, "SavedConstant"),
        ("resource", 10, _OPT, _F.TYPE_MESSAGE, "SavedResource"),
        ("captured_tensor", 12, _OPT, _F.TYPE_MESSAGE, "CapturedTensor"),
    ],
    "SavedFunction": [
        ("concrete_functions", 1, _REP, _F.TYPE_STRING, None),
    ],
    "SavedBareConcreteFunction": [
        ("concrete_function_name", 1, _OPT, _F.TYPE_STRING, None),
    ],
    "SavedConstant": [
        ("operation", 1, _OPT, _F.TYPE_STRING, None),
    ],
    "SavedResource": [
        ("device", 1, _OPT, _F.TYPE_STRING, None),
    ],
    "CapturedTensor": [
        ("name", 1, _OPT, _F.TYPE_STRING, None),
        ("concrete_function", 2, _OPT, _F.TYPE_STRING, None),
    ],
    "SavedVariable": [
        ("dtype", 1, _OPT, _F.TYPE_ENUM, "DataType"),
        ("shape", 2, _OPT, _F.TYPE_MESSAGE, "TensorShapeProto"),
        ("name", 6, _OPT, _F.TYPE_STRING, None),
    ],
    "SavedConcreteFunction": [
        ("bound_inputs", 2, _REP, _F.TYPE_INT32, None),
    ],
    # trackable_object_graph.proto: a TF2 checkpoint's map from objects to checkpoint keys.
    "TrackableObjectGraph": [
        ("nodes", 1, _REP, _F.TYPE_MESSAGE, "TrackableObject"),
    ],
    "TrackableObject": [
        ("children", 1, _REP, _F.TYPE_MESSAGE, "ObjectReference"),
        ("attributes", 2, _REP, _F.TYPE_MESSAGE, "TrackableObject.SerializedTensor"),
    ],
    "TrackableObject.SerializedTensor": [
        ("name", 1, _OPT, _F.TYPE_STRING, None),
        ("full_name", 2, _OPT, _F.TYPE_STRING, None),
        ("checkpoint_key", 3, _OPT, _F.TYPE_STRING, None),
    ],
    # tensor_bundle.proto: the entries of a checkpoint's .index table.
    "BundleHeaderProto": [
        ("num_shards", 1, _OPT, _F.TYPE_INT32, None),
        ("endianness", 2, _OPT, _F.TYPE_INT32, None),
        ("version", 3, _OPT, _F.TYPE_MESSAGE, "VersionDef"),
    ],
    "BundleEntryProto": [
        ("dtype", 1, _OPT, _F.TYPE_ENUM, "DataType"),
        ("shape", 2, _OPT, _F.TYPE_MESSAGE, "TensorShapeProto"),
        ("shard_id", 3, _OPT, _F.TYPE_INT32, None),
        ("offset", 4, _OPT, _F.TYPE_INT64, None),
        ("size", 5, _OPT, _F.TYPE_INT64, None),
        ("crc32c", 6, _OPT, _F.TYPE_FIXED32, None),
        ("slices", 7, _REP, _F.TYPE_BYTES, None),
    ],
    # tensor_slice.proto: one saved slice of a partitioned variable (each of a
    # BundleEntryProto's `slices`); an extent without `length` is the whole dimension.
    "TensorSliceProto": [
        ("extent", 1, _REP, _F.TYPE_MESSAGE, "TensorSliceProto.Extent"),
    ],
    "TensorSliceProto.Extent": [
        ("start", 1, _OPT, _F.TYPE_INT64, None),
        ("length", 2, _OPT, _F.TYPE_INT64, None),
    ],
    # Ours, not TensorFlow's: where a large `tensor_content` left out of a parsed GraphDef is
    # in its file (see graph_def.py); `file` is the random token the read registered the file
    # under. It rides in the TensorProto as the unknown field TENSOR_CONTENT_SPAN_FIELD, so
    # the messages above stay exactly TensorFlow's.
    "TensorContentSpan": [
        ("file", 1, _OPT, _F.TYPE_BYTES, None),
        ("offset", 2, _OPT, _F.TYPE_INT64, None),
        ("length", 3, _OPT, _F.TYPE_INT64, None),
    ],
}
# A field number TensorFlow's TensorProto does not use (protobuf's largest is 2**29 - 1).
TENSOR_CONTENT_SPAN_FIELD = 536_870_000
_MAP_ENTRIES = {"NodeDef.AttrEntry", "NameAttrList.AttrEntry", "FunctionDef.RetEntry",
                "FunctionDef.ControlRetEntry", "FunctionDef.AttrEntry",
                "MetaGraphDef.CollectionDefEntry", "MetaGraphDef.SignatureDefEntry",
                "SignatureDef.InputsEntry", "SignatureDef.OutputsEntry",
                "SavedObjectGraph.ConcreteFunctionsEntry"}
_ONEOF_VALUE = {"AttrValue": {"list", "s", "i", "f", "b", "type", "shape", "tensor", "placeholder", "func"},
                "TensorSliceProto.Extent": {"length"}}


def _add_fields(message: descriptor_pb2.DescriptorProto, full_name: str) -> None:
    oneof_fields = _ONEOF_VALUE.get(full_name, set())
    if oneof_fields:
        message.oneof_decl.add(name="value")
    for name, number, label, kind, type_name in _MESSAGES[full_name]:
        field = message.field.add(name=name, number=number, label=label, type=kind)
        if type_name:
            field.type_name = f".{_PACKAGE}.{type_name}"
        if name in oneof_fields:
            field.oneof_index = 0


def file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """The hand-written .proto file declaring GraphDef and what it contains."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="converter/tensorflow_graph.proto", package=_PACKAGE, syntax="proto3")
    enum = proto.enum_type.add(name="DataType")
    for name, number in DATA_TYPES.items():
        enum.value.add(name=name, number=number)
    top: dict[str, descriptor_pb2.DescriptorProto] = {}
    for full_name in _MESSAGES:
        outer, _, inner = full_name.partition(".")
        if outer not in top:
            top[outer] = proto.message_type.add(name=outer)
        target = top[outer]
        if inner:
            target = target.nested_type.add(name=inner)
            if full_name in _MAP_ENTRIES:
                target.options.map_entry = True
        _add_fields(target, full_name)
    return proto


@lru_cache(maxsize=1)
def messages() -> SimpleNamespace:
    """The message classes: `messages().GraphDef`, `.NodeDef`, `.AttrValue`, `.TensorProto`,
    `.FunctionDef`, `.SavedModel`, `.MetaGraphDef`, `.BundleEntryProto`... (every top-level
    message declared above)."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor())
    names = [name for name in _MESSAGES if "." not in name]
    found = {name: pool.FindMessageTypeByName(f"{_PACKAGE}.{name}") for name in names}
    return SimpleNamespace(**{name: message_factory.GetMessageClass(d) for name, d in found.items()})
