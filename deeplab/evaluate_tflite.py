"""mIoU of a DeepLab .tflite model over a dataset split, and its single-image latency.

The 8-bit model's input is the backbone input at a fixed size (e.g. 513x513 uint8 RGB); as the
recipe says (g3doc/quantize.md), resizing/padding happen outside the model: each image is padded
bottom/right with the mean pixel to the model input size by the same eval preprocessing as
eval.py (datasets.data_generator with is_training=False), and the label is padded with the ignore
label, so padded pixels do not count.

Usage:
  python deeplab/evaluate_tflite.py --tflite_path=model.tflite --dataset=synthetic \
      --dataset_dir=DIR/tfrecord --eval_split=val
"""

import os
import sys

if __name__ == '__main__' and __package__ in (None, ''):
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import numpy as np  # noqa: E402
import slim  # noqa: E402,F401  pylint: disable=unused-import
import tensorflow as tf  # noqa: E402

from deeplab import common  # noqa: E402
from deeplab import eval as deeplab_eval  # noqa: E402
from slim.tflite import latency  # noqa: E402

flags.DEFINE_string('tflite_path', None, 'The .tflite model to evaluate.', allow_override=True)
flags.DEFINE_string('dataset', 'pascal_voc_seg', 'Name of the segmentation dataset.',
                    allow_override=True)
flags.DEFINE_string('eval_split', 'val', 'Which split of the dataset used for evaluation',
                    allow_override=True)
flags.DEFINE_string('dataset_dir', None, 'Where the dataset reside.', allow_override=True)
flags.DEFINE_integer('num_threads', 1, 'TFLite interpreter threads.', allow_override=True)
flags.DEFINE_integer('latency_runs', 20, 'Timed invocations for the latency figure.',
                     allow_override=True)

FLAGS = flags.FLAGS


class TFLiteSegmenter(object):
  """Runs a segmentation .tflite model (input [1, h, w, 3], output class ids [1, h, w])."""

  def __init__(self, tflite_model, num_threads=1, input_mean=127.5, input_std=127.5):
    """Loads the model.

    Args:
      tflite_model: path to a .tflite file, or its bytes.
      num_threads: interpreter threads.
      input_mean, input_std: a float model's input is (pixel - mean) / std, the backbone's
        preprocessing that the 8-bit models carry in their input quantization instead.
    """
    if isinstance(tflite_model, (bytes, bytearray)):
      self._interpreter = tf.lite.Interpreter(model_content=bytes(tflite_model),
                                              num_threads=num_threads)
    else:
      if not os.path.exists(tflite_model):
        raise ValueError('--tflite_path=%s: file not found' % tflite_model)
      self._interpreter = tf.lite.Interpreter(model_path=tflite_model, num_threads=num_threads)
    self._interpreter.allocate_tensors()
    self._input = self._interpreter.get_input_details()[0]
    self._output = self._interpreter.get_output_details()[0]
    self._input_mean = input_mean
    self._input_std = input_std

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
          images, labels = sess.run([samples[common.IMAGE], samples[common.LABEL]])
        except tf.errors.OutOfRangeError:
          break
        for image, label in zip(images, labels):
          prediction = segmenter.predict(image)
          confusion += deeplab_eval.confusion_matrix(prediction, label, dataset.num_of_classes,
                                                     dataset.ignore_label)
          count += 1
  per_class, miou = deeplab_eval.iou_from_confusion(confusion)
  return per_class, miou, count


def main(unused_argv):
  from datasets import data_generator  # pylint: disable=g-import-not-at-top
  segmenter = TFLiteSegmenter(FLAGS.tflite_path, FLAGS.num_threads)
  dataset = data_generator.Dataset(
      dataset_name=FLAGS.dataset, split_name=FLAGS.eval_split, dataset_dir=FLAGS.dataset_dir,
      batch_size=1, crop_size=segmenter.input_size, model_variant=FLAGS.model_variant,
      is_training=False, should_shuffle=False, should_repeat=False)
  _, miou, count = evaluate(segmenter, dataset)
  with open(FLAGS.tflite_path, 'rb') as f:
    timing = latency.interleaved_latency({FLAGS.tflite_path: f.read()}, FLAGS.num_threads,
                                         runs=FLAGS.latency_runs)
  latency_ms = timing[FLAGS.tflite_path]['median_ms']
  print('tflite %s: miou %.4f over %d images; latency %.1f ms (%d thread(s)); size %d bytes'
        % (FLAGS.tflite_path, miou, count, latency_ms, FLAGS.num_threads,
           os.path.getsize(FLAGS.tflite_path)))


if __name__ == '__main__':
  flags.mark_flag_as_required('tflite_path')
  flags.mark_flag_as_required('dataset_dir')
  app.run(main)
