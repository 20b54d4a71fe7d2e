"""DeepLab over the real MobileNetV2 backbone (slim.nets registry): the released checkpoint layout.

272 variables for mobilenet_v2, OS16, no ASPP rates, no decoder (the float MNv2 VOC checkpoints).
"""

import pytest
import tensorflow as tf


from deeplab import common  # noqa: E402
from deeplab import model  # noqa: E402

_BN = ('BatchNorm/gamma', 'BatchNorm/beta', 'BatchNorm/moving_mean', 'BatchNorm/moving_variance')
# (input channels, expanded channels, output channels) of expanded_conv_1..16 at depth 1.0.
_BLOCKS = [(16, 96, 24), (24, 144, 24), (24, 144, 32), (32, 192, 32), (32, 192, 32),
           (32, 192, 64), (64, 384, 64), (64, 384, 64), (64, 384, 64), (64, 384, 96),
           (96, 576, 96), (96, 576, 96), (96, 576, 160), (160, 960, 160), (160, 960, 160),
           (160, 960, 320)]


def _with_bn(layer, weights_name, shape, depth):
  out = {'%s/%s' % (layer, weights_name): shape}
  out.update({'%s/%s' % (layer, bn): [depth] for bn in _BN})
  return out


def _expected_variables(num_classes=21):
  expected = _with_bn('MobilenetV2/Conv', 'weights', [3, 3, 3, 32], 32)
  expected.update(_with_bn('MobilenetV2/expanded_conv/depthwise', 'depthwise_weights',
                           [3, 3, 32, 1], 32))
  expected.update(_with_bn('MobilenetV2/expanded_conv/project', 'weights', [1, 1, 32, 16], 16))
  for i, (cin, cexp, cout) in enumerate(_BLOCKS, 1):
    block = 'MobilenetV2/expanded_conv_%d' % i
    expected.update(_with_bn(block + '/expand', 'weights', [1, 1, cin, cexp], cexp))
    expected.update(_with_bn(block + '/depthwise', 'depthwise_weights', [3, 3, cexp, 1], cexp))
    expected.update(_with_bn(block + '/project', 'weights', [1, 1, cexp, cout], cout))
  expected.update(_with_bn('image_pooling', 'weights', [1, 1, 320, 256], 256))
  expected.update(_with_bn('aspp0', 'weights', [1, 1, 320, 256], 256))
  expected.update(_with_bn('concat_projection', 'weights', [1, 1, 512, 256], 256))
  expected['logits/semantic/weights'] = [1, 1, 256, num_classes]
  expected['logits/semantic/biases'] = [num_classes]
  return expected


def testPredictLabels_MobilenetV2Os16Has272ReleasedVariables():
  images = tf.compat.v1.placeholder(tf.float32, [1, 65, 65, 3])
  options = common.ModelOptions({common.OUTPUT_TYPE: 21}, crop_size=[65, 65], output_stride=16)
  predictions = model.predict_labels(images, options)
  got = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
  expected = _expected_variables()
  assert len(expected) == 272
  assert got == expected
  graph = tf.compat.v1.get_default_graph()
  assert graph.get_operation_by_name('MobilenetV2/MobilenetV2/input')
  assert predictions[common.OUTPUT_TYPE].op.name == 'ArgMax'
  assert predictions[common.OUTPUT_TYPE + model.PROB_SUFFIX].op.name == 'Softmax'


def testMultiScaleLogits_MobilenetV2DecoderUsesLayer4Endpoint():
  images = tf.compat.v1.placeholder(tf.float32, [1, 65, 65, 3])
  options = common.ModelOptions({common.OUTPUT_TYPE: 21}, crop_size=[65, 65],
                                atrous_rates=[6, 12, 18], output_stride=16,
                                decoder_output_stride=[4])
  logits = model.multi_scale_logits(images, options, image_pyramid=None)
  got = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
  assert got['decoder/feature_projection0/weights'] == [1, 1, 144, 48]
  assert got['aspp3_pointwise/weights'] == [1, 1, 320, 256]
  assert got['concat_projection/weights'] == [1, 1, 1280, 256]
  assert got['decoder/decoder_conv0_depthwise/depthwise_weights'] == [3, 3, 304, 1]
  assert logits[common.OUTPUT_TYPE][model.MERGED_LOGITS_SCOPE].shape.as_list() == [1, 17, 17, 21]


@pytest.mark.slow
def testQuantizedMobilenetV2_FreezesAndConvertsToFullyUint8(tmp_path):
  import numpy as np
  import slim.quantize as contrib_quantize
  from deeplab.utils import inference
  from deeplab.utils import tflite_utils
  options = common.ModelOptions({common.OUTPUT_TYPE: 4}, crop_size=[65, 65], output_stride=16)
  image = tf.compat.v1.placeholder(tf.uint8, [1, 65, 65, 3], name='ImageTensor')
  model.predict_labels(tf.cast(image, tf.float32), options)
  contrib_quantize.create_eval_graph()
  tf.compat.v1.train.get_or_create_global_step()
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    ckpt = tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'model.ckpt'))
  frozen = inference.freeze(ckpt, ['ArgMax'])
  tflite_model = tflite_utils.convert(
      frozen, inference.quantized_input_name('mobilenet_v2') + ':0',
      inference.QUANTIZED_OUTPUT_NAME + ':0')
  pixels = np.random.RandomState(0).randint(0, 256, [65, 65, 3]).astype(np.uint8)
  assert tflite_utils.run_tflite(tflite_model, pixels).shape == (1, 65, 65)
