"""End to end: train a toy segmentation net with the QAT rewrite, export, convert, compare.

  input [-1,1] -> conv s2 +BN+relu6 -> conv +BN+relu6 --+-> 1x1 aspp0 ------------------+
                                                        +-> mean -> 1x1 -> resize -------+-> concat
  -> 1x1 projection -> logits (bias) -> resize to input -> ArgMax
"""
import numpy as np
import pytest
import tensorflow as tf
import tf_slim

import slim.quantize as contrib_quantize
from slim.tflite import convert
from slim.tflite import inspection as tflite_inspect

_SIZE = 32
_CLASSES = 3


def _Net(images, is_training):
  with tf_slim.arg_scope([tf_slim.conv2d], normalizer_fn=tf_slim.batch_norm,
                         normalizer_params={'is_training': is_training, 'decay': 0.9},
                         activation_fn=tf.nn.relu6):
    net = tf_slim.conv2d(images, 16, 3, stride=2, scope='conv1')
    net = tf_slim.conv2d(net, 16, 3, scope='conv2')
    pool = tf.reduce_mean(net, [1, 2], keepdims=True)
    pool = tf_slim.conv2d(pool, 8, 1, scope='image_pooling')
    pool = tf.compat.v1.image.resize_bilinear(pool, [_SIZE // 2] * 2, align_corners=True)
    aspp0 = tf_slim.conv2d(net, 8, 1, scope='aspp0')
    net = tf_slim.conv2d(tf.concat([pool, aspp0], 3), 16, 1, scope='concat_projection')
  logits = tf_slim.conv2d(net, _CLASSES, 1, activation_fn=None, scope='logits')
  return tf.compat.v1.image.resize_bilinear(logits, [_SIZE, _SIZE], align_corners=True)


def _Data(rng, n):
  """Images with a bright square (class 1) and a dark disc (class 2) on noise."""
  images = rng.uniform(-0.3, 0.3, (n, _SIZE, _SIZE, 3)).astype(np.float32)
  labels = np.zeros((n, _SIZE, _SIZE), np.int32)
  yy, xx = np.mgrid[:_SIZE, :_SIZE]
  for i in range(n):
    y, x = rng.integers(2, _SIZE - 14, 2)
    images[i, y:y + 12, x:x + 12] += 0.6
    labels[i, y:y + 12, x:x + 12] = 1
    cy, cx = rng.integers(6, _SIZE - 6, 2)
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 < 25
    images[i][disc] -= 0.6
    labels[i][disc] = 2
  return np.clip(images, -1, 1), labels


def _Train(tmp_path, steps, quant_delay):
  """Trains with the QAT rewrite; returns (checkpoint, losses, range snapshots, outputs)."""
  rng = np.random.default_rng(0)
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [8, _SIZE, _SIZE, 3])
    labels = tf.compat.v1.placeholder(tf.int32, [8, _SIZE, _SIZE])
    logits = _Net(images, is_training=True)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    contrib_quantize.create_training_graph(quant_delay=quant_delay)
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
      train_op = tf.compat.v1.train.AdamOptimizer(0.01).minimize(loss)
    act_max = tf.compat.v1.get_default_graph().get_tensor_by_name('conv2/act_quant/max:0')
    saver = tf.compat.v1.train.Saver()
    losses, ranges = [], []
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for _ in range(steps):
        x, y = _Data(rng, 8)
        _, value = sess.run([train_op, loss], {images: x, labels: y})
        losses.append(value)
        ranges.append(sess.run(act_max))
      path = saver.save(sess, str(tmp_path / 'model.ckpt'))
  return path, losses, ranges


def _ExportAndConvert(checkpoint, per_channel=False):
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, _SIZE, _SIZE, 3], name='input')
    tf.argmax(_Net(images, is_training=False), 3, name='ArgMax')
    contrib_quantize.experimental_create_eval_graph(per_channel=per_channel)
    with tf.compat.v1.Session() as sess:
      tf.compat.v1.train.Saver().restore(sess, checkpoint)
      frozen = convert.freeze_session(sess, ['ArgMax'])
  conv = convert.convert_int8 if per_channel else convert.convert_uint8
  return frozen, conv(frozen, ['input'], ['ArgMax'], [[1, _SIZE, _SIZE, 3]])


def _Agreement(frozen, model, int8=False):
  """Share of pixels where the TFLite argmax equals the fake-quant graph's, over 10 images."""
  rng = np.random.default_rng(1)
  interp = tf.lite.Interpreter(model_content=model)
  interp.allocate_tensors()
  inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
  with tf.Graph().as_default():
    tf.import_graph_def(frozen, name='')
    with tf.compat.v1.Session() as sess:
      agree = []
      for _ in range(10):
        x, _ = _Data(rng, 1)
        q = np.round(x * 127.5 + 127.5).astype(np.uint8)
        real = (q.astype(np.float32) - 127.5) / 127.5
        graph_out = sess.run('ArgMax:0', {'input:0': real})
        interp.set_tensor(inp['index'], (q.astype(np.int16) - 128).astype(np.int8) if int8 else q)
        interp.invoke()
        agree.append(np.mean(interp.get_tensor(out['index']) == graph_out))
  return float(np.mean(agree))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  return _Train(tmp_path_factory.mktemp('qat'), steps=40, quant_delay=0)


def testTraining_LossDropsAndRangesMove(trained):
  _, losses, ranges = trained
  assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
  assert ranges[0] != ranges[-1]
  assert ranges[0] != 6.0  # the EMA (zero-debiased) replaced the initial range at step 1


def testUint8Export_FullyIntegerAndAgreesWithFakeQuantGraph(trained):
  frozen, model = _ExportAndConvert(trained[0])
  assert tflite_inspect.is_fully_integer(model)
  types = {row['dtype'] for row in tflite_inspect.tensor_table(model)}
  assert types <= {'uint8', 'int32', 'int64'}
  assert _Agreement(frozen, model) >= 0.99


def testQuantDelay_FakeQuantBypassedBeforeDelayActiveAfter(tmp_path):
  rng = np.random.default_rng(0)
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, _SIZE, _SIZE, 3])
    logits = _Net(images, is_training=False)
    contrib_quantize.create_training_graph(quant_delay=2)
    graph = tf.compat.v1.get_default_graph()
    weights = graph.get_tensor_by_name('conv1/weights_quant/delayed_quant/Merge:0')
    # The unit's input: the BN-folded weights (mul_fold).
    raw = graph.get_operation_by_name('conv1/weights_quant/FakeQuantWithMinMaxVars').inputs[0]
    assert raw.op.name == 'conv1/mul_fold'
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      x, _ = _Data(rng, 1)
      first_w, first_raw = sess.run([weights, raw], {images: x})   # step 1 < 2: bypassed
      second_w, second_raw = sess.run([weights, raw], {images: x})  # step 2 >= 2: active
      del logits
  np.testing.assert_array_equal(first_w, first_raw)
  assert not np.array_equal(second_w, second_raw)
  assert len(np.unique(second_w)) <= 255


def testInt8PerChannel_ConvertsAndAgrees(tmp_path):
  # Per-channel weight ranges are variables of shape [channels]: train with the same option.
  rng = np.random.default_rng(0)
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [8, _SIZE, _SIZE, 3])
    labels = tf.compat.v1.placeholder(tf.int32, [8, _SIZE, _SIZE])
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, _Net(images, True))
    contrib_quantize.experimental_create_training_graph(quant_delay=0, per_channel=True)
    with tf.control_dependencies(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)):
      train_op = tf.compat.v1.train.AdamOptimizer(0.01).minimize(loss)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for _ in range(25):
        x, y = _Data(rng, 8)
        sess.run(train_op, {images: x, labels: y})
      path = tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'pc.ckpt'))
  frozen, model = _ExportAndConvert(path, per_channel=True)
  assert tflite_inspect.is_fully_integer(model)
  conv_weights = [r for r in tflite_inspect.tensor_table(model)
                  if r['dtype'] == 'int8' and len(r['shape']) == 4 and len(r['scales']) > 1]
  assert conv_weights  # per-channel scales survived
  assert _Agreement(frozen, model, int8=True) >= 0.99
