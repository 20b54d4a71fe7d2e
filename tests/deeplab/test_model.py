"""Tests for deeplab/model.py: scope names, shapes and output ops.

The head (ASPP, image pooling, decoder, logits) is tested over the tiny stand-in backbone of
tests.helpers (fixture `stand_in_backbone`), so these tests do not depend on slim.nets.
"""

import numpy as np
import pytest
import tensorflow as tf

from deeplab import common
from deeplab import model
from tests import helpers

pytestmark = pytest.mark.usefixtures('stand_in_backbone')

_SCOPE = helpers.STAND_IN_SCOPE


def _head_variables():
  return {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()
          if not v.op.name.startswith(_SCOPE)}


def testPredictLabels_OriginalHeadVariablesAndRootOutputOps():
  images = tf.zeros([1, 65, 65, 3])
  options = common.ModelOptions({common.OUTPUT_TYPE: 21}, crop_size=[65, 65], output_stride=16)
  predictions = model.predict_labels(images, options)
  bn = ['BatchNorm/beta', 'BatchNorm/gamma', 'BatchNorm/moving_mean', 'BatchNorm/moving_variance']
  expected = {'image_pooling/weights': [1, 1, 320, 256], 'aspp0/weights': [1, 1, 320, 256],
              'concat_projection/weights': [1, 1, 512, 256],
              'logits/semantic/weights': [1, 1, 256, 21], 'logits/semantic/biases': [21]}
  for layer in ('image_pooling', 'aspp0', 'concat_projection'):
    for name in bn:
      expected['%s/%s' % (layer, name)] = [256]
  assert _head_variables() == expected
  assert predictions[common.OUTPUT_TYPE].op.name == 'ArgMax'
  assert predictions[common.OUTPUT_TYPE + model.PROB_SUFFIX].op.name == 'Softmax'
  assert predictions[common.OUTPUT_TYPE].shape.as_list() == [1, 65, 65]


def testMultiScaleLogits_LogitsSizeAndKeys():
  images = tf.zeros([2, 65, 65, 3])
  options = common.ModelOptions({common.OUTPUT_TYPE: 5}, crop_size=[65, 65], output_stride=16)
  single = model.multi_scale_logits(images, options, image_pyramid=None)
  assert list(single[common.OUTPUT_TYPE]) == [model.MERGED_LOGITS_SCOPE]
  assert single[common.OUTPUT_TYPE][model.MERGED_LOGITS_SCOPE].shape.as_list() == [2, 5, 5, 5]
  multi = model.multi_scale_logits(images, options, image_pyramid=[0.5, 1.0])
  assert sorted(multi[common.OUTPUT_TYPE]) == ['logits_0.50', 'logits_1.00', 'merged_logits']


def testExtractFeatures_AtrousRatesAndDecoderVariables():
  images = tf.zeros([1, 65, 65, 3])
  options = common.ModelOptions({common.OUTPUT_TYPE: 21}, crop_size=[65, 65],
                                atrous_rates=[6, 12, 18], output_stride=16,
                                decoder_output_stride=[4])
  logits = model.multi_scale_logits(images, options, image_pyramid=None)
  names = _head_variables()
  for i in (1, 2, 3):
    assert names['aspp%d_depthwise/depthwise_weights' % i] == [3, 3, 320, 1]
    assert names['aspp%d_pointwise/weights' % i] == [1, 1, 320, 256]
  assert names['concat_projection/weights'] == [1, 1, 1280, 256]
  assert names['decoder/feature_projection0/weights'] == [1, 1, 24, 48]
  assert names['decoder/decoder_conv0_depthwise/depthwise_weights'] == [3, 3, 304, 1]
  assert names['decoder/decoder_conv0_pointwise/weights'] == [1, 1, 304, 256]
  assert names['decoder/decoder_conv1_pointwise/weights'] == [1, 1, 256, 256]
  # Logits at decoder stride 4: scale_dimension(65, 1/4) = 17.
  assert logits[common.OUTPUT_TYPE][model.MERGED_LOGITS_SCOPE].shape.as_list() == [1, 17, 17, 21]


def testExtractFeatures_AsppBatchNormUsesModelOptionsDecay():
  images = tf.zeros([1, 33, 33, 3])
  options = common.ModelOptions({common.OUTPUT_TYPE: 3}, crop_size=[33, 33], output_stride=16,
                                batch_norm_decay=0.9)
  model.multi_scale_logits(images, options, image_pyramid=None, is_training=True,
                           fine_tune_batch_norm=True)
  graph = tf.compat.v1.get_default_graph()
  # assign_moving_average builds `sub = 1.0 - decay`; its value is the EMA step size.
  one_minus_decay = graph.get_tensor_by_name('aspp0/BatchNorm/AssignMovingAvg/sub:0')
  with tf.compat.v1.Session() as sess:
    np.testing.assert_allclose(sess.run(one_minus_decay), 0.1, rtol=1e-5)


def testGetBranchLogits_KernelSizeMustBeOneWithAsppBatchNorm():
  with pytest.raises(ValueError, match='Kernel size must be 1'):
    model.get_branch_logits(tf.zeros([1, 3, 3, 8]), 2, aspp_with_batch_norm=True, kernel_size=3)


def testGetExtraLayerScopes_OriginalLists():
  assert model.get_extra_layer_scopes() == ['logits', 'image_pooling', 'aspp',
                                            'concat_projection', 'decoder', 'meta_architecture']
  assert model.get_extra_layer_scopes(True) == ['logits']


def testModelOptions_PositionalSignatureAndDecoderStrideOrder():
  options = common.ModelOptions({'semantic': 3}, [65, 65], [6], 16)
  assert (options.crop_size, options.atrous_rates, options.output_stride) == ([65, 65], [6], 16)
  assert options.batch_norm_decay == 0.9997 and options.backbone_batch_norm_decay is None
  assert options.label_weights == 1.0 and options.sync_batch_norm_method == 'None'
  with pytest.raises(ValueError, match='descending'):
    common.ModelOptions({'semantic': 3}, decoder_output_stride=['4', '8'])
