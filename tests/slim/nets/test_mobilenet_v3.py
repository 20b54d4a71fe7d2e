"""MobileNetV3 (large/small/_seg) and Multi-HW-AVG classifiers: variables, conv counts, graph names.

The expected variable lists come from the block tables below (MobileNetV3 paper tables 1-2,
Model Garden's Multi-HW-AVG specs), written here independently of the code under test.
"""

import pytest
import tensorflow as tf

import slim  # noqa: F401  (applies slim.compat)
from slim.nets import registry
from slim.nets.mobilenet import mobilenet_v3

_SIZE = 33
_CLASSES = 1001
_BN = ('gamma', 'beta', 'moving_mean', 'moving_variance')

# Blocks: (kernel, expanded channels or None when there is no expand conv, output channels,
# squeeze-excite channels or None).
_V3_LARGE = [
    (3, None, 16, None), (3, 64, 24, None), (3, 72, 24, None), (5, 72, 40, 24), (5, 120, 40, 32),
    (5, 120, 40, 32), (3, 240, 80, None), (3, 200, 80, None), (3, 184, 80, None),
    (3, 184, 80, None), (3, 480, 112, 120), (3, 672, 112, 168), (5, 672, 160, 168),
    (5, 960, 160, 240), (5, 960, 160, 240)]
_V3_LARGE_SEG = _V3_LARGE[:12] + [(5, 672, 80, 168), (5, 480, 80, 120), (5, 480, 80, 120)]
_V3_SMALL = [
    (3, None, 16, 8), (3, 72, 24, None), (3, 88, 24, None), (5, 96, 40, 24), (5, 240, 40, 64),
    (5, 240, 40, 64), (5, 120, 48, 32), (5, 144, 48, 40), (5, 288, 96, 72), (5, 576, 96, 144),
    (5, 576, 96, 144)]
_V3_SMALL_SEG = _V3_SMALL[:8] + [(5, 288, 48, 72), (5, 288, 48, 72), (5, 288, 48, 72)]
_MULTI_AVG = [
    (3, 96, 32, None), (3, 64, 32, None), (5, 160, 64, None), (3, 192, 64, None),
    (3, 128, 64, None), (3, 192, 64, None), (5, 384, 128, None), (3, 384, 128, None),
    (3, 384, 128, None), (3, 384, 128, None), (3, 768, 160, None), (3, 640, 160, None),
    (3, 960, 192, None), (5, 768, 192, None), (5, 768, 192, None), (5, 768, 192, None)]
_MULTI_AVG_SEG = _MULTI_AVG[:13] + [(5, 384, 96, None), (5, 384, 96, None), (5, 384, 96, None)]

# name -> (scope, stem channels, blocks, last 1x1 conv, head conv, head conv has BN).
_NETS = {
    'mobilenet_v3_large': ('MobilenetV3', 16, _V3_LARGE, 960, 1280, False),
    'mobilenet_v3_small': ('MobilenetV3', 16, _V3_SMALL, 576, 1024, False),
    'mobilenet_v3_large_seg': ('MobilenetV3', 16, _V3_LARGE_SEG, 480, 1280, False),
    'mobilenet_v3_small_seg': ('MobilenetV3', 16, _V3_SMALL_SEG, 288, 1024, False),
    'mobilenet_multi_avg': ('MobilenetMultiAVG', 32, _MULTI_AVG, 960, 1280, True),
    'mobilenet_multi_avg_seg': ('MobilenetMultiAVG', 32, _MULTI_AVG_SEG, 448, 1280, True),
}


def _expected_variables(name):
  """[(name, shape)] of the classification net `name`, from the tables above."""
  scope, stem, blocks, last, head, head_bn = _NETS[name]

  def conv(prefix, shape, weights='weights', bn=True):
    out = [('%s/%s/%s' % (scope, prefix, weights), shape)]
    depth = shape[2] if weights == 'depthwise_weights' else shape[3]
    if bn:
      out += [('%s/%s/BatchNorm/%s' % (scope, prefix, v), [depth]) for v in _BN]
    else:
      out += [('%s/%s/biases' % (scope, prefix), [depth])]
    return out

  expected = conv('Conv', [3, 3, 3, stem])
  in_depth = stem
  for i, (k, inner, out_depth, se) in enumerate(blocks):
    block = 'expanded_conv' if i == 0 else 'expanded_conv_%d' % i
    if inner is not None:
      expected += conv(block + '/expand', [1, 1, in_depth, inner])
    else:
      inner = in_depth
    expected += conv(block + '/depthwise', [k, k, inner, 1], weights='depthwise_weights')
    if se is not None:
      expected += conv(block + '/squeeze_excite/Conv', [1, 1, inner, se], bn=False)
      expected += conv(block + '/squeeze_excite/Conv_1', [1, 1, se, inner], bn=False)
    expected += conv(block + '/project', [1, 1, inner, out_depth])
    in_depth = out_depth
  expected += conv('Conv_1', [1, 1, in_depth, last])
  expected += conv('Conv_2', [1, 1, last, head], bn=head_bn)
  expected += conv('Logits/Conv2d_1c_1x1', [1, 1, head, _CLASSES], bn=False)
  return expected


def _build(name, size=_SIZE):
  images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3])
  return registry.get(name).classifier_fn(images, _CLASSES)


def _op_count(op_type):
  graph = tf.compat.v1.get_default_graph()
  return sum(op.type == op_type for op in graph.get_operations())


_DEFAULT = ('mobilenet_v3_large', 'mobilenet_v3_small_seg', 'mobilenet_multi_avg')


@pytest.mark.parametrize('name', [
    n if n in _DEFAULT else pytest.param(n, marks=pytest.mark.slow) for n in sorted(_NETS)])
def testClassifier_VariablesAndConvCountsMatchTheTable(name):
  logits, end_points = _build(name)
  expected = _expected_variables(name)
  actual = [(v.op.name, v.shape.as_list()) for v in tf.compat.v1.global_variables()]
  assert actual == expected
  blocks = _NETS[name][2]
  # stem + expand + SE (2 each) + project + last 1x1 + head + logits.
  convs = (1 + sum(b[1] is not None for b in blocks) + 2 * sum(b[3] is not None for b in blocks)
           + len(blocks) + 3)
  assert _op_count('Conv2D') == convs
  assert _op_count('DepthwiseConv2dNative') == len(blocks)
  assert logits.shape.as_list() == [1, _CLASSES]
  assert end_points['Predictions'].shape.as_list() == [1, _CLASSES]


def testClassifier_V3LargeNamesHardSwishAndSqueezeExcite():
  _build('mobilenet_v3_large')
  graph = tf.compat.v1.get_default_graph()
  names = {op.name for op in graph.get_operations()}
  # h-swish = x * relu6(x + 3) * (1/6) under 'hard_swish'; SE gate = relu6(x + 3) * 0.16667.
  assert 'MobilenetV3/Conv/hard_swish/Relu6' in names
  assert graph.get_operation_by_name('MobilenetV3/Conv_2/hard_swish/mul_1').type == 'Mul'
  assert 'MobilenetV3/expanded_conv_3/squeeze_excite/Conv_1/hard_sigmoid/Relu6' in names
  assert graph.get_operation_by_name('MobilenetV3/expanded_conv_3/squeeze_excite/mul').type == (
      'Mul')
  # Blocks 1-6 use ReLU (no hard_swish), 7-15 hard-swish in expand and depthwise.
  assert not any(n.startswith('MobilenetV3/expanded_conv_5/') and 'hard_swish' in n for n in names)
  assert 'MobilenetV3/expanded_conv_6/expand/hard_swish/Relu6' in names
  assert 'MobilenetV3/expanded_conv_6/depthwise/hard_swish/Relu6' in names
  assert graph.get_operation_by_name('MobilenetV3/input').type == 'Identity'
  assert graph.get_operation_by_name('MobilenetV3/Logits/output').type == 'Identity'


def testHardSwish_MatchesTheFormula():
  x = tf.constant([-4.0, -3.0, -1.5, 0.0, 1.0, 3.0, 5.0])
  with tf.compat.v1.Session() as sess:
    swish, sigmoid = sess.run([mobilenet_v3.hard_swish(x), mobilenet_v3.hard_sigmoid(x)])
  expected = [0.0, 0.0, -1.5 * 1.5 / 6, 0.0, 4.0 / 6, 3.0, 5.0]
  assert swish.tolist() == pytest.approx(expected, abs=1e-6)
  assert sigmoid.tolist() == pytest.approx(
      [0.0, 0.0, 1.5 * 0.16667, 0.5, 4 * 0.16667, 1.0, 1.0], abs=1e-4)


def testClassifier_ResidualOnlyWhenStrideOneAndDepthsMatch():
  _build('mobilenet_v3_small')
  graph = tf.compat.v1.get_default_graph()
  names = {op.name for op in graph.get_operations()}
  # Small block 1 (stride 2) has no residual; block 3 (24 -> 24, stride 1) has one.
  assert 'MobilenetV3/expanded_conv/add' not in names
  assert graph.get_operation_by_name('MobilenetV3/expanded_conv_2/add').type in ('Add', 'AddV2')
