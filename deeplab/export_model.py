"""Exports a trained DeepLab checkpoint to a frozen inference graph.

Input `ImageTensor` (uint8 [1, None, None, 3]); outputs `SemanticPredictions` (int32 [1, H, W])
and `SemanticProbabilities`. With --quantize_delay_step >= 0 the QAT eval rewrite is applied and
the graph also contains the backbone input `MobilenetV2/MobilenetV2/input` and the root `ArgMax`
that `tflite_convert` uses (see g3doc/quantize.md). --quantize_per_channel (new) builds the int8
per-channel variant with experimental_create_eval_graph(per_channel=True).
"""

import os
import sys

if __name__ == '__main__' and __package__ in (None, ''):
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
import slim  # noqa: E402,F401  pylint: disable=unused-import
from slim import fileio  # noqa: E402
from slim.tflite import convert  # noqa: E402
import slim.quantize as contrib_quantize  # noqa: E402
import tensorflow as tf  # noqa: E402

from deeplab import common  # noqa: E402
from deeplab import model  # noqa: E402

# allow_override: train/eval/vis/export share flag names (separate binaries in the original);
# tests and tools import several of them into one process.
flags.DEFINE_string('checkpoint_path', None, 'Checkpoint path',
    allow_override=True)
flags.DEFINE_string('export_path', None, 'Path to output Tensorflow frozen graph.',
    allow_override=True)
flags.DEFINE_integer('num_classes', 21, 'Number of classes.',
    allow_override=True)
flags.DEFINE_multi_integer('crop_size', [513, 513], 'Crop size [height, width].',
    allow_override=True)
flags.DEFINE_multi_integer('atrous_rates', None, 'Atrous rates for atrous spatial pyramid '
                           'pooling.',
    allow_override=True)
flags.DEFINE_integer('output_stride', 8, 'The ratio of input to output spatial resolution.',
    allow_override=True)
flags.DEFINE_multi_float('inference_scales', [1.0], 'The scales to resize images for inference.',
    allow_override=True)
flags.DEFINE_bool('add_flipped_images', False, 'Add flipped images during inference or not.',
    allow_override=True)
flags.DEFINE_integer('quantize_delay_step', -1, 'Steps to start quantized training. If < 0, will '
                     'not quantize model.',
    allow_override=True)
flags.DEFINE_bool('quantize_per_channel', False, 'New: with --quantize_delay_step >= 0, use '
                  'per-channel weight ranges (for the int8 TFLite path).',
    allow_override=True)
flags.DEFINE_bool('save_inference_graph', False, 'Save inference graph in text proto.',
    allow_override=True)

FLAGS = flags.FLAGS

# Graph names (API of the exported model).
INPUT_TENSOR_NAME = 'ImageTensor'
OUTPUT_TENSOR_NAME = 'SemanticPredictions'
RAW_OUTPUT_TENSOR_NAME = 'RawSemanticPredictions'
OUTPUT_PROB_TENSOR_NAME = 'SemanticProbabilities'
RAW_OUTPUT_PROB_TENSOR_NAME = 'RawSemanticProbabilities'
QUANTIZED_INPUT_NAME = 'MobilenetV2/MobilenetV2/input'
QUANTIZED_OUTPUT_NAME = 'ArgMax'
MULTI_SCALE_QUANT_ERROR = 'Quantize mode is not supported with multi-scale test.'


def _create_input_tensors(crop_size, min_resize_value=None, max_resize_value=None,
                          resize_factor=None, model_variant='mobilenet_v2'):
  """Creates and prepares input tensors for DeepLab model.

  Returns:
    image: Preprocessed 4-D float32 tensor with shape [1, crop_height, crop_width, 3].
    original_image_size: Original image shape tensor [height, width].
    resized_image_size: Resized image shape tensor [height, width].
  """
  from deeplab import input_preprocess  # pylint: disable=g-import-not-at-top
  input_image = tf.compat.v1.placeholder(tf.uint8, [1, None, None, 3], name=INPUT_TENSOR_NAME)
  original_image_size = tf.shape(input_image)[1:3]
  # Squeeze the dimension in axis=0 since `preprocess_image_and_label` assumes image to be 3-D.
  image = tf.squeeze(input_image, axis=0)
  resized_image, image, _ = input_preprocess.preprocess_image_and_label(
      image, label=None, crop_height=crop_size[0], crop_width=crop_size[1],
      min_resize_value=min_resize_value, max_resize_value=max_resize_value,
      resize_factor=resize_factor, is_training=False, model_variant=model_variant)
  resized_image_size = tf.shape(resized_image)[:2]
  # Expand the dimension in axis=0, since the following operations assume the image to be 4-D.
  image = tf.expand_dims(image, 0)
  return image, original_image_size, resized_image_size


def build_export_graph(model_options, inference_scales=(1.0,), add_flipped_images=False,
                       quantize_delay_step=-1, quantize_per_channel=False,
                       min_resize_value=None, max_resize_value=None, resize_factor=None):
  """Builds the export graph in the default graph.

  Args:
    model_options: common.ModelOptions (crop_size must be set).
    inference_scales: inference scales.
    add_flipped_images: add flipped inputs.
    quantize_delay_step: >= 0 applies the QAT eval rewrite after the whole graph is built.
    quantize_per_channel: with quantization, use per-channel weight ranges.
    min_resize_value: see --min_resize_value.
    max_resize_value: see --max_resize_value.
    resize_factor: see --resize_factor.

  Returns:
    (semantic_predictions, semantic_probabilities) tensors.

  Raises:
    ValueError: multi-scale together with quantization.
  """
  if quantize_delay_step >= 0 and tuple(inference_scales) != (1.0,):
    raise ValueError(MULTI_SCALE_QUANT_ERROR)
  image, image_size, resized_image_size = _create_input_tensors(
      model_options.crop_size, min_resize_value, max_resize_value, resize_factor,
      model_options.model_variant)
  if tuple(inference_scales) == (1.0,):
    predictions = model.predict_labels(image, model_options, image_pyramid=None)
  else:
    predictions = model.predict_labels_multi_scale(
        image, model_options, eval_scales=inference_scales,
        add_flipped_images=add_flipped_images)
  raw_predictions = tf.identity(tf.cast(predictions[common.OUTPUT_TYPE], tf.float32),
                                RAW_OUTPUT_TENSOR_NAME)
  raw_probabilities = tf.identity(predictions[common.OUTPUT_TYPE + model.PROB_SUFFIX],
                                  RAW_OUTPUT_PROB_TENSOR_NAME)

  # Crop the valid regions from the predictions.
  semantic_predictions = raw_predictions[:, :resized_image_size[0], :resized_image_size[1]]
  semantic_probabilities = raw_probabilities[:, :resized_image_size[0], :resized_image_size[1]]

  # Resize back the prediction to the original image size.
  def _resize_label(label, label_size):
    label = tf.expand_dims(label, 3)
    resized_label = tf.compat.v1.image.resize_images(
        label, label_size, method=tf.compat.v1.image.ResizeMethod.NEAREST_NEIGHBOR,
        align_corners=True)
    return tf.cast(tf.squeeze(resized_label, 3), tf.int32)

  semantic_predictions = _resize_label(semantic_predictions, image_size)
  semantic_predictions = tf.identity(semantic_predictions, name=OUTPUT_TENSOR_NAME)
  semantic_probabilities = tf.compat.v1.image.resize_bilinear(
      semantic_probabilities, image_size, align_corners=True, name=OUTPUT_PROB_TENSOR_NAME)

  if quantize_delay_step >= 0:
    if quantize_per_channel:
      contrib_quantize.experimental_create_eval_graph(per_channel=True)
    else:
      contrib_quantize.create_eval_graph()
  return semantic_predictions, semantic_probabilities


def freeze(checkpoint_path, output_node_names, graph=None):
  """Restores `checkpoint_path` into `graph` and returns the frozen GraphDef.

  Weight-range variables the checkpoint has with another shape (per-channel export of a
  per-tensor QAT checkpoint) are derived from the restored weights.

  Args:
    checkpoint_path: checkpoint prefix.
    output_node_names: list of node names to keep.
    graph: the graph (default graph if None).

  Returns:
    A frozen tf.compat.v1.GraphDef (devices cleared).

  Raises:
    ValueError: if the checkpoint lacks variables of the graph that cannot be derived.
  """
  graph = graph or tf.compat.v1.get_default_graph()
  with tf.compat.v1.Session(graph=graph) as sess:
    convert.restore_for_export(sess, checkpoint_path)
    graph_def = graph.as_graph_def(add_shapes=True)
    for node in graph_def.node:
      node.device = ''
    return tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph_def,
                                                                 output_node_names)


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  if len(FLAGS.crop_size) != 2:
    raise ValueError('--crop_size must be given twice (height and width), got %s'
                     % FLAGS.crop_size)
  logging.info('Prepare to export model to: %s', FLAGS.export_path)
  with tf.Graph().as_default() as graph:
    model_options = common.model_options_from_flags(
        FLAGS, {common.OUTPUT_TYPE: FLAGS.num_classes}, crop_size=list(FLAGS.crop_size),
        atrous_rates=FLAGS.atrous_rates, output_stride=FLAGS.output_stride)
    build_export_graph(model_options, FLAGS.inference_scales, FLAGS.add_flipped_images,
                       FLAGS.quantize_delay_step, FLAGS.quantize_per_channel,
                       FLAGS.min_resize_value, FLAGS.max_resize_value, FLAGS.resize_factor)
    frozen = freeze(FLAGS.checkpoint_path, [OUTPUT_TENSOR_NAME, OUTPUT_PROB_TENSOR_NAME], graph)
  export_dir = os.path.dirname(FLAGS.export_path)
  if export_dir:
    tf.io.gfile.makedirs(export_dir)
  fileio.atomic_write_bytes(FLAGS.export_path, frozen.SerializeToString())
  if FLAGS.save_inference_graph:
    fileio.atomic_write_text(os.path.join(export_dir, 'inference_graph.pbtxt'), str(frozen))
  logging.info('Wrote %s (%d nodes)', FLAGS.export_path, len(frozen.node))


if __name__ == '__main__':
  flags.mark_flag_as_required('checkpoint_path')
  flags.mark_flag_as_required('export_path')
  app.run(main)
