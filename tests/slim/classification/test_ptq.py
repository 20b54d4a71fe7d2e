"""Post-training full-integer quantization (slim/tflite/ptq.py) on a small float graph."""
import numpy as np
import pytest
import tensorflow as tf
import tf_slim

from slim.tflite import convert
from slim.tflite import inspection as tflite_inspect
from slim.tflite import ptq

_SHAPE = [1, 16, 16, 3]


def _frozen_classifier():
  """input -> conv+BN+relu6 -> depthwise+BN -> hard-swish -> mean -> 1x1 conv -> softmax.

  BN runs in inference mode with non-trivial moving statistics, as in an exported classifier.
  """
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(1)
    images = tf.compat.v1.placeholder(tf.float32, _SHAPE, name='input')
    with tf_slim.arg_scope([tf_slim.batch_norm], is_training=False,
                           param_initializers={'moving_variance': tf.constant_initializer(2.0),
                                               'moving_mean': tf.constant_initializer(0.1)}):
      net = tf_slim.conv2d(images, 8, 3, stride=2, normalizer_fn=tf_slim.batch_norm,
                           activation_fn=tf.nn.relu6, scope='conv')
      net = tf_slim.separable_conv2d(net, None, 3, 1, normalizer_fn=tf_slim.batch_norm,
                                     activation_fn=None, scope='depthwise')
    net = net * tf.nn.relu6(net + 3.0) / 6.0
    net = tf.reduce_mean(net, [1, 2], keepdims=True)
    logits = tf_slim.conv2d(net, 4, 1, activation_fn=None, scope='logits')
    # Scaled so the softmax outputs spread over [0, 1] (the numerics check below is then tight).
    tf.nn.softmax(200.0 * tf.squeeze(logits, [1, 2]), name='Predictions')
    with tf.compat.v1.Session(graph=graph) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return convert.freeze_session(sess, ['Predictions'])


def _images(n, seed):
  return np.random.default_rng(seed).uniform(-1, 1, [n] + _SHAPE[1:]).astype(np.float32)


@pytest.mark.parametrize('io_type,dtype', [('int8', np.int8), ('uint8', np.uint8)])
def testConvertPtqInt8_IsFullyIntegerAndTracksFloat(io_type, dtype):
  graph_def = _frozen_classifier()
  model = ptq.convert_ptq_int8(graph_def, ['input'], ['Predictions'], [_SHAPE],
                               iter(_images(32, 0)), io_type=io_type)
  assert tflite_inspect.float_ops(model) == []
  ops = tflite_inspect.op_histogram(model)
  assert ops['CONV_2D'] == 2 and ops['DEPTHWISE_CONV_2D'] == 1 and ops['SOFTMAX'] == 1
  # No DEQUANTIZE: the weights are stored in int8, not float.
  assert 'DEQUANTIZE' not in ops
  interp = tf.lite.Interpreter(model_content=model)
  assert interp.get_input_details()[0]['dtype'] == dtype
  assert interp.get_output_details()[0]['dtype'] == dtype
  # Weights are per-channel int8 (one scale per output channel of the 8-channel conv).
  conv_weights = [t for t in tflite_inspect.tensor_table(model)
                  if t['dtype'] == 'int8' and t['shape'] == [8, 3, 3, 3]]
  assert len(conv_weights) == 1 and len(conv_weights[0]['scales']) == 8

  float_model = convert.convert_float(graph_def, ['input'], ['Predictions'], [_SHAPE])
  test_images = _images(16, 1)
  quantized = ptq.TFLiteClassifier(model).scores(test_images)
  reference = ptq.TFLiteClassifier(float_model).scores(test_images)
  assert reference.std(axis=0).max() > 0.1
  np.testing.assert_allclose(quantized, reference, atol=0.06)
  np.testing.assert_array_equal(np.argmax(quantized, -1)[np.max(reference, -1) > 0.6],
                                np.argmax(reference, -1)[np.max(reference, -1) > 0.6])


def testConvertPtqInt8_BadInputRaises(tmp_path):
  graph_def = _frozen_classifier()
  with pytest.raises(ValueError, match=r"io_type must be one of \['int8', 'uint8'\], got 'int16'"):
    ptq.convert_ptq_int8(graph_def, ['input'], ['Predictions'], [_SHAPE], [], io_type='int16')
  with pytest.raises(ValueError, match=r'representative image 0 has shape \[1, 8, 8, 3\]; the '
                     r'model input is \[1, 16, 16, 3\]'):
    ptq.convert_ptq_int8(graph_def, ['input'], ['Predictions'], [_SHAPE],
                         [np.zeros([8, 8, 3], np.float32)])
  with pytest.raises(ValueError, match='frozen graph .*missing.pb: file not found'):
    ptq.convert_ptq_int8(str(tmp_path / 'missing.pb'), ['input'], ['Predictions'], [_SHAPE], [])


def testEvaluateTop1_CountsCorrectPredictions():
  graph_def = _frozen_classifier()
  model = convert.convert_float(graph_def, ['input'], ['Predictions'], [_SHAPE])
  images = _images(6, 2)
  predicted = np.argmax(ptq.TFLiteClassifier(model).scores(images), axis=-1)
  labels = predicted.copy()
  labels[:2] = (labels[:2] + 1) % 4  # Two wrong labels out of six.
  accuracy, count = ptq.evaluate_top1(model, [(images[:4], labels[:4]), (images[4:], labels[4:])])
  assert count == 6
  assert accuracy == pytest.approx(4 / 6)
