"""conv2d_transpose + batch norm + ReLU6 (a decoder block): folded, fully integer, runnable.

The BN scale multiplies the transposed conv's filter [h, w, out, in] along axis 2; the converted
uint8 and int8 models hold a TRANSPOSE_CONV with integer tensors only and run in the default
interpreter (XNNPACK).
"""
import numpy as np
import pytest
import tensorflow as tf
import tf_slim

from tests import helpers

import slim.quantize as contrib_quantize
from slim.quantize import fold_batch_norms
from slim.quantize import options as options_lib
from slim.tflite import convert
from slim.tflite import inspection as tflite_inspect
from slim.tflite import interpreter as interpreter_lib

_BATCH, _SIZE, _IN, _OUT = 2, 8, 3, 5


def _Block(x, is_training, fused=True):
  """stem conv -> conv2d_transpose (stride 2) + BN + ReLU6 -> 1x1 conv (a decoder step)."""
  bn = {'is_training': is_training, 'decay': 0.5, 'fused': fused}
  with tf_slim.arg_scope([tf_slim.conv2d, tf_slim.conv2d_transpose],
                         normalizer_fn=tf_slim.batch_norm, normalizer_params=bn,
                         activation_fn=tf.nn.relu6):
    net = tf_slim.conv2d(x, 4, 3, scope='stem')
    net = tf_slim.conv2d_transpose(net, _OUT, 3, stride=2, scope='up')
  return tf_slim.conv2d(net, 2, 1, activation_fn=None, scope='head')


def _Input(batch=_BATCH):
  return tf.compat.v1.placeholder(tf.float32, [batch, _SIZE, _SIZE, _IN], name='input')


def _Grad(y, x):
  # A random projection: sum(y * y) of a batch-normed output barely depends on x.
  weights = np.random.RandomState(2).normal(size=y.shape.as_list()).astype(np.float32)
  return tf.gradients(tf.reduce_sum(y * weights), x)[0]


def _RunRandomized(fetches, feed):
  """Runs `fetches` in a new session (a session ignores rerouted inputs of ops it ran)."""
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    helpers.randomize_bn_variables(sess)
    return sess.run(fetches, feed)


def _Feed(x):
  return {x: np.random.RandomState(1).uniform(-1, 1, x.shape.as_list()).astype(np.float32)}


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('is_training, mode', [(False, options_lib.FOLD_ONE_CONV),
                                               (True, options_lib.FOLD_ONE_CONV),
                                               (True, options_lib.FOLD_CONTRIB)])
def testFoldTransposedConv_EqualsUnfolded(fused, is_training, mode):
  x = _Input()
  y = _Block(x, is_training, fused)
  feed = _Feed(x)
  graph = tf.compat.v1.get_default_graph()
  before = _RunRandomized({'y': y, 'grad': _Grad(y, x)}, feed)
  fold_batch_norms.FoldBatchNorms(graph, is_training=is_training, fold_mode=mode)
  after = _RunRandomized({'y': y, 'grad': _Grad(y, x)}, feed)
  np.testing.assert_allclose(after['y'], before['y'], atol=1e-4, rtol=1e-4)
  np.testing.assert_allclose(after['grad'], before['grad'], atol=1e-3, rtol=1e-3)
  fold = graph.get_operation_by_name('up/conv2d_transpose_Fold')
  assert fold.type == 'Conv2DBackpropInput'
  # The folded filter is [h, w, out, in]: the scale runs along axis 2.
  assert fold.inputs[1].op.name == 'up/mul_fold'
  assert fold.inputs[1].shape.as_list() == [3, 3, _OUT, 4]
  scale = fold.inputs[1].op.inputs[1]
  assert scale.shape.as_list() == [_OUT, 1]


def _TrainAndExport(tmp_path, per_channel):
  """A few QAT steps, then the eval rewrite frozen at batch 1 (input -> ArgMax of the head)."""
  with tf.Graph().as_default():
    x = _Input()
    y = _Block(x, is_training=True)
    loss = tf.reduce_mean(tf.square(y - 1.0))
    contrib_quantize.experimental_create_training_graph(quant_delay=0, per_channel=per_channel)
    with tf.control_dependencies(tf.compat.v1.get_collection(
        tf.compat.v1.GraphKeys.UPDATE_OPS)):
      train_op = tf.compat.v1.train.GradientDescentOptimizer(0.01).minimize(loss)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for _ in range(3):
        sess.run(train_op, _Feed(x))
      path = tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'model.ckpt'))
  with tf.Graph().as_default() as graph:
    x = _Input(batch=1)
    tf.math.argmax(_Block(x, is_training=False), 3, name='output')
    contrib_quantize.experimental_create_eval_graph(per_channel=per_channel)
    with tf.compat.v1.Session() as sess:
      tf.compat.v1.train.Saver().restore(sess, path)
      assert 'up/conv2d_transpose_Fold' in {op.name for op in graph.get_operations()}
      return convert.freeze_session(sess, ['output'])


@pytest.mark.parametrize('kind', ['uint8', 'int8'])
def testTransposedConvBlock_FullyIntegerAndRuns(tmp_path, kind):
  frozen = _TrainAndExport(tmp_path, per_channel=kind == 'int8')
  converter = convert.convert_uint8 if kind == 'uint8' else convert.convert_int8
  # convert_* refuse float ops and a model the default interpreter cannot prepare or invoke.
  model = converter(frozen, ['input'], ['output'], [[1, _SIZE, _SIZE, _IN]])
  histogram = tflite_inspect.op_histogram(model)
  assert histogram.get('TRANSPOSE_CONV') == 1, histogram
  assert not {'DEQUANTIZE', 'MUL', 'ADD'} & set(histogram), histogram
  assert tflite_inspect.is_fully_integer(model)
  rows = {r['name']: r for r in tflite_inspect.tensor_table(model)}
  # TFLite stores the folded filter as [out, h, w, in].
  transposed_filters = [r for r in rows.values() if r['shape'] == [_OUT, 3, 3, 4]]
  assert transposed_filters and all(r['dtype'] == kind for r in transposed_filters), rows
  interp = interpreter_lib.load(model)
  inp = interp.get_input_details()[0]
  interp.set_tensor(inp['index'], np.full(inp['shape'], 7, inp['dtype']))
  interp.invoke()
  out = interp.get_tensor(interp.get_output_details()[0]['index'])
  assert out.shape == (1, 2 * _SIZE, 2 * _SIZE)


@pytest.mark.parametrize('training', [False, True])
def testFoldKerasConv2DTranspose_EqualsUnfolded(training):
  import tf_keras  # pylint: disable=g-import-not-at-top
  x = _Input()
  net = tf_keras.layers.Conv2DTranspose(_OUT, 3, strides=2, padding='same', use_bias=False,
                                        name='up')(x)
  net = tf_keras.layers.BatchNormalization(name='bn')(net, training=training)
  y = tf.nn.relu6(net)
  feed = _Feed(x)
  graph = tf.compat.v1.get_default_graph()
  before = _RunRandomized({'y': y, 'grad': _Grad(y, x)}, feed)
  fold_batch_norms.FoldBatchNorms(graph, is_training=training)
  after = _RunRandomized({'y': y, 'grad': _Grad(y, x)}, feed)
  np.testing.assert_allclose(after['y'], before['y'], atol=1e-4, rtol=1e-4)
  np.testing.assert_allclose(after['grad'], before['grad'], atol=1e-3, rtol=1e-3)
  folds = [op for op in graph.get_operations() if op.name.endswith('_Fold')]
  assert [op.type for op in folds] == ['Conv2DBackpropInput'], folds
  assert y.op.inputs[0].op.name.endswith('add_fold')
