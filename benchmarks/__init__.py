"""Benchmarks of the quantization recipe: size, speed and training cost, written to results/.

`python -m benchmarks.deeplab_benchmark` (or `bash scripts/benchmark.sh`) measures DeepLab
MobileNetV2 float vs legacy uint8 vs int8 per-channel TFLite and float vs QAT training steps.
"""
