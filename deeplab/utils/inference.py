"""DeepLab inference graphs: predictions for eval/vis, the export graph, freezing, QAT guards.

eval.py and vis.py build their predictions with `build_predictions`; export_model.py builds
`ImageTensor -> SemanticPredictions` with `build_export_graph` and freezes it with `freeze`.
All three apply the QAT eval rewrite through `quantize_eval_graph` after the whole model is built,
and refuse a quantized multi-scale graph with the original error (`check_quantize_scales`).
"""
import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import slim.quantize as contrib_quantize
from slim.nets import registry
from slim.runtime import checkpoints
from slim.tflite import convert
import tensorflow as tf

from deeplab import common
from deeplab import input_preprocess
from deeplab import model

# Graph names of the export (API of the exported model).
INPUT_TENSOR_NAME = 'ImageTensor'
OUTPUT_TENSOR_NAME = 'SemanticPredictions'
RAW_OUTPUT_TENSOR_NAME = 'RawSemanticPredictions'
OUTPUT_PROB_TENSOR_NAME = 'SemanticProbabilities'
RAW_OUTPUT_PROB_TENSOR_NAME = 'RawSemanticProbabilities'
# The root ArgMax of `model.predict_labels`: the output of the quantized (tflite_convert) path.
QUANTIZED_OUTPUT_NAME = 'ArgMax'
MULTI_SCALE_QUANT_ERROR = 'Quantize mode is not supported with multi-scale test.'


def quantized_input_name(model_variant):
  """The backbone input node of the quantized path, e.g. 'MobilenetV2/MobilenetV2/input'."""
  return registry.get(model_variant).quant_input_node


def check_quantize_scales(quantize_delay_step, scales):
  """Raises the original error for a quantized multi-scale graph.

  Args:
    quantize_delay_step: the --quantize_delay_step value.
    scales: the --eval_scales (or --inference_scales) value.

  Raises:
    ValueError: 'Quantize mode is not supported with multi-scale test.'
  """
  if quantize_delay_step >= 0 and tuple(scales) != (1.0,):
    raise ValueError(MULTI_SCALE_QUANT_ERROR)


def quantize_eval_graph(quantize_delay_step, per_channel=False, scheme=None):
  """Applies the QAT eval rewrite to the default graph when `quantize_delay_step >= 0`.

  Args:
    quantize_delay_step: < 0 leaves the graph float.
    per_channel: per-channel weight ranges (the int8 TFLite path), else the original per-tensor
      `create_eval_graph()`.
    scheme: a `slim.quantize.scheme.Scheme` (--quantize_scheme) for the experimental rewrite.
  """
  if quantize_delay_step < 0:
    return
  if per_channel or scheme is not None:
    contrib_quantize.experimental_create_eval_graph(per_channel=per_channel, scheme=scheme)
  else:
    contrib_quantize.create_eval_graph()


def _predict(images, model_options, scales, add_flipped_images):
  if tuple(scales) == (1.0,):
    return model.predict_labels(images, model_options, image_pyramid=None)
  return model.predict_labels_multi_scale(images, model_options, eval_scales=scales,
                                          add_flipped_images=add_flipped_images)


def build_predictions(images, model_options, eval_scales=(1.0,), add_flipped_images=False,
                      quantize_delay_step=-1, quantize_scheme=None):
  """Builds the prediction graph of eval/vis (and the QAT eval rewrite when quantized).

  Args:
    images: float images [batch, h, w, 3] (preprocessed to the crop size).
    model_options: common.ModelOptions.
    eval_scales: evaluation scales.
    add_flipped_images: add left-right flipped inputs.
    quantize_delay_step: >= 0 applies slim.quantize.create_eval_graph() after the model.
    quantize_scheme: a `slim.quantize.scheme.Scheme` for that rewrite (or None).

  Returns:
    int64 predictions [batch, h, w].

  Raises:
    ValueError: multi-scale together with quantization.
  """
  check_quantize_scales(quantize_delay_step, eval_scales)
  predictions = _predict(images, model_options, eval_scales, add_flipped_images)
  quantize_eval_graph(quantize_delay_step, scheme=quantize_scheme)
  return predictions[common.OUTPUT_TYPE]


def _create_input_tensors(crop_size, min_resize_value=None, max_resize_value=None,
                          resize_factor=None, model_variant='mobilenet_v2'):
  """Creates the uint8 `ImageTensor` placeholder and the preprocessed model input.

  Returns:
    image: Preprocessed 4-D float32 tensor with shape [1, crop_height, crop_width, 3].
    original_image_size: Original image shape tensor [height, width].
    resized_image_size: Resized image shape tensor [height, width].
  """
  input_image = tf.compat.v1.placeholder(tf.uint8, [1, None, None, 3], name=INPUT_TENSOR_NAME)
  original_image_size = tf.shape(input_image)[1:3]
  # preprocess_image_and_label takes a 3-D image.
  image = tf.squeeze(input_image, axis=0)
  resized_image, image, _ = input_preprocess.preprocess_image_and_label(
      image, label=None, crop_height=crop_size[0], crop_width=crop_size[1],
      min_resize_value=min_resize_value, max_resize_value=max_resize_value,
      resize_factor=resize_factor, is_training=False, model_variant=model_variant)
  resized_image_size = tf.shape(resized_image)[:2]
  return tf.expand_dims(image, 0), original_image_size, resized_image_size


def build_export_graph(model_options, inference_scales=(1.0,), add_flipped_images=False,
                       quantize_delay_step=-1, quantize_per_channel=False,
                       min_resize_value=None, max_resize_value=None, resize_factor=None,
                       quantize_scheme=None):
  """Builds the export graph `ImageTensor` -> `SemanticPredictions` in the default graph.

  Args:
    model_options: common.ModelOptions (crop_size must be set).
    inference_scales: inference scales.
    add_flipped_images: add flipped inputs.
    quantize_delay_step: >= 0 applies the QAT eval rewrite after the whole graph is built.
    quantize_per_channel: with quantization, use per-channel weight ranges.
    min_resize_value: see --min_resize_value.
    max_resize_value: see --max_resize_value.
    resize_factor: see --resize_factor.
    quantize_scheme: a `slim.quantize.scheme.Scheme` for the QAT eval rewrite (or None).

  Returns:
    (semantic_predictions, semantic_probabilities) tensors.

  Raises:
    ValueError: multi-scale together with quantization.
  """
  check_quantize_scales(quantize_delay_step, inference_scales)
  image, image_size, resized_image_size = _create_input_tensors(
      model_options.crop_size, min_resize_value, max_resize_value, resize_factor,
      model_options.model_variant)
  predictions = _predict(image, model_options, inference_scales, add_flipped_images)
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
  quantize_eval_graph(quantize_delay_step, per_channel=quantize_per_channel,
                      scheme=quantize_scheme)
  return semantic_predictions, semantic_probabilities


def freeze(checkpoint_path, output_node_names, graph=None):
  """Restores `checkpoint_path` into `graph` and returns the frozen GraphDef.

  Weight-range variables the checkpoint has with another shape (per-channel export of a
  per-tensor QAT checkpoint) are derived from the restored weights
  (`slim.runtime.checkpoints.restore_for_export`).

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
    checkpoints.restore_for_export(sess, checkpoint_path)
    return convert.freeze_session(sess, output_node_names, add_shapes=True)
