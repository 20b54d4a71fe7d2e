"""RetinaNet detection family (MobileNetV2 + FPN + RetinaNet head) built on the `slim` library."""
import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
