"""QAT rewrite of the MOSAIC head and its fully integer uint8 / int8 TFLite conversion.

mobilenet_multi_avg_seg + MOSAIC at 65x65 (5x5 features at stride 16) with bins (1, 2, 4), so
that every pyramid level really pools: a few QAT training steps on random images set the ranges,
then the DeepLab export graph (ImageTensor -> ... -> ArgMax) is frozen and converted with the
converter refusing any float op.
"""

import numpy as np
import pytest
import tensorflow as tf

import slim.quantize as contrib_quantize
from deeplab import common
from deeplab import model
from deeplab.core import mosaic
from deeplab.utils import inference
from deeplab.utils import tflite_utils
from slim.nets import registry
from slim.tflite import inspection

_SIZE = 65
_VARIANT = 'mobilenet_multi_avg_seg'
_OPTIONS = common.ModelOptions(
    {common.OUTPUT_TYPE: 5}, crop_size=[_SIZE, _SIZE], output_stride=16, model_variant=_VARIANT,
    segmentation_head=common.MOSAIC_HEAD,
    mosaic_config=mosaic.MosaicConfig(pyramid_pool_bins=(1, 2, 4)))


@pytest.fixture(scope='module')
def qat_checkpoint(tmp_path_factory):
  """(checkpoint, names of the training graph's FakeQuant ops)."""
  path = str(tmp_path_factory.mktemp('mosaic_qat') / 'model.ckpt')
  with tf.Graph().as_default() as graph:
    images = tf.compat.v1.placeholder(tf.float32, [2, _SIZE, _SIZE, 3])
    logits = model.multi_scale_logits(images, _OPTIONS, image_pyramid=None, is_training=True,
                                      fine_tune_batch_norm=True)
    loss = tf.reduce_mean(tf.square(logits[common.OUTPUT_TYPE][model.MERGED_LOGITS_SCOPE]))
    contrib_quantize.create_training_graph(quant_delay=0)
    fake_quants = {op.name for op in graph.get_operations()
                   if op.type == 'FakeQuantWithMinMaxVars'}
    with tf.control_dependencies(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)):
      train_op = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss)
    rng = np.random.RandomState(0)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for _ in range(3):
        sess.run(train_op, {images: rng.uniform(0, 255, [2, _SIZE, _SIZE, 3])})
      tf.compat.v1.train.Saver().save(sess, path)
  return path, fake_quants


def testQatRewrite_RangesEveryMosaicTensor(qat_checkpoint):
  _, fake_quants = qat_checkpoint
  quant = lambda name: name + '/FakeQuantWithMinMaxVars'
  for layer in ('pyramid_pool_1/global_branch', 'fusion'):
    assert quant('mosaic_encoder/%s/weights_quant' % layer) in fake_quants
    assert quant('mosaic_encoder/%s/act_quant' % layer) in fake_quants
  # The shared branch block is rewritten where each bin uses it.
  for bins in (2, 4):
    for group in (0, 1):
      for conv in ('depthwise', 'pointwise'):
        assert quant('mosaic_encoder/pyramid_pool_%d/branch_block/group_%d/%s/weights_quant'
                     % (bins, group, conv)) in fake_quants
    assert quant('mosaic_encoder/pyramid_pool_%d/resize/output_quant' % bins) in fake_quants
    assert quant('mosaic_encoder/pyramid_pool_%d/concat/output_quant' % bins) in fake_quants
  for op in ('pyramid_pool_1/AvgPool2D/AvgPool', 'pyramid_pool_2/AvgPool2D/AvgPool', 'concat'):
    assert quant('mosaic_encoder/%s/output_quant' % op) in fake_quants
  for op in ('stage_0/resize/output_quant', 'stage_0/concat/output_quant',
             'stage_0/projection/act_quant', 'stage_1/resize/output_quant',
             'stage_1/skip_projection/act_quant', 'stage_1/post_activation_bypass_quant'):
    assert quant('mosaic_decoder/' + op) in fake_quants


@pytest.mark.parametrize('inference_type, per_channel', [('uint8', False), ('int8', True)])
def testExport_ConvertsFullyInteger(qat_checkpoint, inference_type, per_channel):
  checkpoint, _ = qat_checkpoint
  with tf.Graph().as_default() as graph:
    inference.build_export_graph(_OPTIONS, quantize_delay_step=0,
                                 quantize_per_channel=per_channel)
    frozen = inference.freeze(checkpoint, ['ArgMax'], graph)
  # allow_float_ops=False: a tensor left float raises NotFullyQuantizedError naming it.
  tflite = tflite_utils.convert(frozen, registry.get(_VARIANT).quant_input_node + ':0',
                                'ArgMax:0', inference_type, model_variant=_VARIANT)
  assert inspection.is_fully_integer(tflite)
  ops = inspection.op_histogram(tflite)
  for op in ('AVERAGE_POOL_2D', 'RESIZE_BILINEAR', 'CONCATENATION', 'SPLIT', 'ADD',
             'DEPTHWISE_CONV_2D', 'ARG_MAX'):
    assert ops.get(op), (op, ops)
  image = np.random.RandomState(1).randint(0, 256, [_SIZE, _SIZE, 3]).astype(np.uint8)
  assert tflite_utils.run_tflite(tflite, image).shape == (1, _SIZE, _SIZE)
