"""Tests for benchmarks/train_profile.py on a tiny graph: op types summed, compared, traced."""
import json

import numpy as np
import tensorflow as tf

import slim  # noqa: F401  pylint: disable=unused-import
from benchmarks import train_profile


def _Step(with_extra_op):
  graph = tf.Graph()
  with graph.as_default():
    x = tf.constant(np.ones([4, 8, 8, 3], np.float32))
    w = tf.compat.v1.get_variable('w', [3, 3, 3, 4])
    y = tf.nn.conv2d(x, w, 1, 'SAME')
    if with_extra_op:
      y = tf.quantization.fake_quant_with_min_max_args(y, -6.0, 6.0)
    loss = tf.reduce_sum(tf.square(y))
    train = tf.compat.v1.train.GradientDescentOptimizer(0.01).minimize(loss)
    session = tf.compat.v1.Session()
    session.run(tf.compat.v1.global_variables_initializer())
  return session, train


def testProfileStep_SumsKernelTimeByOpType(tmp_path):
  session, train = _Step(with_extra_op=True)
  summary, step_stats = train_profile.profile_step(session, train)
  types = {r['type'] for r in summary['ops']}
  assert 'FakeQuantWithMinMaxArgs' in summary['by_type']
  # oneDNN renames the CPU kernels (_MklNativeConv2D...): the type as the executor ran it.
  assert any('Conv2DBackpropFilter' in t for t in summary['by_type'])
  assert summary['kernels'] >= len(types) > 0
  assert summary['total_ms'] >= 0 and summary['wall_s'] > 0
  assert abs(sum(r['share'] for r in summary['ops']) - 1.0) < 0.01
  path = str(tmp_path / 'timeline.json')
  train_profile.write_timeline(step_stats, path)
  with open(path) as f:
    assert 'traceEvents' in json.load(f)


def testCompare_ExtraTimeOverBaseline():
  float_profile = {'ops': [{'type': 'Conv2D', 'ms': 4.0}], 'by_type': {'Conv2D': 4.0}}
  qat_profile = {'ops': [{'type': 'FakeQuantWithMinMaxVars', 'ms': 3.0},
                         {'type': 'Conv2D', 'ms': 5.0}],
                 'by_type': {'FakeQuantWithMinMaxVars': 3.0, 'Conv2D': 5.0}}
  table = train_profile.compare({'float': float_profile, 'qat': qat_profile})
  assert table == [
      {'type': 'FakeQuantWithMinMaxVars', 'float_ms': 0.0, 'qat_ms': 3.0, 'qat_extra_ms': 3.0},
      {'type': 'Conv2D', 'float_ms': 4.0, 'qat_ms': 5.0, 'qat_extra_ms': 1.0}]
