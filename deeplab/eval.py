"""Evaluation script for the DeepLab model: mIoU and per-class IoU over a dataset split.

Loops over new checkpoints in --checkpoint_dir every --eval_interval_secs; stops after
--max_number_of_evaluations (<= 0 loops forever). Results are printed and written as TensorBoard
summaries to --eval_logdir with the original tags (`eval/miou_1.0_overall`,
`eval/miou_1.0_class_<c>`).
"""

import json
import os
import sys
import time

if __name__ == '__main__' and __package__ in (None, ''):
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
import numpy as np  # noqa: E402
import slim  # noqa: E402,F401  pylint: disable=unused-import
import slim.quantize as contrib_quantize  # noqa: E402
from slim import fileio  # noqa: E402
import tensorflow as tf  # noqa: E402

from deeplab import common  # noqa: E402
from deeplab import model  # noqa: E402

# allow_override: train/eval/vis/export share flag names (separate binaries in the original);
# tests and tools import several of them into one process.
flags.DEFINE_string('master', '', 'BNS name of the tensorflow server',
    allow_override=True)
flags.DEFINE_string('eval_logdir', None, 'Where to write the event logs.',
    allow_override=True)
flags.DEFINE_string('checkpoint_dir', None, 'Directory of model checkpoints.',
    allow_override=True)
flags.DEFINE_integer('eval_batch_size', 1, 'The number of images in each batch during '
                     'evaluation.',
    allow_override=True)
flags.DEFINE_list('eval_crop_size', '513,513', 'Image crop size [height, width] for evaluation.',
    allow_override=True)
flags.DEFINE_integer('eval_interval_secs', 60 * 5, 'How often (in seconds) to run evaluation.',
    allow_override=True)
flags.DEFINE_multi_integer('atrous_rates', None, 'Atrous rates for atrous spatial pyramid '
                           'pooling.',
    allow_override=True)
flags.DEFINE_integer('output_stride', 16, 'The ratio of input to output spatial resolution.',
    allow_override=True)
flags.DEFINE_multi_float('eval_scales', [1.0], 'The scales to resize images for evaluation.',
    allow_override=True)
flags.DEFINE_bool('add_flipped_images', False, 'Add flipped images for evaluation or not.',
    allow_override=True)
flags.DEFINE_integer('quantize_delay_step', -1, 'Steps to start quantized training. If < 0, will '
                     'not quantize model.',
    allow_override=True)
flags.DEFINE_string('dataset', 'pascal_voc_seg', 'Name of the segmentation dataset.',
    allow_override=True)
flags.DEFINE_string('eval_split', 'val', 'Which split of the dataset used for evaluation',
    allow_override=True)
flags.DEFINE_string('dataset_dir', None, 'Where the dataset reside.',
    allow_override=True)
flags.DEFINE_string('eval_results_json', None, 'New: also write the last evaluation (mIoU, '
                    'per-class IoU, checkpoint, step) to this JSON file.',
    allow_override=True)
flags.DEFINE_integer('max_number_of_evaluations', 0, 'Maximum number of eval iterations. Will '
                     'loop indefinitely upon nonpositive values.',
    allow_override=True)

FLAGS = flags.FLAGS

MULTI_SCALE_QUANT_ERROR = 'Quantize mode is not supported with multi-scale test.'


def check_quantize_scales(quantize_delay_step, eval_scales):
  """Raises the original error for multi-scale evaluation of a quantized model.

  Args:
    quantize_delay_step: the --quantize_delay_step value.
    eval_scales: the --eval_scales (or --inference_scales) value.

  Raises:
    ValueError: 'Quantize mode is not supported with multi-scale test.'
  """
  if quantize_delay_step >= 0 and tuple(eval_scales) != (1.0,):
    raise ValueError(MULTI_SCALE_QUANT_ERROR)


def build_predictions(images, model_options, eval_scales=(1.0,), add_flipped_images=False,
                      quantize_delay_step=-1):
  """Builds the prediction graph (and the QAT eval rewrite when quantized).

  Args:
    images: float images [batch, h, w, 3] (preprocessed to the crop size).
    model_options: common.ModelOptions.
    eval_scales: evaluation scales.
    add_flipped_images: add left-right flipped inputs.
    quantize_delay_step: >= 0 applies slim.quantize.create_eval_graph() after the model.

  Returns:
    int64 predictions [batch, h, w].

  Raises:
    ValueError: multi-scale together with quantization.
  """
  check_quantize_scales(quantize_delay_step, eval_scales)
  if tuple(eval_scales) == (1.0,):
    predictions = model.predict_labels(images, model_options, image_pyramid=None)
  else:
    predictions = model.predict_labels_multi_scale(
        images, model_options, eval_scales=eval_scales, add_flipped_images=add_flipped_images)
  if quantize_delay_step >= 0:
    contrib_quantize.create_eval_graph()
  return predictions[common.OUTPUT_TYPE]


def confusion_matrix(predictions, labels, num_classes, ignore_label):
  """Returns the [num_classes, num_classes] confusion matrix (rows: label) ignoring a label.

  Args:
    predictions: int array of predicted classes.
    labels: int array of labels, same number of elements.
    num_classes: number of classes.
    ignore_label: label value excluded from the counts.

  Returns:
    int64 numpy array.
  """
  predictions = np.asarray(predictions).reshape(-1).astype(np.int64)
  labels = np.asarray(labels).reshape(-1).astype(np.int64)
  keep = labels != ignore_label
  index = labels[keep] * num_classes + predictions[keep]
  return np.bincount(index, minlength=num_classes * num_classes).reshape(
      num_classes, num_classes)


def iou_from_confusion(confusion):
  """Per-class IoU tp/(tp+fp+fn) (NaN for absent classes) and mIoU over present classes.

  Args:
    confusion: [num_classes, num_classes] confusion matrix (rows: label, cols: prediction).

  Returns:
    (per_class_iou numpy array, miou float).
  """
  confusion = np.asarray(confusion, dtype=np.float64)
  tp = np.diag(confusion)
  denom = confusion.sum(axis=0) + confusion.sum(axis=1) - tp
  with np.errstate(divide='ignore', invalid='ignore'):
    iou = np.where(denom > 0, tp / np.maximum(denom, 1e-12), np.nan)
  miou = float(np.nanmean(iou)) if np.any(denom > 0) else float('nan')
  return iou, miou


def miou_tags(eval_scales, add_flipped_images, num_classes):
  """Returns (overall_tag, [per-class tags]) with the original summary names."""
  scales = '_'.join(map(str, eval_scales))
  suffix = '_flipped' if add_flipped_images else ''
  overall = 'eval/miou_%s%s_overall' % (scales, suffix)
  per_class = ['eval/miou_%s%s_class_%d' % (scales, suffix, c) for c in range(num_classes)]
  return overall, per_class


def evaluate_checkpoint(checkpoint_path, dataset, model_options, eval_scales=(1.0,),
                        add_flipped_images=False, quantize_delay_step=-1, master=''):
  """Evaluates one checkpoint over the whole split.

  Args:
    checkpoint_path: checkpoint prefix.
    dataset: a datasets.data_generator.Dataset (not repeating).
    model_options: common.ModelOptions.
    eval_scales: evaluation scales.
    add_flipped_images: add flipped inputs.
    quantize_delay_step: >= 0 for a QAT checkpoint.
    master: session target.

  Returns:
    (per_class_iou, miou, global_step).
  """
  graph = tf.Graph()
  with graph.as_default():
    samples = dataset.get_one_shot_iterator().get_next()
    predictions = build_predictions(
        tf.cast(samples[common.IMAGE], tf.float32), model_options, eval_scales,
        add_flipped_images, quantize_delay_step)
    global_step = tf.compat.v1.train.get_or_create_global_step()
    saver = tf.compat.v1.train.Saver(tf.compat.v1.global_variables())
    confusion = np.zeros([dataset.num_of_classes] * 2, np.int64)
    with tf.compat.v1.Session(master) as sess:
      saver.restore(sess, checkpoint_path)
      step = sess.run(global_step)
      while True:
        try:
          pred, label = sess.run([predictions, samples[common.LABEL]])
        except tf.errors.OutOfRangeError:
          break
        confusion += confusion_matrix(pred, label, dataset.num_of_classes, dataset.ignore_label)
  per_class, miou = iou_from_confusion(confusion)
  return per_class, miou, step


def write_summaries(logdir, step, per_class, miou, eval_scales, add_flipped_images):
  """Writes mIoU and per-class IoU summaries with the original tags to `logdir`."""
  overall_tag, class_tags = miou_tags(eval_scales, add_flipped_images, len(per_class))
  values = [tf.compat.v1.Summary.Value(tag=overall_tag, simple_value=miou)]
  values += [tf.compat.v1.Summary.Value(tag=t, simple_value=float(v))
             for t, v in zip(class_tags, per_class)]
  writer = tf.compat.v1.summary.FileWriter(logdir)
  writer.add_summary(tf.compat.v1.Summary(value=values), step)
  writer.close()


def main(unused_argv):
  from datasets import data_generator  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.INFO)
  check_quantize_scales(FLAGS.quantize_delay_step, FLAGS.eval_scales)
  crop_size = [int(x) for x in FLAGS.eval_crop_size]
  tf.io.gfile.makedirs(FLAGS.eval_logdir)
  dataset_kwargs = dict(
      dataset_name=FLAGS.dataset, split_name=FLAGS.eval_split, dataset_dir=FLAGS.dataset_dir,
      batch_size=FLAGS.eval_batch_size, crop_size=crop_size,
      min_resize_value=FLAGS.min_resize_value, max_resize_value=FLAGS.max_resize_value,
      resize_factor=FLAGS.resize_factor, model_variant=FLAGS.model_variant, num_readers=2,
      is_training=False, should_shuffle=False, should_repeat=False)
  num_classes = data_generator.Dataset(**dataset_kwargs).num_of_classes
  model_options = common.model_options_from_flags(
      FLAGS, {common.OUTPUT_TYPE: num_classes}, crop_size=crop_size,
      atrous_rates=FLAGS.atrous_rates, output_stride=FLAGS.output_stride)
  evaluated, last = 0, None
  while True:
    ckpt = tf.train.latest_checkpoint(FLAGS.checkpoint_dir)
    if ckpt and ckpt != last:
      per_class, miou, step = evaluate_checkpoint(
          ckpt, data_generator.Dataset(**dataset_kwargs), model_options, FLAGS.eval_scales,
          FLAGS.add_flipped_images, FLAGS.quantize_delay_step, FLAGS.master)
      overall_tag, class_tags = miou_tags(FLAGS.eval_scales, FLAGS.add_flipped_images,
                                          num_classes)
      for tag, value in zip(class_tags, per_class):
        print('%s[%.4f]' % (tag, value))
      print('%s[%.4f] (checkpoint %s, step %d)' % (overall_tag, miou, ckpt, step))
      sys.stdout.flush()
      write_summaries(FLAGS.eval_logdir, step, per_class, miou, FLAGS.eval_scales,
                      FLAGS.add_flipped_images)
      if FLAGS.eval_results_json:
        fileio.atomic_write_text(FLAGS.eval_results_json, json.dumps({
            'miou': miou, 'per_class_iou': [float(v) for v in per_class],
            'checkpoint': ckpt, 'global_step': int(step), 'eval_crop_size': crop_size,
            'quantized': FLAGS.quantize_delay_step >= 0}, indent=2))
      last = ckpt
      evaluated += 1
      if 0 < FLAGS.max_number_of_evaluations <= evaluated:
        break
    elif ckpt is None:
      logging.info('No checkpoint in %s yet.', FLAGS.checkpoint_dir)
    time.sleep(FLAGS.eval_interval_secs if FLAGS.max_number_of_evaluations != 1 else 1)


if __name__ == '__main__':
  flags.mark_flag_as_required('checkpoint_dir')
  flags.mark_flag_as_required('eval_logdir')
  flags.mark_flag_as_required('dataset_dir')
  app.run(main)
