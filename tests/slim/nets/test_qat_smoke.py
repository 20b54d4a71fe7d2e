"""Registry-driven QAT smoke test: every record trains with the QAT rewrite, exports, and
converts to a fully integer uint8 TFLite model (hard-swish, squeeze-excite and logits included).

  classifier_fn(is_training=True) -> create_training_graph -> one SGD step -> checkpoint
  -> new graph classifier_fn(is_training=False) -> create_eval_graph -> restore -> freeze
  -> convert_uint8 (raises NotFullyQuantizedError on any float op) -> invoke

Each record takes minutes on 2 shared cores (graph building, rewrite and conversion of a full
MobileNet), so only mobilenet_v3_small (hard-swish + SE, the smallest graph) runs by default;
the others are marked slow.
"""

import numpy as np
import pytest
import tensorflow as tf

import slim.quantize as contrib_quantize
from slim.nets import nets_factory
from slim.nets import registry
from slim.tflite import convert
from slim.tflite import inspection as tflite_inspect

_SIZE = 33
_CLASSES = 5
_DEFAULT_RECORDS = ('mobilenet_v3_small',)
_FAKE_QUANT = 'FakeQuantWithMinMaxVars'


def _train_one_step(name, checkpoint):
  rng = np.random.default_rng(0)
  with tf.Graph().as_default():
    # A seeded init: with an unseeded one, one run in ~7 drew weights whose one-step ranges gave a
    # model XNNPACK could not prepare ("failed to create XNNPACK runtime"); a fixed draw makes the
    # outcome the same on every run and machine.
    tf.compat.v1.set_random_seed(0)
    network_fn = nets_factory.get_network_fn(name, _CLASSES, weight_decay=4e-5, is_training=True)
    images = tf.compat.v1.placeholder(tf.float32, [2, _SIZE, _SIZE, 3])
    labels = tf.compat.v1.placeholder(tf.int32, [2])
    logits, _ = network_fn(images)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    contrib_quantize.create_training_graph(quant_delay=0)
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
      train_op = tf.compat.v1.train.GradientDescentOptimizer(0.01).minimize(loss)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      _, value = sess.run([train_op, loss], {
          images: rng.uniform(-1, 1, (2, _SIZE, _SIZE, 3)), labels: [0, 3]})
      assert np.isfinite(value)
      return tf.compat.v1.train.Saver().save(sess, checkpoint)


def _logits_layer(logits):
  """The Conv2D/MatMul that computes `logits` (walking up through squeeze/identity/bias ops)."""
  pending = [logits.op]
  while pending:
    op = pending.pop(0)
    if op.type in ('Conv2D', 'MatMul'):
      return op
    pending.extend(t.op for t in op.inputs)
  raise AssertionError('no Conv2D/MatMul above %s' % logits.name)


def _freeze_eval_graph(name, checkpoint):
  """Returns (frozen GraphDef, output op name, names of FakeQuant ops)."""
  with tf.Graph().as_default() as graph:
    network_fn = nets_factory.get_network_fn(name, _CLASSES)
    images = tf.compat.v1.placeholder(tf.float32, [1, _SIZE, _SIZE, 3])
    logits, end_points = network_fn(images)
    output = end_points['Predictions'].op.name
    contrib_quantize.create_eval_graph()
    # The classifier layer (after the global pool) reads quantized weights.
    assert _logits_layer(logits).inputs[1].op.type == _FAKE_QUANT
    fake_quants = [op.name for op in graph.get_operations() if op.type == _FAKE_QUANT]
    with tf.compat.v1.Session() as sess:
      tf.compat.v1.train.Saver().restore(sess, checkpoint)
      return convert.freeze_session(sess, [output]), output, fake_quants


@pytest.mark.parametrize('name', [
    n if n in _DEFAULT_RECORDS else pytest.param(n, marks=pytest.mark.slow)
    for n in registry.names()])
def testQat_RecordConvertsToFullyIntegerTflite(name, tmp_path):
  record = registry.get(name)
  checkpoint = _train_one_step(name, str(tmp_path / 'model.ckpt'))
  graph_def, output, fake_quants = _freeze_eval_graph(name, checkpoint)
  if record.scope == 'MobilenetV3':
    assert any('/hard_swish/' in n for n in fake_quants)
    assert any('/squeeze_excite/' in n for n in fake_quants)

  model = convert.convert_uint8(graph_def, [record.classifier_input_node], [output],
                                [[1, _SIZE, _SIZE, 3]])
  assert tflite_inspect.float_ops(model) == []
  assert tflite_inspect.is_fully_integer(model)
  interpreter = tf.lite.Interpreter(model_content=model)
  interpreter.allocate_tensors()
  (input_detail,) = interpreter.get_input_details()
  (output_detail,) = interpreter.get_output_details()
  assert input_detail['dtype'] == np.uint8
  assert input_detail['name'] == record.classifier_input_node
  interpreter.set_tensor(input_detail['index'], np.random.default_rng(1).integers(
      0, 256, (1, _SIZE, _SIZE, 3), dtype=np.uint8))
  interpreter.invoke()
  probabilities = interpreter.get_tensor(output_detail['index'])
  assert probabilities.dtype == np.uint8
  assert probabilities.shape == (1, _CLASSES)
  # uint8 softmax: scale 1/256, so the probabilities sum to about 256.
  assert abs(int(probabilities.sum()) - 256) <= _CLASSES
