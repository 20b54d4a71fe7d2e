"""Converts Cityscapes (fine annotations) into sharded TFRecords (the original DeepLab builder).

Layout read (the official gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip, unpacked):
  <cityscapes_root>/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png
  <cityscapes_root>/gtFine/<split>/<city>/<name>_gtFine_labelTrainIds.png
Written: <output_dir>/<split>_fine-%05d-of-00010.tfrecord for the splits train and val (and test
when leftImg8bit/test exists), i.e. the dataset splits train_fine, val_fine, test_fine of
data_generator's `cityscapes` descriptor. image/filename is `<name>` (e.g. aachen_000000_000019).

The `*_gtFine_labelTrainIds.png` files (19 classes 0..18, 255 elsewhere) were made by
cityscapesScripts' createTrainIdLabelImgs in the original recipe. With --create_label_trainids
this script makes them from the `*_gtFine_labelIds.png` files of the gtFine zip instead, with the
standard id -> trainId table below (`LABEL_TABLE`).

Usage:
  python -m datasets.build_cityscapes_data --cityscapes_root=./cityscapes \
      --output_dir=./cityscapes/tfrecord [--create_label_trainids]
Also `python datasets/build_cityscapes_data.py ...` or the console script.
"""
import dataclasses
import glob
import io
import os

import numpy as np
from PIL import Image

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from slim import fileio
from slim.runtime import options

from datasets import build_cli
from datasets import build_data

NUM_SHARDS = 10
NUM_CLASSES = 19
IGNORE_LABEL = 255

# Folders and file name suffixes of the official archives.
IMAGE_FOLDER = 'leftImg8bit'
LABEL_FOLDER = 'gtFine'
IMAGE_SUFFIX = '_leftImg8bit.png'
LABEL_IDS_SUFFIX = '_gtFine_labelIds.png'
LABEL_TRAIN_IDS_SUFFIX = '_gtFine_labelTrainIds.png'

# Source splits converted by main(); test is converted only when its image folder exists.
REQUIRED_SPLITS = ('train', 'val')
OPTIONAL_SPLITS = ('test',)
# Output split name of a source split (data_generator's `cityscapes` split names since 2020).
OUTPUT_SPLIT_PATTERN = '%s_fine'

# cityscapesScripts helpers/labels.py, columns: (name, id, trainId). Ids not listed (and the
# license plate, id -1, which never appears in labelIds PNGs) map to the ignore label.
LABEL_TABLE = (
    ('unlabeled', 0, 255),
    ('ego vehicle', 1, 255),
    ('rectification border', 2, 255),
    ('out of roi', 3, 255),
    ('static', 4, 255),
    ('dynamic', 5, 255),
    ('ground', 6, 255),
    ('road', 7, 0),
    ('sidewalk', 8, 1),
    ('parking', 9, 255),
    ('rail track', 10, 255),
    ('building', 11, 2),
    ('wall', 12, 3),
    ('fence', 13, 4),
    ('guard rail', 14, 255),
    ('bridge', 15, 255),
    ('tunnel', 16, 255),
    ('pole', 17, 5),
    ('polegroup', 18, 255),
    ('traffic light', 19, 6),
    ('traffic sign', 20, 7),
    ('vegetation', 21, 8),
    ('terrain', 22, 9),
    ('sky', 23, 10),
    ('person', 24, 11),
    ('rider', 25, 12),
    ('car', 26, 13),
    ('truck', 27, 14),
    ('bus', 28, 15),
    ('caravan', 29, 255),
    ('trailer', 30, 255),
    ('train', 31, 16),
    ('motorcycle', 32, 17),
    ('bicycle', 33, 18),
)


def _id_to_train_id_lookup():
  lookup = np.full(256, IGNORE_LABEL, dtype=np.uint8)
  for _, label_id, train_id in LABEL_TABLE:
    lookup[label_id] = train_id
  return lookup


# uint8 lookup table: ID_TO_TRAIN_ID[label_id] = train id (255 for ignored ids).
ID_TO_TRAIN_ID = _id_to_train_id_lookup()
# TRAIN_ID_TO_ID[train_id] = label id, for the 19 training classes (vis.py's eval-id mapping).
TRAIN_ID_TO_ID = tuple(label_id for train_id in range(NUM_CLASSES)
                       for _, label_id, t in LABEL_TABLE if t == train_id)


@dataclasses.dataclass
class BuildOptions:
  """Flags of the script (the original's, plus --create_label_trainids)."""
  cityscapes_root: str = options.flag('./cityscapes', 'Cityscapes dataset root folder.')
  output_dir: str = options.flag('./tfrecord',
                                 'Path to save converted SSTable of TensorFlow examples.')
  create_label_trainids: bool = options.flag(
      False, 'First write gtFine/*/*/*%s from the *%s files (as cityscapesScripts\' '
      'createTrainIdLabelImgs); existing ones are kept.'
      % (LABEL_TRAIN_IDS_SUFFIX, LABEL_IDS_SUFFIX))


def label_ids_to_train_ids(label_ids):
  """Maps a Cityscapes labelIds array to train ids (0..18, 255 for the ignored classes).

  Args:
    label_ids: integer array of Cityscapes label ids (0..33).

  Returns:
    uint8 array of the same shape.
  """
  return ID_TO_TRAIN_ID[np.asarray(label_ids, dtype=np.uint8)]


def create_label_trainids(cityscapes_root, overwrite=False):
  """Writes `*_gtFine_labelTrainIds.png` beside every `*_gtFine_labelIds.png` under gtFine/.

  Each file is written atomically, so an interrupted run leaves only complete files, and a rerun
  (overwrite=False) continues where it stopped.

  Args:
    cityscapes_root: dataset root holding gtFine/<split>/<city>/.
    overwrite: rewrite label files that already exist.

  Returns:
    Number of files written.

  Raises:
    DatasetBuildError: no labelIds file found, or one cannot be decoded.
  """
  pattern = os.path.join(cityscapes_root, LABEL_FOLDER, '*', '*', '*' + LABEL_IDS_SUFFIX)
  paths = sorted(glob.glob(pattern))
  if not paths:
    raise build_data.DatasetBuildError(
        '%s: no label files found (expected %s/<split>/<city>/<name>%s from '
        'gtFine_trainvaltest.zip)'
        % (pattern, LABEL_FOLDER, LABEL_IDS_SUFFIX))
  reader = build_data.ImageReader('png', channels=1)
  written = 0
  for path in paths:
    out_path = path[:-len(LABEL_IDS_SUFFIX)] + LABEL_TRAIN_IDS_SUFFIX
    if not overwrite and os.path.exists(out_path):
      continue
    label_ids = reader.decode_image(build_data.read_file_bytes(path), path)
    buf = io.BytesIO()
    Image.fromarray(label_ids_to_train_ids(label_ids), mode='L').save(buf, format='PNG')
    fileio.atomic_write_bytes(out_path, buf.getvalue())
    written += 1
  return written


def _find(cityscapes_root, folder, split, suffix):
  """Returns {'<city>/<name>': path} of `<root>/<folder>/<split>/<city>/<name><suffix>`."""
  paths = glob.glob(os.path.join(cityscapes_root, folder, split, '*', '*' + suffix))
  return {os.path.relpath(p, os.path.join(cityscapes_root, folder, split))[:-len(suffix)]: p
          for p in paths}


def list_pairs(cityscapes_root, split):
  """Pairs the images of a split with their labelTrainIds files by city and name.

  Args:
    cityscapes_root: dataset root.
    split: source split folder name ('train', 'val' or 'test').

  Returns:
    Sorted list of (name, image_path, label_path); name is the file name without suffix.

  Raises:
    DatasetBuildError: no image in the split, an image without label or a label without image.
  """
  images = _find(cityscapes_root, IMAGE_FOLDER, split, IMAGE_SUFFIX)
  if not images:
    raise build_data.DatasetBuildError(
        '%s: no images found (expected %s/%s/<city>/<name>%s)'
        % (os.path.join(cityscapes_root, IMAGE_FOLDER, split), IMAGE_FOLDER, split, IMAGE_SUFFIX))
  labels = _find(cityscapes_root, LABEL_FOLDER, split, LABEL_TRAIN_IDS_SUFFIX)
  for key in sorted(images):
    if key not in labels:
      raise build_data.DatasetBuildError(
          '%s: no label %s (run with --create_label_trainids to make it from %s)'
          % (images[key], os.path.join(cityscapes_root, LABEL_FOLDER, split,
                                       key + LABEL_TRAIN_IDS_SUFFIX), key + LABEL_IDS_SUFFIX))
  for key in sorted(labels):
    if key not in images:
      raise build_data.DatasetBuildError(
          '%s: no image %s' % (labels[key], os.path.join(cityscapes_root, IMAGE_FOLDER, split,
                                                          key + IMAGE_SUFFIX)))
  return [(os.path.basename(key), images[key], labels[key]) for key in sorted(images)]


def convert_dataset(cityscapes_root, split, output_dir, num_shards=NUM_SHARDS):
  """Converts one split to `<split>_fine-XXXXX-of-<num_shards>.tfrecord` shards.

  Args:
    cityscapes_root: dataset root holding leftImg8bit/ and gtFine/.
    split: source split ('train', 'val' or 'test').
    output_dir: destination folder.
    num_shards: number of output shards.

  Returns:
    List of written shard paths.

  Raises:
    DatasetBuildError: missing or unpaired files, size mismatch, labels outside 0..18 and 255.
  """
  pairs = list_pairs(cityscapes_root, split)

  def make_example(pair):
    name, image_path, label_path = pair
    return build_data.example_from_files(image_path, label_path, name, 'png', NUM_CLASSES,
                                         IGNORE_LABEL)

  return build_data.write_sharded_tfrecords(output_dir, OUTPUT_SPLIT_PATTERN % split, pairs,
                                            num_shards, make_example)


def splits_to_convert(cityscapes_root):
  """Returns the required splits plus the optional ones whose image folder exists."""
  return list(REQUIRED_SPLITS) + [
      s for s in OPTIONAL_SPLITS
      if os.path.isdir(os.path.join(cityscapes_root, IMAGE_FOLDER, s))]


def build(opts):
  """Optionally makes the labelTrainIds files, then converts every split found.

  Args:
    opts: a BuildOptions.

  Returns:
    List of the written shard paths, split by split.

  Raises:
    DatasetBuildError: missing, unpaired or corrupt files, labels outside 0..18 and 255.
  """
  if opts.create_label_trainids:
    create_label_trainids(opts.cityscapes_root)
  paths = []
  for split in splits_to_convert(opts.cityscapes_root):
    paths += convert_dataset(opts.cityscapes_root, split, opts.output_dir)
  return paths


def run():
  """Console-script entry point: parses the flags and runs build (errors exit with 'ERROR:')."""
  build_cli.run(BuildOptions, build)


if __name__ == '__main__':
  run()
