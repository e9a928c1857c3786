"""ONNX detectors: the model registry, output adapters per model family, and the
one inference worker that serves every camera of a node."""
