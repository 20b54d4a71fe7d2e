"""slim.nets.stats: exact counts on a hand-built graph, the zoo targets, and the CLI.

DeepLab's graph is counted by deeplab.stats (tests/deeplab/test_stats.py).
"""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

import slim  # noqa: F401  (applies slim.compat)
from slim.nets import stats

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))


def _toy_graph():
  """conv 3x3 (3->4) -> depthwise 3x3 s2 -> conv transpose (4->2) -> resize; and a matmul.

  Returns the conv weights variable and the loss.
  """
  x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3])
  with tf.compat.v1.variable_scope('net'):
    w = tf.compat.v1.get_variable('w', [3, 3, 3, 4])
    dw = tf.compat.v1.get_variable('dw', [3, 3, 4, 1])
    tw = tf.compat.v1.get_variable('tw', [3, 3, 2, 4])
    net = tf.nn.conv2d(x, w, [1, 1, 1, 1], 'SAME')                                 # 8*8*4*27
    net = tf.nn.depthwise_conv2d(net, dw, [1, 2, 2, 1], 'SAME')                     # 4*4*4*9
    net = tf.nn.conv2d_transpose(net, tw, [1, 8, 8, 2], [1, 2, 2, 1], 'SAME')        # 4*4*4*18
    net = tf.compat.v1.image.resize_bilinear(net, [16, 16])                         # 16*16*2*4
  with tf.compat.v1.variable_scope('head'):
    m = tf.compat.v1.get_variable('m', [64, 10])
    tf.compat.v1.get_variable('frozen', [7], trainable=False)
    logits = tf.matmul(tf.compat.v1.placeholder(tf.float32, [2, 64]), m)           # 64*10
  return w, tf.reduce_sum(net) + tf.reduce_sum(logits)


def testGraphStats_CountsEachOpTypePerExample():
  _toy_graph()
  result = stats.graph_stats()
  assert result == {'params': 108 + 36 + 72 + 640,
                    'madds': 6912 + 576 + 1152 + 2048 + 640}


def testGraphStats_ScopeAndResizeOptions():
  _toy_graph()
  assert stats.graph_stats(scope='net') == {'params': 216, 'madds': 6912 + 576 + 1152 + 2048}
  assert stats.graph_stats(scope='net', count_resize=False)['madds'] == 6912 + 576 + 1152
  assert stats.graph_stats(scope='head') == {'params': 640, 'madds': 640}
  assert stats.graph_stats(scope='he') == {'params': 0, 'madds': 0}


def testGraphStats_IgnoresGradients():
  w, loss = _toy_graph()
  before = stats.graph_stats()
  tf.compat.v1.gradients(loss, [w])
  assert stats.graph_stats() == before


def testGraphStats_UnknownSpatialSizeRaises():
  x = tf.compat.v1.placeholder(tf.float32, [1, None, None, 3])
  w = tf.compat.v1.get_variable('w', [1, 1, 3, 4])
  tf.nn.conv2d(x, w, [1, 1, 1, 1], 'SAME', name='conv')
  with pytest.raises(ValueError, match="graph_stats needs static shapes; output of op 'conv'"):
    stats.graph_stats()


@pytest.mark.parametrize('name, target, tolerance', [
    ('mobilenet_v2', 300e6, 0.01),
    pytest.param('mobilenet_v3_large', 217e6, 0.02, marks=pytest.mark.slow),
])
def testClassifierStats_MatchPublishedMadds(name, target, tolerance):
  stats.build_classifier(name, input_size=224)
  madds = stats.graph_stats()['madds']
  assert abs(madds - target) <= tolerance * target, madds


@pytest.mark.slow
def testMain_PrintsParamsAndMaddsWhenRunByPath():
  result = subprocess.run(
      [sys.executable, os.path.join(_REPO, 'slim', 'nets', 'stats.py'),
       '--model_variant=mobilenet_v3_small', '--input_size=224'],
      cwd='/', capture_output=True, text=True, timeout=300, check=True)
  assert ('mobilenet_v3_small classification depth_multiplier=default input=224: '
          'params: 2.544M (2543881)  madds: 56.511M (56511424)') in result.stdout


def testStats_ImportsNothingFromDeeplab():
  """slim.nets is the lower layer: its stats and registry must not pull in the deeplab package."""
  code = ('import sys; import slim.nets.stats, slim.nets.registry; '
          "print(sorted(m for m in sys.modules if m.split('.')[0] == 'deeplab'))")
  result = subprocess.run([sys.executable, '-c', code], cwd='/', capture_output=True, text=True,
                          timeout=300, check=True)
  assert result.stdout.strip().splitlines()[-1] == '[]'


def testRun_UnsetFlagsUseTheRecordsMultiplierAndSize():
  # The record's 0.35 multiplier in finegrain mode (Conv_1 keeps 1280 channels), at 224.
  line = stats.run(stats.StatsOptions(model_variant='mobilenet_v2_035'))
  assert line == ('mobilenet_v2_035 classification depth_multiplier=default input=default: '
                  'params: 1.678M (1678409)  madds: 59.287M (59287088)')
