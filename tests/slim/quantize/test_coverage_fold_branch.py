"""A BN-folded layer whose pre-activation output also feeds another op (RetinaNet's P6: read by
the head and, through relu6, by the next level) gets its own range at `add_fold`.

  input -> conv 'a' -> BN -> add_fold ─┬─ relu6 -> conv 'b' ─┐
                                       └─ conv 'c' ──────────┴─ Concat -> output

Without it the original patterns range only relu6's output, and conv 'c' reads a float tensor
(the uint8 model keeps DEQUANTIZE / float CONV_2D ops).
"""
import numpy as np
import tensorflow as tf
import tf_slim

import slim.quantize as contrib_quantize
from slim.tflite import convert
from slim.tflite import inspection

_BRANCH_QUANT = 'a/add_fold/output_quant'


def _build(is_training):
  images = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3], name='input')
  with tf_slim.arg_scope([tf_slim.conv2d], activation_fn=None, biases_initializer=None,
                         normalizer_fn=tf_slim.batch_norm,
                         normalizer_params={'is_training': is_training, 'fused': True}):
    net = tf_slim.conv2d(images, 4, 3, scope='a')
    left = tf_slim.conv2d(tf.nn.relu6(net), 4, 3, scope='b')
    right = tf_slim.conv2d(net, 4, 3, scope='c')
  return tf.concat([left, right], 3, name='output')


def _ranges(graph):
  return sorted(v.op.name for v in graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
                if v.op.name.endswith(('/min', '/max')))


def testFoldBranch_TrainingAndEvalRangeTheBranch():
  with tf.Graph().as_default() as training:
    output = _build(is_training=True)
    tf.compat.v1.losses.add_loss(tf.reduce_mean(output))
    contrib_quantize.create_training_graph(quant_delay=0)
  with tf.Graph().as_default() as evaluation:
    _build(is_training=False)
    contrib_quantize.create_eval_graph()
    assert evaluation.get_operation_by_name(_BRANCH_QUANT + '/FakeQuantWithMinMaxVars')
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      graph_def = convert.freeze_session(sess, ['output'])
  assert _BRANCH_QUANT + '/min' in _ranges(training)
  # One checkpoint serves both graphs.
  assert _ranges(training) == _ranges(evaluation)
  model = convert.convert_uint8(graph_def, ['input'], ['output'], [[1, 8, 8, 3]])
  assert inspection.float_ops(model) == []
  assert 'DEQUANTIZE' not in inspection.op_histogram(model)
  assert np.dtype(inspection.tensor_table(model)[0]['dtype']) == np.uint8
