"""Evaluation script for the DeepLab model: mIoU and per-class IoU over a dataset split.

Evaluates each new checkpoint in --checkpoint_dir (at most every --eval_interval_secs) and stops
after --max_number_of_evaluations (<= 0 loops forever), through the shared
`slim.runtime.eval_driver`. Results are printed and written as TensorBoard summaries to
--eval_logdir with the original tags (`eval/miou_1.0_overall`, `eval/miou_1.0_class_<c>`).
"""

import json
import sys

from absl import flags
from absl import logging
import numpy as np
import slim  # noqa: F401  pylint: disable=unused-import
from slim import fileio
from slim.runtime import eval_driver
from slim.runtime import checkpoints
from slim.runtime import entry
from slim.runtime import options
import tensorflow as tf

from datasets import data_generator
from deeplab import common
from deeplab import input_preprocess
from deeplab import options as deeplab_options
from deeplab.options import EvalOptions
from deeplab.utils import inference
from deeplab.utils import metrics


def evaluate_checkpoint(checkpoint_path, dataset, model_options, eval_scales=(1.0,),
                        add_flipped_images=False, quantize_delay_step=-1, master='',
                        crop_flag='eval_crop_size', quantize_scheme=None):
  """Evaluates one checkpoint over the whole split.

  Args:
    checkpoint_path: checkpoint prefix.
    dataset: a datasets.data_generator.Dataset (not repeating).
    model_options: common.ModelOptions.
    eval_scales: evaluation scales.
    add_flipped_images: add flipped inputs.
    quantize_delay_step: >= 0 for a QAT checkpoint.
    master: session target.
    crop_flag: the flag of the crop size, named when an image is larger than the crop.
    quantize_scheme: a `slim.quantize.scheme.Scheme` (--quantize_scheme) or None.

  Returns:
    (per_class_iou, miou, global_step).

  Raises:
    datasets.build_data.DatasetBuildError: a corrupt shard, or a crop smaller than an image.
  """
  graph = tf.Graph()
  with graph.as_default():
    samples = dataset.get_one_shot_iterator().get_next()
    predictions = inference.build_predictions(
        tf.cast(samples[common.IMAGE], tf.float32), model_options, eval_scales,
        add_flipped_images, quantize_delay_step, quantize_scheme)
    global_step = tf.compat.v1.train.get_or_create_global_step()
    saver = tf.compat.v1.train.Saver(tf.compat.v1.global_variables())
    confusion = np.zeros([dataset.num_of_classes] * 2, np.int64)
    with tf.compat.v1.Session(master) as sess:
      checkpoints.restore(saver, sess, checkpoint_path)
      step = sess.run(global_step)
      while True:
        try:
          with dataset.explained_errors(crop_flag):
            pred, label = sess.run([predictions, samples[common.LABEL]])
        except tf.errors.OutOfRangeError:
          break
        confusion += metrics.confusion_matrix(pred, label, dataset.num_of_classes,
                                              dataset.ignore_label)
  per_class, miou = metrics.iou_from_confusion(confusion)
  return per_class, miou, step


def write_summaries(logdir, step, per_class, miou, eval_scales, add_flipped_images):
  """Writes mIoU and per-class IoU summaries with the original tags to `logdir`."""
  overall_tag, class_tags = metrics.miou_tags(eval_scales, add_flipped_images, len(per_class))
  values = [tf.compat.v1.Summary.Value(tag=overall_tag, simple_value=miou)]
  values += [tf.compat.v1.Summary.Value(tag=t, simple_value=float(v))
             for t, v in zip(class_tags, per_class)]
  writer = tf.compat.v1.summary.FileWriter(logdir)
  writer.add_summary(tf.compat.v1.Summary(value=values), step)
  writer.close()


def evaluate(opts, model_options):
  """Evaluates the checkpoints of --checkpoint_dir as the flags say; returns the last mIoU.

  Args:
    opts: EvalOptions.
    model_options: common.ModelOptions.
  """
  inference.check_quantize_scales(opts.quantize_delay_step, opts.eval_scales)
  quantize_scheme = opts.load_quantize_scheme()
  crop_size = deeplab_options.parse_crop(opts.eval_crop_size, 'eval_crop_size')
  tf.io.gfile.makedirs(opts.eval_logdir)

  def evaluate_fn(checkpoint):
    dataset = data_generator.Dataset(
        dataset_name=opts.dataset, split_name=opts.eval_split, dataset_dir=opts.dataset_dir,
        batch_size=opts.eval_batch_size, crop_size=crop_size,
        min_resize_value=opts.min_resize_value, max_resize_value=opts.max_resize_value,
        resize_factor=opts.resize_factor, model_variant=model_options.model_variant,
        num_readers=2, is_training=False, should_shuffle=False, should_repeat=False,
        preprocess_fn=input_preprocess.preprocess_image_and_label)
    per_class, miou, step = evaluate_checkpoint(
        checkpoint, dataset, model_options, opts.eval_scales, opts.add_flipped_images,
        opts.quantize_delay_step, opts.master, quantize_scheme=quantize_scheme)
    overall_tag, class_tags = metrics.miou_tags(opts.eval_scales, opts.add_flipped_images,
                                                len(per_class))
    for tag, value in zip(class_tags, per_class):
      print('%s[%.4f]' % (tag, value))
    print('%s[%.4f] (checkpoint %s, step %d)' % (overall_tag, miou, checkpoint, step))
    sys.stdout.flush()
    write_summaries(opts.eval_logdir, step, per_class, miou, opts.eval_scales,
                    opts.add_flipped_images)
    if opts.eval_results_json:
      fileio.atomic_write_text(opts.eval_results_json, json.dumps({
          'miou': miou, 'per_class_iou': [float(v) for v in per_class],
          'checkpoint': checkpoint, 'global_step': int(step), 'eval_crop_size': crop_size,
          'quantized': opts.quantize_delay_step >= 0}, indent=2))
    return miou

  results = eval_driver.evaluate_checkpoints(
      opts.checkpoint_dir, evaluate_fn, eval_interval_secs=opts.eval_interval_secs,
      max_number_of_evaluations=opts.max_number_of_evaluations)
  return results[-1] if results else None


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  opts = options.from_flags(EvalOptions, **common.input_resize_from_flags(flags.FLAGS))
  num_classes = data_generator.get_dataset_descriptor(opts.dataset).num_classes
  model_options = common.model_options_from_flags(
      flags.FLAGS, {common.OUTPUT_TYPE: num_classes},
      crop_size=deeplab_options.parse_crop(opts.eval_crop_size, 'eval_crop_size'),
      **opts.head_kwargs())
  evaluate(opts, model_options)


def run():
  """Console-script entry point."""
  entry.run(main, EvalOptions)


if __name__ == '__main__':
  run()
