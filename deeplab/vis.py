"""Segmentation results visualization: colourised PNGs of the predictions of a checkpoint.

Writes `<vis_logdir>/segmentation_results/%06d_image.png` and `%06d_prediction.png` (dataset
colormap), and with --also_save_raw_predictions `raw_segmentation_results/<image name>.png`, for
each new checkpoint of --checkpoint_dir (the shared `slim.runtime.eval_driver` loop).
"""

import os

from absl import flags
from absl import logging
import numpy as np
import slim  # noqa: F401  pylint: disable=unused-import
from slim.runtime import eval_driver
from slim.runtime import checkpoints
from slim.runtime import entry
from slim.runtime import options
import tensorflow as tf

from datasets import data_generator
from deeplab import common
from deeplab import input_preprocess
from deeplab import options as deeplab_options
from deeplab.options import VisOptions
from deeplab.utils import inference
from deeplab.utils import save_annotation

# Output folder names (the original layout).
SEMANTIC_PREDICTION_SAVE_FOLDER = 'segmentation_results'
RAW_SEMANTIC_PREDICTION_SAVE_FOLDER = 'raw_segmentation_results'
IMAGE_FORMAT = '%06d_image'
PREDICTION_FORMAT = '%06d_prediction'


def save_results(original_image, semantic_prediction, image_name, image_id, save_dir,
                 raw_save_dir, colormap_type='pascal', also_save_raw_predictions=False):
  """Saves one image and its colourised prediction (and optionally the raw prediction).

  Args:
    original_image: uint8 [h, w, 3].
    semantic_prediction: int [h, w] class ids.
    image_name: bytes or str, the sample's image name.
    image_id: running index used in the file names.
    save_dir: folder for the colourised PNGs.
    raw_save_dir: folder for raw predictions.
    colormap_type: pascal, cityscapes, ade20k or mapillary_vistas.
    also_save_raw_predictions: also save the raw class ids.
  """
  save_annotation.save_annotation(original_image, save_dir, IMAGE_FORMAT % image_id,
                                  add_colormap=False)
  save_annotation.save_annotation(semantic_prediction, save_dir, PREDICTION_FORMAT % image_id,
                                  add_colormap=True, colormap_type=colormap_type)
  if also_save_raw_predictions:
    if isinstance(image_name, bytes):
      image_name = image_name.decode('utf-8')
    save_annotation.save_annotation(semantic_prediction, raw_save_dir,
                                    os.path.splitext(os.path.basename(image_name))[0],
                                    add_colormap=False)


def visualize_checkpoint(checkpoint_path, dataset, model_options, save_dir, raw_save_dir,
                         eval_scales=(1.0,), add_flipped_images=False, quantize_delay_step=-1,
                         colormap_type='pascal', also_save_raw_predictions=False, master='',
                         quantize_scheme=None):
  """Runs one checkpoint over the split and saves the visualizations.

  `quantize_scheme`: a `slim.quantize.scheme.Scheme` (--quantize_scheme) or None.

  Returns:
    Number of images written.
  """
  graph = tf.Graph()
  with graph.as_default():
    samples = dataset.get_one_shot_iterator().get_next()
    predictions = inference.build_predictions(
        tf.cast(samples[common.IMAGE], tf.float32), model_options, eval_scales,
        add_flipped_images, quantize_delay_step, quantize_scheme)
    tf.compat.v1.train.get_or_create_global_step()
    saver = tf.compat.v1.train.Saver(tf.compat.v1.global_variables())
    count = 0
    with tf.compat.v1.Session(master) as sess:
      checkpoints.restore(saver, sess, checkpoint_path)
      while True:
        try:
          with dataset.explained_errors('vis_crop_size'):
            pred, originals, names, heights, widths = sess.run([
                predictions, samples[common.ORIGINAL_IMAGE], samples[common.IMAGE_NAME],
                samples[common.HEIGHT], samples[common.WIDTH]])
        except tf.errors.OutOfRangeError:
          break
        for i in range(pred.shape[0]):
          h, w = int(heights[i]), int(widths[i])
          save_results(np.squeeze(originals[i])[:h, :w].astype(np.uint8),
                       pred[i][:h, :w], names[i], count, save_dir, raw_save_dir,
                       colormap_type, also_save_raw_predictions)
          count += 1
  return count


def visualize(opts, model_options):
  """Visualizes the checkpoints of --checkpoint_dir as the flags say; returns image counts."""
  inference.check_quantize_scales(opts.quantize_delay_step, opts.eval_scales)
  quantize_scheme = opts.load_quantize_scheme()
  crop_size = deeplab_options.parse_crop(opts.vis_crop_size, 'vis_crop_size')
  save_dir = os.path.join(opts.vis_logdir, SEMANTIC_PREDICTION_SAVE_FOLDER)
  raw_save_dir = os.path.join(opts.vis_logdir, RAW_SEMANTIC_PREDICTION_SAVE_FOLDER)
  tf.io.gfile.makedirs(save_dir)
  tf.io.gfile.makedirs(raw_save_dir)

  def visualize_fn(checkpoint):
    dataset = data_generator.Dataset(
        dataset_name=opts.dataset, split_name=opts.vis_split, dataset_dir=opts.dataset_dir,
        batch_size=opts.vis_batch_size, crop_size=crop_size,
        min_resize_value=opts.min_resize_value, max_resize_value=opts.max_resize_value,
        resize_factor=opts.resize_factor, model_variant=model_options.model_variant,
        is_training=False, should_shuffle=False, should_repeat=False,
        preprocess_fn=input_preprocess.preprocess_image_and_label)
    count = visualize_checkpoint(
        checkpoint, dataset, model_options, save_dir, raw_save_dir, opts.eval_scales,
        opts.add_flipped_images, opts.quantize_delay_step, opts.colormap_type,
        opts.also_save_raw_predictions, opts.master, quantize_scheme=quantize_scheme)
    logging.info('Visualized %d images of %s into %s', count, checkpoint, save_dir)
    return count

  return eval_driver.evaluate_checkpoints(
      opts.checkpoint_dir, visualize_fn, eval_interval_secs=opts.eval_interval_secs,
      max_number_of_evaluations=opts.max_number_of_iterations)


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  opts = options.from_flags(VisOptions, **common.input_resize_from_flags(flags.FLAGS))
  num_classes = data_generator.get_dataset_descriptor(opts.dataset).num_classes
  model_options = common.model_options_from_flags(
      flags.FLAGS, {common.OUTPUT_TYPE: num_classes},
      crop_size=deeplab_options.parse_crop(opts.vis_crop_size, 'vis_crop_size'),
      **opts.head_kwargs())
  visualize(opts, model_options)


def run():
  """Console-script entry point."""
  entry.run(main, VisOptions)


if __name__ == '__main__':
  run()
