"""Converts a PASCAL VOC 2012 style folder into sharded TFRecords.

Layout read (as in the original script):
  <image_folder>/<name>.<image_format>
  <semantic_segmentation_folder>/<name>.png   (raw class ids; see remove_gt_colormap.py)
  <list_folder>/<split>.txt                   (one image name per line)
Written: <output_dir>/<split>-%05d-of-%05d.tfrecord, 4 shards per split.

Usage:
  python -m datasets.build_voc2012_data --image_folder=... --semantic_segmentation_folder=... \
      --list_folder=... --image_format=jpg --output_dir=...
"""
import glob
import math
import os

import numpy as np
from absl import app
from absl import flags

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from slim import fileio
import tensorflow as tf

from datasets import build_data

NUM_SHARDS = 4
SHARD_PATTERN = '%s-%05d-of-%05d.tfrecord'

FLAGS = flags.FLAGS


def define_flags():
  """Defines the command-line flags (only for the script, so importers can reuse its functions)."""
  flags.DEFINE_string('image_folder', './VOCdevkit/VOC2012/JPEGImages', 'Folder of images.')
  flags.DEFINE_string('semantic_segmentation_folder', './VOCdevkit/VOC2012/SegmentationClassRaw',
                      'Folder of raw semantic segmentation annotations.')
  flags.DEFINE_string('list_folder', './VOCdevkit/VOC2012/ImageSets/Segmentation',
                      'Folder with the train/val/trainval list files.')
  flags.DEFINE_string('image_format', 'jpg', 'Image format (file extension).')
  flags.DEFINE_string('label_format', 'png', 'Segmentation label format (file extension).')
  flags.DEFINE_string('output_dir', './tfrecord', 'Where the TFRecords are written.')
  flags.DEFINE_integer('num_classes', 21,
                       'Labels must lie in [0, num_classes) or equal ignore_label.')
  flags.DEFINE_integer('ignore_label', 255, 'Label value allowed besides the class ids.')


def _read_list(list_path):
  if not os.path.isfile(list_path):
    raise build_data.DatasetBuildError('%s: split list file not found' % list_path)
  with open(list_path) as f:
    names = [line.strip() for line in f if line.strip()]
  if not names:
    raise build_data.DatasetBuildError('%s: split list is empty; expected one image name per line'
                                       % list_path)
  return names


def _read_bytes(path):
  if not os.path.isfile(path):
    raise build_data.DatasetBuildError('%s: file not found' % path)
  with open(path, 'rb') as f:
    return f.read()


def _check_label(label, label_path, height, width, num_classes, ignore_label):
  """Raises DatasetBuildError if the label map does not match the image or holds bad values."""
  if label.shape[:2] != (height, width):
    raise build_data.DatasetBuildError(
        '%s: label size %dx%d does not match image size %dx%d'
        % (label_path, label.shape[0], label.shape[1], height, width))
  if num_classes is None:
    return
  values = np.unique(label)
  bad = values[(values >= num_classes) & (values != ignore_label)]
  if bad.size:
    raise build_data.DatasetBuildError(
        '%s: label values %s outside [0, %d) and != ignore label %d'
        % (label_path, bad.tolist()[:10], num_classes, ignore_label))


def convert_dataset(list_path, image_folder, semantic_segmentation_folder, output_dir,
                    image_format='jpg', label_format='png', num_classes=21, ignore_label=255,
                    num_shards=NUM_SHARDS):
  """Converts one split to `num_shards` TFRecord shards.

  Each shard is written under a temporary name and renamed when complete, so readers that glob
  `<split>-*` never see a partial shard.

  Args:
    list_path: path of `<split>.txt`.
    image_folder: folder of the images.
    semantic_segmentation_folder: folder of raw (class id) PNG labels.
    output_dir: destination folder.
    image_format: image file extension ('jpg', 'jpeg' or 'png').
    label_format: label file extension.
    num_classes: valid class ids are [0, num_classes); None skips the value check.
    ignore_label: extra allowed label value.
    num_shards: number of output shards.

  Returns:
    List of written shard paths.

  Raises:
    DatasetBuildError: missing list/image/label file, empty split, size mismatch, bad label values.
  """
  split = os.path.splitext(os.path.basename(list_path))[0]
  names = _read_list(list_path)
  os.makedirs(output_dir, exist_ok=True)
  stored_format = 'jpeg' if image_format in ('jpg', 'jpeg') else image_format
  image_reader = build_data.ImageReader(stored_format, channels=3)
  label_reader = build_data.ImageReader('png', channels=1)
  per_shard = int(math.ceil(len(names) / float(num_shards)))
  paths = []
  for shard_id in range(num_shards):
    path = os.path.join(output_dir, SHARD_PATTERN % (split, shard_id, num_shards))
    tmp = path + fileio.TMP_MARKER + str(os.getpid())
    try:
      with tf.io.TFRecordWriter(tmp) as writer:
        for name in names[shard_id * per_shard:(shard_id + 1) * per_shard]:
          image_path = os.path.join(image_folder, '%s.%s' % (name, image_format))
          image_data = _read_bytes(image_path)
          height, width = image_reader.read_image_dims(image_data, image_path)
          label_path = os.path.join(semantic_segmentation_folder, '%s.%s' % (name, label_format))
          seg_data = _read_bytes(label_path)
          label = label_reader.decode_image(seg_data, label_path)
          _check_label(label, label_path, height, width, num_classes, ignore_label)
          example = build_data.image_seg_to_tfexample(image_data, name, height, width, seg_data,
                                                      image_format=stored_format)
          writer.write(example.SerializeToString())
      os.replace(tmp, path)
    except BaseException:
      if os.path.exists(tmp):
        os.remove(tmp)
      raise
    paths.append(path)
  return paths


def main(unused_argv):
  split_paths = sorted(glob.glob(os.path.join(FLAGS.list_folder, '*.txt')))
  if not split_paths:
    raise build_data.DatasetBuildError('%s: no <split>.txt list files found' % FLAGS.list_folder)
  for list_path in split_paths:
    convert_dataset(list_path, FLAGS.image_folder, FLAGS.semantic_segmentation_folder,
                    FLAGS.output_dir, FLAGS.image_format, FLAGS.label_format,
                    FLAGS.num_classes, FLAGS.ignore_label)


if __name__ == '__main__':
  define_flags()
  app.run(main)
