"""DeepLab and TFLite: convert a frozen graph, run a model on an image, mIoU over a split.

The 8-bit model's input is the backbone input at a fixed size (e.g. 513x513 uint8 RGB); as the
recipe says (g3doc/quantize.md), resizing/padding happen outside the model: each image is padded
bottom/right with the mean pixel to the model input size by the same eval preprocessing as
eval.py (datasets.data_generator with is_training=False), and the label is padded with the ignore
label, so padded pixels do not count.
"""
import numpy as np
from PIL import Image
import tensorflow as tf

from datasets import data_generator
from deeplab import common
from deeplab import input_preprocess
from deeplab.utils import inference
from deeplab.utils import metrics
from slim.nets import registry
from slim.tflite import convert as tflite_convert
from slim.tflite import interpreter as interpreter_lib
from slim.tflite import ptq

_CONVERTERS = {'uint8': tflite_convert.convert_uint8, 'int8': tflite_convert.convert_int8}

# real = (pixel - mean) / std of a float model's input: the [-1, 1] MobileNet preprocessing.
FLOAT_INPUT_MEAN = 127.5
FLOAT_INPUT_STD = 127.5


class TFLiteSegmenter(object):
  """Runs a segmentation .tflite model (input [1, h, w, 3], output class ids [1, h, w])."""

  def __init__(self, tflite_model, num_threads=1,
               input_stats=(FLOAT_INPUT_MEAN, FLOAT_INPUT_STD)):
    """Loads the model into the default interpreter.

    Args:
      tflite_model: path to a .tflite file, or its bytes.
      num_threads: interpreter threads.
      input_stats: (mean, std): a float model's input is (pixel - mean) / std, the backbone's
        preprocessing that the 8-bit models carry in their input quantization instead
        (`input_stats(model_variant)` gives the record's).

    Raises:
      ValueError: the file does not exist.
      slim.tflite.interpreter.ModelNotRunnableError: the interpreter cannot prepare it.
    """
    self._interpreter = interpreter_lib.load(tflite_model, num_threads=num_threads)
    self._input = self._interpreter.get_input_details()[0]
    self._output = self._interpreter.get_output_details()[0]
    self._input_mean, self._input_std = input_stats

  @property
  def input_size(self):
    """[height, width] of the model input."""
    return [int(x) for x in self._input['shape'][1:3]]

  def predict(self, image):
    """Returns class ids [h, w] for one image [h, w, 3] of [0, 255] pixels at the input size."""
    value = np.asarray(image)
    if self._input['dtype'] in (np.uint8, np.int8):
      value = np.clip(np.round(value), 0, 255).astype(np.int16)
      if self._input['dtype'] == np.int8:
        value = value - 128
    else:
      value = (value.astype(np.float32) - self._input_mean) / self._input_std
    self._interpreter.set_tensor(self._input['index'],
                                 value[np.newaxis].astype(self._input['dtype']))
    self._interpreter.invoke()
    out = self._interpreter.get_tensor(self._output['index'])[0]
    if out.ndim == 3:  # Logits or probabilities: take the argmax.
      out = np.argmax(out, axis=-1)
    return out


def eval_dataset(dataset_name, split_name, dataset_dir, crop_size, model_variant):
  """The split as a TFLite model sees it: batch 1, eval preprocessing padded to `crop_size`."""
  return data_generator.Dataset(
      dataset_name=dataset_name, split_name=split_name, dataset_dir=dataset_dir, batch_size=1,
      crop_size=crop_size, model_variant=model_variant, is_training=False,
      should_shuffle=False, should_repeat=False,
      preprocess_fn=input_preprocess.preprocess_image_and_label)


def evaluate(segmenter, dataset):
  """Computes per-class IoU and mIoU of `segmenter` over `dataset` (not repeating).

  Args:
    segmenter: TFLiteSegmenter.
    dataset: datasets.data_generator.Dataset built with crop_size = segmenter.input_size,
      batch_size 1, is_training=False.

  Returns:
    (per_class_iou, miou, number_of_images).
  """
  confusion = np.zeros([dataset.num_of_classes] * 2, np.int64)
  count = 0
  with tf.Graph().as_default():
    samples = dataset.get_one_shot_iterator().get_next()
    with tf.compat.v1.Session() as sess:
      while True:
        try:
          # The crop is the model input size: the images must fit in it.
          with dataset.explained_errors(crop_flag=None):
            images, labels = sess.run([samples[common.IMAGE], samples[common.LABEL]])
        except tf.errors.OutOfRangeError:
          break
        for image, label in zip(images, labels):
          confusion += metrics.confusion_matrix(segmenter.predict(image), label,
                                                dataset.num_of_classes, dataset.ignore_label)
          count += 1
  per_class, miou = metrics.iou_from_confusion(confusion)
  return per_class, miou, count


def _op_name(tensor_name):
  return tensor_name.split(':')[0]


def input_stats(model_variant):
  """(mean, std) of the quantized input of `model_variant`: real = (q - mean) / std."""
  return registry.get(model_variant).quant_input_stats


def convert(graph_def, input_tensor_name, output_tensor_name, inference_type='uint8',
            allow_float_ops=False, model_variant='mobilenet_v2', float_argmax=False):
  """Converts a frozen QAT graph to an 8-bit TFLite flatbuffer.

  Args:
    graph_def: frozen GraphDef with FakeQuant ranges.
    input_tensor_name: e.g. 'MobilenetV2/MobilenetV2/input:0' (its static shape is the model
      input shape).
    output_tensor_name: e.g. 'ArgMax:0'.
    inference_type: 'uint8' (QUANTIZED_UINT8, the original) or 'int8'.
    allow_float_ops: accept a mixed model.
    model_variant: the registry record whose input statistics map uint8 pixels to the input.
    float_argmax: the ArgMax reads a DEQUANTIZE of its 8-bit input (slim.tflite.float_argmax).

  Returns:
    The .tflite bytes.

  Raises:
    slim.tflite.convert.NotFullyQuantizedError: if ops stayed float (naming them).
    ValueError: if the input tensor has no static shape.
  """
  mean, std = input_stats(model_variant)
  return _CONVERTERS[inference_type](
      graph_def, [_op_name(input_tensor_name)], [_op_name(output_tensor_name)],
      [static_input_shape(graph_def, input_tensor_name)], mean_values=mean,
      std_dev_values=std, allow_float_ops=allow_float_ops, float_argmax=float_argmax)


def static_input_shape(graph_def, input_tensor_name):
  """The static shape of `input_tensor_name` in `graph_def` (ValueError if not fully defined)."""
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(graph_def, name='')
    shape = graph.get_tensor_by_name(input_tensor_name).shape
  if not shape.is_fully_defined():
    raise ValueError('--input_tensor_name=%s has no static shape (%s); export with a fixed '
                     '--crop_size' % (input_tensor_name, shape))
  return shape.as_list()


def convert_ptq(graph_def, input_tensor_name, output_tensor_name, dataset, model_variant,
                num_calibration_images=100, io_type='uint8'):
  """Post-training full-integer quantization of a FLOAT frozen DeepLab graph (the PTQ baseline).

  The converter calibrates every tensor's range on `dataset`'s images, preprocessed as the
  backbone input (real = (pixel - mean) / std of the record's input statistics). With
  io_type='uint8' the model takes uint8 pixels as the QAT uint8 model does (TFLiteSegmenter
  runs both).

  Args:
    graph_def: float frozen GraphDef (export_model.py without --quantize_delay_step).
    input_tensor_name: the backbone input, e.g. 'MobilenetV2/MobilenetV2/input:0'.
    output_tensor_name: e.g. 'ArgMax:0'.
    dataset: a non-repeating batch-1 Dataset padded to the model input size (`eval_dataset`).
    model_variant: the registry record of the backbone.
    num_calibration_images: images used for calibration.
    io_type: 'uint8' or 'int8' model input.

  Returns:
    The .tflite bytes.

  Raises:
    slim.tflite.convert.NotFullyQuantizedError: if ops stayed float (naming them).
    ValueError: no static input shape, or images of another size than the input.
  """
  shape = static_input_shape(graph_def, input_tensor_name)
  mean, std = input_stats(model_variant)
  images = [(image.astype(np.float32) - mean) / std
            for image in _images(dataset, num_calibration_images)]
  return ptq.convert_ptq_int8(graph_def, [_op_name(input_tensor_name)],
                              [_op_name(output_tensor_name)], [shape], images, io_type=io_type)


def _images(dataset, count):
  """Up to `count` images [h, w, 3] of `dataset` (batch 1, not repeating)."""
  images = []
  with tf.Graph().as_default():
    samples = dataset.get_one_shot_iterator().get_next()
    with tf.compat.v1.Session() as sess:
      while len(images) < count:
        try:
          with dataset.explained_errors(crop_flag=None):
            images.extend(sess.run(samples[common.IMAGE]))
        except tf.errors.OutOfRangeError:
          break
  return images[:count]


def run_tflite(tflite_model, image):
  """Runs the model on one uint8 image [h, w, 3] already at the model input size.

  Returns:
    The class ids with a batch dimension, [1, h, w].
  """
  return TFLiteSegmenter(tflite_model).predict(image)[np.newaxis]


def run_graph(graph_def, image, output_tensor_name):
  """Runs the frozen graph fed at its `ImageTensor` and returns `output_tensor_name`."""
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(graph_def, name='')
    with tf.compat.v1.Session(graph=graph) as sess:
      return sess.run(output_tensor_name,
                      {inference.INPUT_TENSOR_NAME + ':0': image[np.newaxis]})


def pixel_agreement(graph_def, tflite_model, image_path, input_tensor_name, output_tensor_name):
  """Percentage of pixels with equal labels from the graph and the TFLite model on one image."""
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(graph_def, name='')
    height, width = graph.get_tensor_by_name(input_tensor_name).shape.as_list()[1:3]
  image = np.asarray(Image.open(image_path).convert('RGB').resize((width, height)), np.uint8)
  graph_out = run_graph(graph_def, image, output_tensor_name)
  tflite_out = run_tflite(tflite_model, image)
  return 100.0 * float(np.mean(graph_out.reshape(-1) == tflite_out.reshape(-1)))
