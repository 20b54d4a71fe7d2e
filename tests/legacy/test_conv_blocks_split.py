"""slim's conv_blocks split convolutions: `split_expansion` / `split_projection` of expanded_conv.

  input(16) -> split_expand -> expand_part_0 (8->48), expand_part_1 (8->48) -> concat(96)
            -> depthwise -> split_project -> project_part_0 (48->8), project_part_1 -> concat(16)
"""
import numpy as np
import pytest
import tensorflow as tf
import tf_slim

from slim.nets.mobilenet import conv_blocks


def _variables():
  return {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}


@pytest.mark.parametrize('num,ways,expected', [
    (48, 3, [16, 16, 16]), (40, 3, [16, 16, 8]), (96, 2, [48, 48]), (24, 1, [24])])
def testSplitDivisible_PartsAreMultiplesSummingToTotal(num, ways, expected):
  assert conv_blocks._split_divisible(num, ways, divisible_by=8) == expected


def testExpandedConv_SplitExpansionAndProjectionVariables():
  images = tf.zeros([1, 8, 8, 16])
  out = conv_blocks.expanded_conv(images, 16, expansion_size=96, split_expansion=2,
                                  split_projection=2, normalizer_fn=tf_slim.batch_norm,
                                  scope='block')
  names = _variables()
  assert names['block/expand_part_0/weights'] == [1, 1, 8, 48]
  assert names['block/expand_part_1/weights'] == [1, 1, 8, 48]
  assert names['block/expand_part_1/BatchNorm/beta'] == [48]
  assert names['block/depthwise/depthwise_weights'] == [3, 3, 96, 1]
  assert names['block/project_part_0/weights'] == [1, 1, 48, 8]
  assert names['block/project_part_1/weights'] == [1, 1, 48, 8]
  assert 'block/expand/weights' not in names
  graph = tf.compat.v1.get_default_graph()
  assert graph.get_operation_by_name('block/split_expand').type == 'SplitV'
  assert graph.get_operation_by_name('block/expand_part_1_concat').type == 'ConcatV2'
  assert out.shape.as_list() == [1, 8, 8, 16]


def testExpandedConv_TooFewChannelsToSplitKeepsOneConv():
  conv_blocks.expanded_conv(tf.zeros([1, 4, 4, 8]), 8, expansion_size=48, split_expansion=2,
                            scope='block')
  names = _variables()
  # 8 input channels in 2 ways would give 4 < divisible_by (8): the original plain names.
  assert names['block/expand/weights'] == [1, 1, 8, 48]
  assert names['block/project/weights'] == [1, 1, 48, 8]


def testSplitConv_EqualsBlockDiagonalConv():
  rng = np.random.default_rng(0)
  x = rng.normal(size=[1, 3, 3, 16]).astype(np.float32)
  split = conv_blocks.split_conv(tf.constant(x), 32, num_ways=2, scope='s', activation_fn=None,
                                 biases_initializer=None)
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    w0, w1, out = sess.run(['s_part_0/weights:0', 's_part_1/weights:0', split])
  kernel = np.zeros([16, 32], np.float32)
  kernel[:8, :16] = w0[0, 0]
  kernel[8:, 16:] = w1[0, 0]
  np.testing.assert_allclose(out[0], x[0] @ kernel, rtol=1e-5, atol=1e-5)


def testSplitSeparableConv2d_OriginalNames():
  endpoints = {}
  conv_blocks.split_separable_conv2d(tf.zeros([1, 8, 8, 4]), 16, scope='Conv2d_1', stride=2,
                                     endpoints=endpoints)
  conv_blocks.split_separable_conv2d(tf.zeros([1, 8, 8, 4]), 8)
  names = _variables()
  assert names['Conv2d_1_depthwise/depthwise_weights'] == [3, 3, 4, 1]
  assert names['Conv2d_1_pointwise/weights'] == [1, 1, 4, 16]
  assert names['separable/pointwise/weights'] == [1, 1, 4, 8]
  assert endpoints['Conv2d_1_pointwise'].shape.as_list() == [1, 4, 4, 16]
