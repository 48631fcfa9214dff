"""OpenVINO-side building blocks both frontends translate into.

Each module holds one concern (element-wise maps, reductions, per-channel broadcasting, batch
normalization, small constants) as plain functions of a `Graph` and its `Output`s. They know
nothing of ONNX or TensorFlow: a frontend decodes its node (attributes, layout, which inputs are
which), maps its op names onto the OpenVINO ops listed here, and names what is built. Names are
always the caller's, so that each frontend keeps the layer names its IRs have always had.
"""
