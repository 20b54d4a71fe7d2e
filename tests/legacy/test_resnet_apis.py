"""The original ResNet module APIs: slim's nets/resnet_v1.py + resnet_utils.py and DeepLab's
core/resnet_v1_beta.py + core/conv2d_ws.py, over the project's one builder.

Tiny blocks keep most graphs small:
  inputs -> [conv1 7x7/2 -> pool1] -> block1 (2 units, /2) -> block2 (2 units) -> [pool5/logits]
"""
import inspect

import numpy as np
import pytest
import tensorflow as tf
import tf_slim

from deeplab.core import conv2d_ws
from deeplab.core import resnet_v1_beta
from slim.nets import resnet_utils
from slim.nets import resnet_v1

tf1 = tf.compat.v1


def _variables(prefix=''):
  return {v.op.name[len(prefix):]: v.shape.as_list() for v in tf1.global_variables()
          if v.op.name.startswith(prefix)}


def _tiny_blocks():
  return [resnet_v1.resnet_v1_block('block1', base_depth=2, num_units=2, stride=2),
          resnet_v1.resnet_v1_block('block2', base_depth=4, num_units=2, stride=1)]


def testResnetV1Block_UnitsAsTheOriginal():
  block = resnet_v1.resnet_v1_block('block1', base_depth=64, num_units=3, stride=2)
  assert block.scope == 'block1' and block.unit_fn is resnet_v1.bottleneck
  assert block.args == [{'depth': 256, 'depth_bottleneck': 64, 'stride': 1}] * 2 + [
      {'depth': 256, 'depth_bottleneck': 64, 'stride': 2}]


def testResnetV1_BlocksListEndPointsAndLogits():
  images = tf.zeros([2, 33, 33, 3])
  with tf_slim.arg_scope(resnet_utils.resnet_arg_scope()):
    logits, end_points = resnet_v1.resnet_v1(images, _tiny_blocks(), num_classes=5,
                                             is_training=False, scope='tiny')
  assert logits.shape.as_list() == [2, 5]
  for key in ('tiny/conv1', 'tiny/block1/unit_1/bottleneck_v1/conv2',
              'tiny/block1/unit_2/bottleneck_v1', 'tiny/block1', 'tiny/block2', 'global_pool',
              'tiny/logits', 'tiny/spatial_squeeze', 'predictions'):
    assert key in end_points, key
  assert end_points['tiny/block1'].shape.as_list() == [2, 5, 5, 8]
  names = _variables('tiny/')
  assert names['conv1/weights'] == [7, 7, 3, 64]
  assert names['block1/unit_1/bottleneck_v1/shortcut/weights'] == [1, 1, 64, 8]
  assert names['logits/biases'] == [5]


def testResnetV1_WithoutRootBlock():
  _, end_points = resnet_v1.resnet_v1(tf.zeros([1, 8, 8, 16]), _tiny_blocks(),
                                      include_root_block=False, global_pool=False,
                                      output_stride=2, scope='noroot')
  assert not [k for k in end_points if 'conv1/' in k and 'unit' not in k]
  assert end_points['noroot/block2'].shape.as_list() == [1, 4, 4, 16]
  # Without the root, output_stride counts from the input (no multiple-of-4 rule).
  with pytest.raises(ValueError, match=r'^The output_stride needs to be a multiple of 4\.'):
    resnet_v1.resnet_v1(tf.zeros([1, 8, 8, 3]), _tiny_blocks(), output_stride=2)


def testStoreNonStridedActivations_SameOutputUndecimatedBlockEndPoint():
  images = tf1.placeholder(tf.float32, [1, 17, 17, 16])
  outputs = {}
  for store in (False, True):
    net, end_points = resnet_v1.resnet_v1(
        images, _tiny_blocks(), include_root_block=False, global_pool=False,
        store_non_strided_activations=store, reuse=tf1.AUTO_REUSE, scope='net',
        is_training=False)
    outputs[store] = (net, end_points['net/block1'])
  assert outputs[False][1].shape.as_list() == [1, 9, 9, 8]
  assert outputs[True][1].shape.as_list() == [1, 17, 17, 8]
  feed = {images: np.random.default_rng(0).normal(size=[1, 17, 17, 16])}
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    plain, stored = sess.run([outputs[False][0], outputs[True][0]], feed)
  np.testing.assert_allclose(plain, stored, rtol=1e-5, atol=1e-5)


def testBottleneck_BoundedActivations():
  resnet_v1.bottleneck(tf.zeros([1, 4, 4, 8]), 16, 4, stride=1, use_bounded_activations=True,
                       scope='unit')
  types = {op.name: op.type for op in tf1.get_default_graph().get_operations()}
  assert types['unit/shortcut/Relu6'] == 'Relu6'
  # clip_by_value is Minimum + Maximum in TF 2.
  assert types['unit/clip_by_value'] == 'Maximum' and types['unit/Relu6'] == 'Relu6'


def testResnetV1_50_SlimSignatureAndDepthMultiplier():
  assert list(inspect.signature(resnet_v1.resnet_v1_152).parameters)[5:7] == [
      'store_non_strided_activations', 'spatial_squeeze']
  assert list(inspect.signature(resnet_v1.resnet_v1).parameters) == [
      'inputs', 'blocks', 'num_classes', 'is_training', 'global_pool', 'output_stride',
      'include_root_block', 'spatial_squeeze', 'store_non_strided_activations', 'reuse', 'scope',
      'root_block']
  assert resnet_v1.resnet_v1_200.default_image_size == 224
  assert [row[2] for row in resnet_v1.VARIANTS['resnet_v1_200'].blocks] == [3, 24, 36, 3]
  resnet_v1.resnet_v1_50(tf.zeros([1, 33, 33, 3]), depth_multiplier=0.25, min_base_depth=32)
  names = _variables('resnet_v1_50/')
  # block1: max(int(64 * 0.25), 32) = 32; block4: 512 * 0.25 = 128.
  assert names['block1/unit_1/bottleneck_v1/conv1/weights'] == [1, 1, 64, 32]
  assert names['block4/unit_3/bottleneck_v1/conv3/weights'] == [1, 1, 128, 512]


def testDeeplabResnet50Beta_SameGraphAsTheRegistryBuilder():
  with tf.Graph().as_default():
    images = tf.zeros([1, 33, 33, 3], name='images')
    with tf_slim.arg_scope(resnet_v1_beta.resnet_arg_scope()):
      net, end_points = resnet_v1_beta.resnet_v1_50_beta(images, output_stride=16,
                                                         multi_grid=[1, 2, 4])
    deeplab_names = _variables()
    deeplab_ops = sorted(op.name for op in tf1.get_default_graph().get_operations())
  with tf.Graph().as_default():
    images = tf.zeros([1, 33, 33, 3], name='images')
    with tf_slim.arg_scope(resnet_utils.resnet_arg_scope()):
      resnet_v1.build_variant('resnet_v1_50_beta', images, global_pool=False, output_stride=16,
                              multi_grid=[1, 2, 4])
    assert _variables() == deeplab_names
    assert sorted(op.name for op in tf1.get_default_graph().get_operations()) == deeplab_ops
  assert deeplab_names['resnet_v1_50/conv1_3/weights'] == [3, 3, 64, 128]
  assert net.shape.as_list() == [1, 3, 3, 2048]
  assert 'resnet_v1_50/block3/unit_6/bottleneck_v1/conv3' in end_points
  assert 'predictions' not in end_points


def testDeeplabResnet18_LiteUnitsAndBetaStem():
  images = tf.zeros([1, 33, 33, 3])
  with tf_slim.arg_scope(resnet_v1_beta.resnet_arg_scope()):
    resnet_v1_beta.resnet_v1_18_beta(images, num_classes=3, multi_grid=[1, 2])
  names = _variables('resnet_v1_18/')
  assert names['conv1_1/weights'] == [3, 3, 3, 16]  # 64 * root_depth_multiplier 0.25
  assert names['conv1_3/weights'] == [3, 3, 16, 32]
  assert names['block1/unit_1/lite_bottleneck_v1/conv1/weights'] == [3, 3, 32, 64]
  assert names['block1/unit_1/lite_bottleneck_v1/shortcut/weights'] == [1, 1, 32, 64]
  assert names['block4/unit_2/lite_bottleneck_v1/conv2/weights'] == [3, 3, 512, 512]
  assert names['logits/weights'] == [1, 1, 512, 3]
  assert list(inspect.signature(resnet_v1_beta.resnet_v1_18_beta).parameters)[5:7] == [
      'multi_grid', 'root_depth_multiplier']


@pytest.mark.parametrize('fn,grid,message', [
    (resnet_v1_beta.resnet_v1_50, [1, 2], r'^Expect multi_grid to have length 3\.'),
    (resnet_v1_beta.resnet_v1_18, [1, 2, 4], r'^Expect multi_grid to have length 2\.'),
])
def testDeeplabResnet_MultiGridLengthMessage(fn, grid, message):
  with pytest.raises(ValueError, match=message):
    fn(tf.zeros([1, 33, 33, 3]), multi_grid=grid)


def testDeeplabArgScope_GroupNormAndWeightStandardization():
  images = tf.zeros([2, 33, 33, 3])
  with tf_slim.arg_scope(resnet_v1_beta.resnet_arg_scope(normalization_method='group',
                                                         use_weight_standardization=True)):
    resnet_v1_beta.resnet_v1_18(images, num_classes=2)
  names = _variables('resnet_v1_18/')
  assert 'conv1/GroupNorm/gamma' in names and 'conv1/BatchNorm/gamma' not in names
  graph = tf1.get_default_graph()
  # Standardized kernels (moments of the weights) in the units, not in the logits.
  assert graph.get_operation_by_name('resnet_v1_18/conv1/moments/mean')
  assert not [op for op in graph.get_operations() if op.name.startswith('resnet_v1_18/logits/')
              and 'moments' in op.name]
  with pytest.raises(ValueError, match='^Unrecognized normalization_method layer$'):
    resnet_v1_beta.resnet_arg_scope(normalization_method='layer')
  with pytest.raises(ValueError, match='^Unsupported sync_batch_norm_method.'):
    resnet_v1_beta.resnet_v1_beta(images, [], sync_batch_norm_method='tpu')


def testConv2dWs_StandardizedKernelNumericsAndPlainConvNames():
  rng = np.random.default_rng(0)
  x = rng.normal(size=[1, 5, 5, 3]).astype(np.float32)
  ws = conv2d_ws.conv2d(tf.constant(x), 4, [3, 3], activation_fn=None,
                        use_weight_standardization=True, scope='ws')
  plain = conv2d_ws.conv2d(tf.constant(x), 4, [3, 3], scope='plain')
  assert set(_variables()) == {'ws/weights', 'ws/biases', 'plain/weights', 'plain/biases'}
  assert plain.op.type == 'Relu' and plain.op.inputs[0].op.type == 'BiasAdd'
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    weights, out = sess.run(['ws/weights:0', ws])
  kernel = (weights - weights.mean(axis=(0, 1, 2))) / np.sqrt(
      weights.var(axis=(0, 1, 2)) + 1e-5)
  with tf1.Session() as sess:
    expected = sess.run(tf.nn.conv2d(x, kernel, 1, 'SAME'))
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
