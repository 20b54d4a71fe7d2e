"""Segmentation results visualization: colourised PNGs of the predictions of a checkpoint.

Writes `<vis_logdir>/segmentation_results/%06d_image.png` and `%06d_prediction.png` (dataset
colormap), and with --also_save_raw_predictions `raw_segmentation_results/<image name>.png`.
"""

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
import tensorflow as tf  # noqa: E402

from deeplab import common  # noqa: E402
from deeplab import eval as deeplab_eval  # noqa: E402

# allow_override: train/eval/vis/export share flag names (separate binaries in the original).
flags.DEFINE_string('master', '', 'BNS name of the tensorflow server', allow_override=True)
flags.DEFINE_string('vis_logdir', None, 'Where to write the event logs.', allow_override=True)
flags.DEFINE_string('checkpoint_dir', None, 'Directory of model checkpoints.',
                    allow_override=True)
flags.DEFINE_integer('vis_batch_size', 1, 'The number of images in each batch during evaluation.',
                     allow_override=True)
flags.DEFINE_list('vis_crop_size', '513,513', 'Crop size [height, width] for visualization.',
                  allow_override=True)
flags.DEFINE_integer('eval_interval_secs', 60 * 5, 'How often (in seconds) to run evaluation.',
                     allow_override=True)
flags.DEFINE_multi_integer('atrous_rates', None, 'Atrous rates for atrous spatial pyramid '
                           'pooling.', allow_override=True)
flags.DEFINE_integer('output_stride', 16, 'The ratio of input to output spatial resolution.',
                     allow_override=True)
flags.DEFINE_multi_float('eval_scales', [1.0], 'The scales to resize images for evaluation.',
                         allow_override=True)
flags.DEFINE_bool('add_flipped_images', False, 'Add flipped images for evaluation or not.',
                  allow_override=True)
flags.DEFINE_integer('quantize_delay_step', -1, 'Steps to start quantized training. If < 0, will '
                     'not quantize model.', allow_override=True)
flags.DEFINE_string('dataset', 'pascal_voc_seg', 'Name of the segmentation dataset.',
                    allow_override=True)
flags.DEFINE_string('vis_split', 'val', 'Which split of the dataset used for visualizing results',
                    allow_override=True)
flags.DEFINE_string('dataset_dir', None, 'Where the dataset reside.', allow_override=True)
flags.DEFINE_enum('colormap_type', 'pascal', ['pascal', 'cityscapes', 'ade20k'],
                  'Visualization colormap type.', allow_override=True)
flags.DEFINE_boolean('also_save_raw_predictions', False, 'Also save raw predictions.',
                     allow_override=True)
flags.DEFINE_integer('max_number_of_iterations', 0, 'Maximum number of visualization iterations. '
                     'Will loop indefinitely upon nonpositive values.', allow_override=True)

FLAGS = flags.FLAGS

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
    colormap_type: pascal, cityscapes or ade20k.
    also_save_raw_predictions: also save the raw class ids.
  """
  from deeplab.utils import save_annotation  # pylint: disable=g-import-not-at-top
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
                         colormap_type='pascal', also_save_raw_predictions=False, master=''):
  """Runs one checkpoint over the split and saves the visualizations.

  Returns:
    Number of images written.
  """
  graph = tf.Graph()
  with graph.as_default():
    samples = dataset.get_one_shot_iterator().get_next()
    predictions = deeplab_eval.build_predictions(
        tf.cast(samples[common.IMAGE], tf.float32), model_options, eval_scales,
        add_flipped_images, quantize_delay_step)
    tf.compat.v1.train.get_or_create_global_step()
    saver = tf.compat.v1.train.Saver(tf.compat.v1.global_variables())
    count = 0
    with tf.compat.v1.Session(master) as sess:
      saver.restore(sess, checkpoint_path)
      while True:
        try:
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


def main(unused_argv):
  from datasets import data_generator  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.INFO)
  deeplab_eval.check_quantize_scales(FLAGS.quantize_delay_step, FLAGS.eval_scales)
  crop_size = [int(x) for x in FLAGS.vis_crop_size]
  save_dir = os.path.join(FLAGS.vis_logdir, SEMANTIC_PREDICTION_SAVE_FOLDER)
  raw_save_dir = os.path.join(FLAGS.vis_logdir, RAW_SEMANTIC_PREDICTION_SAVE_FOLDER)
  tf.io.gfile.makedirs(save_dir)
  tf.io.gfile.makedirs(raw_save_dir)
  dataset_kwargs = dict(
      dataset_name=FLAGS.dataset, split_name=FLAGS.vis_split, dataset_dir=FLAGS.dataset_dir,
      batch_size=FLAGS.vis_batch_size, crop_size=crop_size,
      min_resize_value=FLAGS.min_resize_value, max_resize_value=FLAGS.max_resize_value,
      resize_factor=FLAGS.resize_factor, model_variant=FLAGS.model_variant, is_training=False,
      should_shuffle=False, should_repeat=False)
  num_classes = data_generator.Dataset(**dataset_kwargs).num_of_classes
  model_options = common.model_options_from_flags(
      FLAGS, {common.OUTPUT_TYPE: num_classes}, crop_size=crop_size,
      atrous_rates=FLAGS.atrous_rates, output_stride=FLAGS.output_stride)
  iterations, last = 0, None
  while True:
    ckpt = tf.train.latest_checkpoint(FLAGS.checkpoint_dir)
    if ckpt and ckpt != last:
      n = visualize_checkpoint(
          ckpt, data_generator.Dataset(**dataset_kwargs), model_options, save_dir, raw_save_dir,
          FLAGS.eval_scales, FLAGS.add_flipped_images, FLAGS.quantize_delay_step,
          FLAGS.colormap_type, FLAGS.also_save_raw_predictions, FLAGS.master)
      logging.info('Visualized %d images of %s into %s', n, ckpt, save_dir)
      last = ckpt
      iterations += 1
      if 0 < FLAGS.max_number_of_iterations <= iterations:
        break
    time.sleep(FLAGS.eval_interval_secs if FLAGS.max_number_of_iterations != 1 else 1)


if __name__ == '__main__':
  flags.mark_flag_as_required('checkpoint_dir')
  flags.mark_flag_as_required('vis_logdir')
  flags.mark_flag_as_required('dataset_dir')
  app.run(main)
