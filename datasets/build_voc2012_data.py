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
import os
import sys

if __name__ == '__main__' and __package__ in (None, ''):
  # Run by path: make the repository root importable.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import slim  # noqa: E402,F401  (graph-mode TF1 behaviour before any TF use)

from datasets import build_data  # noqa: E402

NUM_SHARDS = 4
SHARD_PATTERN = build_data.SHARD_PATTERN

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

  def make_example(name):
    return build_data.example_from_files(
        os.path.join(image_folder, '%s.%s' % (name, image_format)),
        os.path.join(semantic_segmentation_folder, '%s.%s' % (name, label_format)),
        name, image_format, num_classes, ignore_label)

  return build_data.write_sharded_tfrecords(output_dir, split, names, num_shards, make_example)


def main(unused_argv):
  try:
    split_paths = sorted(glob.glob(os.path.join(FLAGS.list_folder, '*.txt')))
    if not split_paths:
      raise build_data.DatasetBuildError('%s: no <split>.txt list files found' % FLAGS.list_folder)
    for list_path in split_paths:
      convert_dataset(list_path, FLAGS.image_folder, FLAGS.semantic_segmentation_folder,
                      FLAGS.output_dir, FLAGS.image_format, FLAGS.label_format,
                      FLAGS.num_classes, FLAGS.ignore_label)
  except build_data.DatasetBuildError as e:
    # A bad input file is a user error: print what is wrong, without a traceback.
    sys.exit('ERROR: %s' % e)


if __name__ == '__main__':
  define_flags()
  app.run(main)
