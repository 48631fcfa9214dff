"""Support for TensorFlow Object Detection API models: reading their `pipeline.config`
(`config.py`, protobuf text format parsed without the Object Detection API or TensorFlow) and
recomputing what the detection graph builds from it, such as the SSD anchors (`anchors.py`,
numpy), so that the graph's detection subgraphs can be replaced by OpenVINO operations."""
