"""Prune-then-QAT: masks stay fixed and pruned weights stay zero through fake-quant training."""
import numpy as np
import tensorflow as tf
import tf_slim

from slim import pruning
import slim.quantize as contrib_quantize

_v1 = tf.compat.v1
_LAYERS = ('conv1', 'conv2', 'logits')


def _masked_net(images, is_training):
  """conv1 (BN, folded by QAT) -> conv2 -> mean -> logits, all kernels masked."""
  with _v1.variable_scope('', custom_getter=pruning.masked_variable_getter()):
    net = tf_slim.conv2d(images, 8, 3, normalizer_fn=tf_slim.batch_norm,
                         normalizer_params={'is_training': is_training}, scope='conv1')
    net = tf_slim.conv2d(net, 16, 3, stride=2, scope='conv2')
    net = tf.reduce_mean(net, [1, 2])
    return tf_slim.fully_connected(net, 5, activation_fn=None, scope='logits')


def _weights_quant(layer):
  """Output of the FakeQuant on the weights that the (folded) layer op consumes."""
  return _v1.get_default_graph().get_tensor_by_name(
      layer + '/weights_quant/FakeQuantWithMinMaxVars:0')


def _ancestors(op, depth):
  """Names of the ops up to `depth` inputs above `op`."""
  names, frontier = set(), [op]
  for _ in range(depth):
    frontier = [t.op for o in frontier for t in o.inputs]
    names.update(o.name for o in frontier)
  return names


def testPruneThenQat_PrunedWeightsStayZeroThroughFakeQuant():
  rng = np.random.RandomState(0)
  images = tf.constant(rng.rand(4, 9, 9, 3).astype(np.float32))
  labels = tf.constant(rng.randint(0, 5, size=[4]))
  loss = _v1.losses.sparse_softmax_cross_entropy(labels, _masked_net(images, True))
  global_step = _v1.train.get_or_create_global_step()
  # Pruning phase stand-in: one mask update to 50%; the QAT phase then runs no mask update
  # (equivalently, its conditional_mask_update_op is past end_pruning_step).
  prune = pruning.Pruning(global_step=global_step, sparsity=tf.constant(0.5)).mask_update_op()
  contrib_quantize.create_training_graph(quant_delay=0)
  train_op = _v1.train.MomentumOptimizer(0.1, 0.9).minimize(loss, global_step=global_step)
  masks = pruning.get_masks()
  quantized = [_weights_quant(layer) for layer in _LAYERS]
  # The weight FakeQuants read the masked kernels (conv1 through its BN fold).
  assert quantized[0].op.inputs[0].op.name == 'conv1/mul_fold'
  assert 'conv1/weights/masked_weight' in _ancestors(quantized[0].op, 4)
  assert quantized[1].op.inputs[0].op.name == 'conv2/weights/masked_weight'
  with _v1.Session() as sess:
    sess.run(_v1.global_variables_initializer())
    sess.run(prune)
    mask_values = sess.run(masks)
    first_loss = sess.run(loss)
    for _ in range(5):
      sess.run(train_op)
    assert sess.run(loss) < first_loss
    for before, after in zip(mask_values, sess.run(masks)):  # Masks fixed.
      np.testing.assert_array_equal(before, after)
    for mask, weights_quant in zip(mask_values, sess.run(quantized)):
      assert 0.4 < 1 - mask.mean() < 0.6
      # Zero is exactly representable in the nudged ranges: fake-quantized zeros stay zero.
      assert np.all(weights_quant[mask == 0] == 0)
      assert np.count_nonzero(weights_quant[mask == 1]) > 0.9 * mask.sum()


def testPruneThenQat_StrippedEvalGraphConvertsToUint8():
  """Eval rewrite -> freeze -> strip -> legacy uint8 TFLite, output close to the TF graph."""
  from slim.tflite import convert  # pylint: disable=g-import-not-at-top
  images = _v1.placeholder(tf.float32, [1, 9, 9, 3], name='images')
  # A 1x1-conv classifier head (the legacy uint8 path of this project ranges conv logits).
  with _v1.variable_scope('', custom_getter=pruning.masked_variable_getter()):
    net = tf_slim.conv2d(images, 8, 3, normalizer_fn=tf_slim.batch_norm,
                         normalizer_params={'is_training': False}, scope='conv1')
    net = tf_slim.conv2d(net, 16, 3, stride=2, scope='conv2')
    net = tf.reduce_mean(net, [1, 2], keepdims=True)
    net = tf_slim.conv2d(net, 5, 1, activation_fn=None, scope='logits')
  tf.squeeze(net, [1, 2], name='output')
  update = pruning.Pruning(global_step=_v1.train.get_or_create_global_step(),
                           sparsity=tf.constant(0.5)).mask_update_op()
  contrib_quantize.experimental_create_eval_graph()
  with _v1.Session() as sess:
    sess.run(_v1.global_variables_initializer())
    sess.run(update)
    frozen = convert.freeze_session(sess, ['output'])
  stripped = pruning.strip_pruning_vars_fn(frozen, ['output'])
  assert not [n.name for n in stripped.node if n.name.split('/')[-1] in ('mask', 'threshold')]
  weights = {r.name: r for r in pruning.sparsity_report_from_graph_def(stripped)}
  assert 0.4 < weights['conv2/weights/masked_weight'].sparsity < 0.6
  model = convert.convert_uint8(stripped, ['images'], ['output'], [[1, 9, 9, 3]])
  feed = np.random.RandomState(0).uniform(-1, 1, [1, 9, 9, 3]).astype(np.float32)
  graph = tf.Graph()
  with graph.as_default():
    tf.graph_util.import_graph_def(stripped, name='')
    with _v1.Session(graph=graph) as sess:
      expected = sess.run('output:0', {'images:0': feed})
  interpreter = tf.lite.Interpreter(model_content=model)
  interpreter.allocate_tensors()
  inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
  interpreter.set_tensor(inp['index'], np.round(feed * 127.5 + 127.5).astype(np.uint8))
  interpreter.invoke()
  scale, zero_point = out['quantization']
  got = (interpreter.get_tensor(out['index']).astype(np.float32) - zero_point) * scale
  np.testing.assert_allclose(got, expected, atol=4 * scale + 0.02)
