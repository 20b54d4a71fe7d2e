"""DeepLab's core/xception.py API (over slim.nets.xception) and slim's mobilenet_v3 public
functions (minimalistic variants, detection tables)."""
import inspect

import pytest
import tensorflow as tf
import tf_slim

from deeplab.core import xception
from slim.nets import xception as xception_lib
from slim.nets.mobilenet import mobilenet_v3

tf1 = tf.compat.v1


def _variables(prefix=''):
  return {v.op.name[len(prefix):]: v.shape.as_list() for v in tf1.global_variables()
          if v.op.name.startswith(prefix)}


def testXceptionBlock_UnitsAsTheOriginal():
  block = xception.xception_block('entry_flow/block1', depth_list=[128, 128, 128],
                                  skip_connection_type='conv',
                                  activation_fn_in_separable_conv=False,
                                  regularize_depthwise=False, num_units=2, stride=2)
  assert block.scope == 'entry_flow/block1' and block.unit_fn is xception.xception_module
  assert len(block.args) == 2 and block.args[0]['unit_rate_list'] == [1, 1, 1]
  assert block.args[0]['stride'] == 2 and block.args[0]['kernel_size'] == 3


def testXception_DeeplabGeneratorKeeps4dLogits():
  images = tf.zeros([1, 33, 33, 3])
  blocks = [xception.xception_block('entry_flow/block1', [8, 8, 8], 'conv', False, False, 1, 2),
            xception.xception_block('exit_flow/block2', [8, 8, 16], 'none', True, False, 1, 1)]
  with tf_slim.arg_scope(xception.xception_arg_scope()):
    logits, end_points = xception.xception(images, blocks, num_classes=3, is_training=False,
                                           scope='tiny')
  assert logits.shape.as_list() == [1, 1, 1, 3]  # no spatial squeeze, as the original
  assert end_points['tiny/logits'] is logits
  assert 'global_pool' in end_points and 'predictions' in end_points
  names = _variables('tiny/')
  assert names['entry_flow/conv1_1/weights'] == [3, 3, 3, 32]
  assert names['entry_flow/block1/unit_1/xception_module/separable_conv1_depthwise/'
               'depthwise_weights'] == [3, 3, 64, 1]


def testXception65_SameGraphAsTheRegistryBuilderAndFactoryKernel():
  with tf.Graph().as_default():
    images = tf.zeros([1, 33, 33, 3], name='images')
    xception.xception_65(images, global_pool=False, output_stride=16, multi_grid=[1, 2, 4])
    deeplab_names = _variables()
  with tf.Graph().as_default():
    images = tf.zeros([1, 33, 33, 3], name='images')
    xception_lib.build_variant('xception_65', images, global_pool=False, output_stride=16,
                               multi_grid=[1, 2, 4])
    assert _variables() == deeplab_names
  assert list(inspect.signature(xception.xception_65).parameters) == [
      'inputs', 'num_classes', 'is_training', 'global_pool', 'keep_prob', 'output_stride',
      'regularize_depthwise', 'multi_grid', 'reuse', 'scope', 'sync_batch_norm_method']
  assert 'kernel_size' in inspect.signature(xception.xception_71_factory).parameters
  xception.xception_71_factory(tf.zeros([1, 33, 33, 3]), kernel_size=5, global_pool=False)
  assert _variables('xception_71/')['middle_flow/block1/unit_3/xception_module/'
                                    'separable_conv2_depthwise/depthwise_weights'] == [
                                        5, 5, 728, 1]


@pytest.mark.parametrize('kwargs,message', [
    ({'use_squeeze_excite': True}, 'use_squeeze_excite=True'),
    ({'sync_batch_norm_method': 'tpu'}, '^Unsupported sync_batch_norm_method.'),
    ({'output_stride': 5}, r'^The output_stride needs to be a multiple of 2\.'),
    ({'multi_grid': [1, 2]}, r'^Expect multi_grid to have length 3\.'),
])
def testXceptionFactory_Errors(kwargs, message):
  with pytest.raises(ValueError, match=message):
    xception.xception_65_factory(tf.zeros([1, 33, 33, 3]), **kwargs)


@pytest.mark.parametrize('fn,last_depth', [(mobilenet_v3.large_minimalistic, 1280),
                                           (mobilenet_v3.small_minimalistic, 1024)])
def testMobilenetV3Minimalistic_NoSqueezeExciteOrHardSwish(fn, last_depth):
  logits, end_points = fn(tf.zeros([1, 64, 64, 3]), num_classes=7)
  assert logits.shape.as_list() == [1, 7]
  ops = [op.name for op in tf1.get_default_graph().get_operations()]
  assert not [n for n in ops if 'squeeze_excite' in n or 'hard_swish' in n]
  depthwise = [v for n, v in _variables().items() if n.endswith('depthwise_weights')]
  assert depthwise and all(shape[:2] == [3, 3] for shape in depthwise)
  assert _variables()['MobilenetV3/Conv_2/weights'][-1] == last_depth
  assert 'Predictions' in end_points


def testMobilenetV3_OriginalTableAndHelperNames():
  assert mobilenet_v3.V3_LARGE_DETECTION is mobilenet_v3.V3_LARGE_SEG
  assert mobilenet_v3.V3_SMALL_DETECTION['spec'][9].params['num_outputs'] == 48
  assert callable(mobilenet_v3.wrapped_partial) and callable(mobilenet_v3.training_scope)
