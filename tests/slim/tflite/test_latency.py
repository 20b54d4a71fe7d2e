"""Tests for benchmarks/latency.py: interleaved TFLite timing (structure only, no speed asserted)."""

import numpy as np
import pytest
import tensorflow as tf

from slim.tflite import latency


def _tiny_model(channels, size=8):
  """A float TFLite model: size x size x 3 input -> conv -> relu."""
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3], name='input')
    kernel = tf.constant(np.random.default_rng(0).normal(size=[3, 3, 3, channels]), tf.float32)
    output = tf.nn.relu(tf.nn.conv2d(images, kernel, 1, 'SAME'), name='output')
    with tf.compat.v1.Session() as sess:
      converter = tf.compat.v1.lite.TFLiteConverter.from_session(sess, [images], [output])
      return converter.convert()


def testInterleavedLatency_ReportsEveryModelAndRatiosAgainstTheFirst():
  # 64x64: invokes of tens of microseconds or more, so the 0.1 us rounding of min_ms cannot
  # move the ratio of two minima by the tolerance below (at 8x8 a 3 us invoke did, on a fast CPU).
  models = {'float': _tiny_model(4, size=64), 'wide': _tiny_model(32, size=64)}
  result = latency.interleaved_latency(models, num_threads=1, warmup=1, runs=4)
  assert list(result) == ['float', 'wide']
  for name in models:
    entry = result[name]
    assert sorted(entry) == ['median_ms', 'min_ms', 'runs_ms', 'speedup_median', 'speedup_min']
    assert len(entry['runs_ms']) == 4
    assert entry['min_ms'] == min(entry['runs_ms'])
    assert entry['min_ms'] <= entry['median_ms'] <= max(entry['runs_ms'])
  assert result['float']['speedup_median'] == 1.0
  assert result['float']['speedup_min'] == 1.0
  assert result['wide']['speedup_min'] == pytest.approx(
      result['float']['min_ms'] / result['wide']['min_ms'], rel=0.05)


def testInterleavedLatency_RejectsNoModelsOrNoRuns():
  with pytest.raises(ValueError, match='needs at least one model and runs >= 1, got 0 models'):
    latency.interleaved_latency({}, num_threads=1)
  with pytest.raises(ValueError, match='runs=0'):
    latency.interleaved_latency({'float': _tiny_model(4)}, num_threads=1, runs=0)
