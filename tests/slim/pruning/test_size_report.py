"""Tests for slim.pruning.size_report: dense vs 50% vs 80% sparse sizes of a small model."""
import gzip

import numpy as np
import tensorflow as tf
import tf_slim

from slim.pruning import report
from slim.pruning import size_report

_INPUT_SHAPE = [1, 16, 16, 3]


def _small_model(images):
  net = tf_slim.conv2d(images, 32, 3, scope='conv1')
  net = tf_slim.conv2d(net, 64, 3, stride=2, scope='conv2')
  net = tf_slim.conv2d(net, 64, 1, scope='conv3')
  net = tf.reduce_mean(net, [1, 2])
  return tf_slim.fully_connected(net, 10, activation_fn=None, scope='logits')


def _run_tflite(model, feed):
  interpreter = tf.lite.Interpreter(model_content=model)
  interpreter.allocate_tensors()
  interpreter.set_tensor(interpreter.get_input_details()[0]['index'], feed)
  interpreter.invoke()
  return interpreter.get_tensor(interpreter.get_output_details()[0]['index'])


def testGzipSize_IsDeterministicGzip():
  data = b'\0' * 1000 + bytes(range(256))
  assert size_report.gzip_size(data) == len(gzip.compress(data, 9, mtime=0))
  assert size_report.gzip_size(data) < len(data)


def testSparsitySizeReport_DenseVs50Vs80():
  records = size_report.sparsity_size_report(_small_model, _INPUT_SHAPE, (0.0, 0.5, 0.8))
  dense, half, most = records
  assert [r.label for r in records] == ['dense', '50%', '80%']
  # Zeros are stored densely: raw sizes do not move...
  for r in (half, most):
    assert abs(r.graph_def_bytes - dense.graph_def_bytes) < 0.01 * dense.graph_def_bytes
    assert abs(r.tflite_bytes - dense.tflite_bytes) < 0.01 * dense.tflite_bytes
  # ... compressed sizes and the sparse TFLite encoding do.
  assert dense.graph_def_gzip > 0.85 * dense.graph_def_bytes  # Random weights barely compress.
  assert half.graph_def_gzip < 0.75 * dense.graph_def_gzip
  assert most.graph_def_gzip < 0.45 * dense.graph_def_gzip
  assert half.tflite_gzip < 0.75 * dense.tflite_gzip
  assert most.tflite_gzip < 0.45 * dense.tflite_gzip
  assert most.sparse_tflite_bytes < 0.45 * dense.tflite_bytes
  assert half.sparse_tflite_bytes < dense.tflite_bytes
  table = size_report.format_size_report(records).splitlines()
  assert table[0].startswith('| model | GraphDef | GraphDef gzip |')
  assert table[2] == '| dense | %s |' % ' | '.join(str(v) for v in dense[1:])
  assert table[4].startswith('| 80% | ')


def testSparseTflite_SameOutputAsDense():
  graph_def = size_report.pruned_graph_def(_small_model, _INPUT_SHAPE, 0.8)
  (conv1, conv2, conv3, logits) = report.sparsity_report_from_graph_def(graph_def)
  assert conv1.name == 'conv1/weights/masked_weight'
  for record in (conv1, conv2, conv3, logits):
    assert abs(record.sparsity - 0.8) < 0.05, record
  names = ([size_report.INPUT_NAME], [size_report.OUTPUT_NAME], [_INPUT_SHAPE])
  dense = size_report.convert_float_tflite(graph_def, *names)
  sparse = size_report.convert_float_tflite(graph_def, *names, sparsity=True)
  assert len(sparse) < 0.45 * len(dense)
  feed = np.random.RandomState(0).rand(*_INPUT_SHAPE).astype(np.float32)
  np.testing.assert_allclose(_run_tflite(sparse, feed), _run_tflite(dense, feed),
                             rtol=1e-5, atol=1e-5)


def testRegistryClassifierFn_PrunesEveryNonDepthwiseKernel():
  build_fn = size_report.registry_classifier_fn('mobilenet_v2', depth_multiplier=0.35,
                                                num_classes=10)
  graph_def = size_report.pruned_graph_def(build_fn, [1, 32, 32, 3], 0.5)
  records = report.sparsity_report_from_graph_def(graph_def)
  pruned = [r for r in records if r.name.endswith('/weights/masked_weight')]
  depthwise = [r for r in records if r.name.endswith('/depthwise_weights')]
  # MobileNetV2: first conv, 16 expansion + 17 projection 1x1 convs, last 1x1 conv, Logits.
  assert len(pruned) == 1 + 16 + 17 + 1 + 1
  assert len(depthwise) == 17 and all(r.sparsity < 0.05 for r in depthwise)
  assert pruned[-1].name == 'Logits/weights/masked_weight'
  total = sum(r.zeros for r in pruned) / float(sum(r.size for r in pruned))
  assert abs(total - 0.5) < 0.05
