"""Reading and writing OpenVINO IR v11 files: the writer only writes, the validator only checks."""
