"""The two training-time BN folds (`fold_mode`): same variables, same function, checkpoints move.

A QAT checkpoint trained with either fold restores into a training graph built with the other
and into the eval graph; the other fold then computes the same outputs (up to the batch
statistics, which the one-conv fold takes from the fake-quantized layer).
"""
import numpy as np
import pytest
import tensorflow as tf
import tf_slim

import slim.quantize as contrib_quantize
from slim.quantize import options as options_lib

_BATCH, _SIZE = 4, 12
_ONE_CONV, _CONTRIB = options_lib.FOLD_ONE_CONV, options_lib.FOLD_CONTRIB


def _Model(images, is_training):
  """Conv, dilated separable (depthwise), pointwise, FC: every foldable layer type with BN."""
  bn = {'is_training': is_training, 'decay': 0.9, 'fused': True}
  with tf_slim.arg_scope([tf_slim.conv2d, tf_slim.separable_conv2d, tf_slim.fully_connected],
                         normalizer_fn=tf_slim.batch_norm, normalizer_params=bn,
                         activation_fn=tf.nn.relu6):
    net = tf_slim.conv2d(images, 8, 3, stride=2, scope='conv')
    net = tf_slim.separable_conv2d(net, None, 3, depth_multiplier=1, rate=2, scope='dw',
                                   normalizer_params=dict(bn, fused=False))
    net = tf_slim.conv2d(net, 8, 1, scope='pw')
    net = tf.reduce_mean(net, [1, 2])
    net = tf_slim.fully_connected(net, 8, scope='fc')
  return tf_slim.fully_connected(net, 3, activation_fn=None, scope='logits')


def _Images():
  return np.random.RandomState(0).uniform(-1, 1, [_BATCH, _SIZE, _SIZE, 3]).astype(np.float32)


def _TrainingGraph(fold_mode, quant_delay=0):
  """A QAT training graph: (graph, images placeholder, logits, train op)."""
  graph = tf.Graph()
  with graph.as_default():
    images = tf.compat.v1.placeholder(tf.float32, [_BATCH, _SIZE, _SIZE, 3])
    logits = _Model(images, is_training=True)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(tf.zeros([_BATCH], tf.int32),
                                                            logits)
    contrib_quantize.experimental_create_training_graph(quant_delay=quant_delay,
                                                        fold_mode=fold_mode)
    optimizer = tf.compat.v1.train.MomentumOptimizer(0.05, 0.9)
    with tf.control_dependencies(tf.compat.v1.get_collection(
        tf.compat.v1.GraphKeys.UPDATE_OPS)):
      train_op = optimizer.minimize(loss)
  return graph, images, logits, train_op


def _EvalGraph():
  graph = tf.Graph()
  with graph.as_default():
    images = tf.compat.v1.placeholder(tf.float32, [_BATCH, _SIZE, _SIZE, 3])
    logits = _Model(images, is_training=False)
    contrib_quantize.create_eval_graph()
  return graph, images, logits


def _VariableShapes(graph):
  with graph.as_default():
    return {v.op.name: tuple(v.shape.as_list()) for v in tf.compat.v1.global_variables()}


def testFoldModes_SameVariables_OneConvRunsEachLayerOnce():
  one_conv, contrib = _TrainingGraph(_ONE_CONV)[0], _TrainingGraph(_CONTRIB)[0]
  assert _VariableShapes(one_conv) == _VariableShapes(contrib)
  # The original layer (with the atrous BatchToSpaceND after it) feeds nothing: it never runs.
  for output in ('conv/Conv2D', 'dw/depthwise/BatchToSpaceND', 'pw/Conv2D', 'fc/MatMul'):
    assert not one_conv.get_operation_by_name(output).outputs[0].consumers(), output
    assert contrib.get_operation_by_name(output).outputs[0].consumers(), output


# quant_delay 100: fake quantization not active yet, so the folds must agree to float precision.
# 0: the one-conv statistics see fake-quantized weights (8-channel layers: coarse weight grids),
# and each layer's output rounding compounds that: close, not equal.
@pytest.mark.parametrize('trained, other, quant_delay, rtol', [
    (_ONE_CONV, _CONTRIB, 100, 1e-4), (_CONTRIB, _ONE_CONV, 100, 1e-4),
    (_ONE_CONV, _CONTRIB, 0, 0.25)])
def testCheckpoint_RestoresIntoOtherFoldAndEvalGraph(tmp_path, trained, other, quant_delay,
                                                     rtol):
  feed_images = _Images()
  graph, images, logits, train_op = _TrainingGraph(trained, quant_delay)
  with graph.as_default(), tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    for _ in range(2):
      sess.run(train_op, {images: feed_images})
    trained_logits = sess.run(logits, {images: feed_images})
    path = tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'model.ckpt'))

  graph, images, logits, train_op = _TrainingGraph(other, quant_delay)
  with graph.as_default(), tf.compat.v1.Session() as sess:
    tf.compat.v1.train.Saver().restore(sess, path)
    other_logits = sess.run(logits, {images: feed_images})
    sess.run(train_op, {images: feed_images})  # And it trains on from there.
  # Same function: only the batch statistics' source differs (fake-quantized weights or not).
  scale = np.abs(trained_logits).max()
  assert scale > 0.1  # Not trivially equal.
  np.testing.assert_allclose(other_logits, trained_logits, atol=rtol * scale)

  graph, images, logits = _EvalGraph()
  with graph.as_default(), tf.compat.v1.Session() as sess:
    tf.compat.v1.train.Saver().restore(sess, path)
    eval_logits = sess.run(logits, {images: feed_images})
  assert np.all(np.isfinite(eval_logits))


def testFoldMode_Refused():
  with pytest.raises(ValueError, match=r"QuantizeOptions.fold_mode must be one of 'one_conv', "
                     r"'contrib', got 'two'"):
    options_lib.QuantizeOptions(is_training=True, fold_mode='two')
