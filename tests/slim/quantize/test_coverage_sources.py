"""Full coverage of "source" casts: integer masks get a range, uint8 images and class ids none.

DeepLab's export graph casts the uint8 `ImageTensor` before the model input; a range there would
be a variable that no QAT training checkpoint holds, and export would fail to restore.
"""
import tensorflow as tf
import tf_slim

from slim.quantize import quantize_graph


def _Build(input_dtype):
  source = tf.compat.v1.placeholder(input_dtype, [1, 8, 8, 3], name='source')
  net = tf.cast(source, tf.float32, name='Cast') * 0.5
  net = tf_slim.conv2d(net, 4, 1, scope='c1')
  return tf.identity(net, name='output')


def _Units(graph):
  return {op.name.rpartition('/')[0] for op in graph.get_operations()
          if op.type.startswith('FakeQuant')}


def test_uint8_image_cast_gets_no_range():
  with tf.Graph().as_default() as graph:
    _Build(tf.uint8)
    quantize_graph.create_eval_graph()
  assert 'Cast/output_quant' not in _Units(graph)
  assert 'c1/weights_quant' in _Units(graph)


def test_int32_mask_cast_keeps_its_range():
  with tf.Graph().as_default() as graph:
    _Build(tf.int32)
    quantize_graph.create_eval_graph()
  assert 'Cast/output_quant' in _Units(graph)


def test_cast_of_argmax_class_ids_gets_no_range():
  with tf.Graph().as_default() as graph:
    output = _Build(tf.int32)
    tf.cast(tf.argmax(output, 3), tf.float32, name='labels_as_float')
    quantize_graph.create_eval_graph()
  assert 'labels_as_float/output_quant' not in _Units(graph)
