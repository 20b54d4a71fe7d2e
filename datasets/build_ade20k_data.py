"""Converts ADE20K (the SceneParsing ADEChallengeData2016 release) into sharded TFRecords.

Layout read (ADEChallengeData2016.zip, unpacked), as in the original DeepLab builder:
  <train_image_folder>/<name>.jpg         (images/training)
  <train_image_label_folder>/<name>.png   (annotations/training; values 0..150, 0 = ignore)
  <val_image_folder>/<name>.jpg           (images/validation)
  <val_image_label_folder>/<name>.png     (annotations/validation)
Written: <output_dir>/{train,val}-%05d-of-00004.tfrecord. As the original, the image order is
shuffled before sharding (here with a fixed seed, so a rebuild gives the same shards) and
image/filename holds the image path; readers such as vis.py keep only its base name.

New: --top_classes=31 writes the MLPerf Mobile segmentation protocol (ADE20K top-31, the MOSAIC
and DeepLabV3+ benchmark): ADE20K's class ids are ordered by pixel frequency, so classes 1..31
keep their ids and every other class becomes the ignore label 0, as the MLPerf app scores
predictions of the top classes only (dataset 'ade20k_top31': 32 logits, label 0 ignored).

Usage:
  python -m datasets.build_ade20k_data \
      --train_image_folder=./ADE20K/ADEChallengeData2016/images/training \
      --train_image_label_folder=./ADE20K/ADEChallengeData2016/annotations/training \
      --val_image_folder=./ADE20K/ADEChallengeData2016/images/validation \
      --val_image_label_folder=./ADE20K/ADEChallengeData2016/annotations/validation \
      --output_dir=./ADE20K/tfrecord

Also `python datasets/build_ade20k_data.py ...` or the console script.
"""
import dataclasses
import glob
import io
import os
import random

import numpy as np
from PIL import Image

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from slim.runtime import options

from datasets import build_cli
from datasets import build_data

NUM_SHARDS = 4
# Label 0 is "other objects" and is ignored; the 150 classes are 1..150.
NUM_CLASSES = 151
IGNORE_LABEL = 0
IMAGE_FORMAT = 'jpg'
LABEL_FORMAT = 'png'
DEFAULT_SHUFFLE_SEED = 0
# Classes of the MLPerf Mobile segmentation benchmark (ADE20K top-31, --top_classes).
MLPERF_TOP_CLASSES = 31
# Default dataset root of the flags (the original's).
_DEFAULT_ROOT = './ADE20K/ADEChallengeData2016'


@dataclasses.dataclass
class BuildOptions:
  """Flags of the script (the original's, plus the shuffle seed)."""
  train_image_folder: str = options.flag(_DEFAULT_ROOT + '/images/training',
                                         'Folder containing training images')
  train_image_label_folder: str = options.flag(_DEFAULT_ROOT + '/annotations/training',
                                               'Folder containing annotations for training images')
  val_image_folder: str = options.flag(_DEFAULT_ROOT + '/images/validation',
                                       'Folder containing validation images')
  val_image_label_folder: str = options.flag(_DEFAULT_ROOT + '/annotations/validation',
                                             'Folder containing annotations for validation')
  output_dir: str = options.flag('./ADE20K/tfrecord',
                                 'Path to save converted tfrecord of Tensorflow example')
  shuffle_seed: int = options.flag(
      DEFAULT_SHUFFLE_SEED, 'Seed of the image order shuffle (the original shuffled unseeded).')
  top_classes: int = options.flag(
      0, 'New: keep classes 1..N (ADE20K ids are sorted by pixel frequency) and write every '
      'other class as the ignore label 0; %d is MLPerf Mobile\'s ADE20K top-31 (dataset '
      'ade20k_top31). 0 keeps all 150 classes.' % MLPERF_TOP_CLASSES)


def list_pairs(image_folder, label_folder, shuffle_seed=DEFAULT_SHUFFLE_SEED):
  """Lists `<image_folder>/*.jpg` with their `<label_folder>/<name>.png`, in shuffled order.

  Args:
    image_folder: folder of the JPEG images.
    label_folder: folder of the PNG annotations.
    shuffle_seed: seed of the order shuffle; None keeps the sorted order.

  Returns:
    List of (image_path, label_path).

  Raises:
    DatasetBuildError: the image folder holds no .jpg file, or an image has no label file.
  """
  image_paths = sorted(glob.glob(os.path.join(image_folder, '*.' + IMAGE_FORMAT)))
  if not image_paths:
    raise build_data.DatasetBuildError('%s: no *.%s images found' % (image_folder, IMAGE_FORMAT))
  if shuffle_seed is not None:
    random.Random(shuffle_seed).shuffle(image_paths)
  pairs = []
  for image_path in image_paths:
    # The original keeps the name up to the first dot: ADE_train_00000001.jpg -> .png.
    name = os.path.basename(image_path).split('.')[0]
    label_path = os.path.join(label_folder, '%s.%s' % (name, LABEL_FORMAT))
    if not os.path.isfile(label_path):
      raise build_data.DatasetBuildError('%s: no label %s' % (image_path, label_path))
    pairs.append((image_path, label_path))
  return pairs


def keep_top_classes(example, top_classes):
  """Rewrites the label PNG of `example` in place: classes above `top_classes` become 0."""
  feature = example.features.feature[build_data.LABEL_ENCODED].bytes_list
  label = np.array(Image.open(io.BytesIO(feature.value[0])))
  label[label > top_classes] = IGNORE_LABEL
  buffer = io.BytesIO()
  Image.fromarray(label.astype(np.uint8), mode='L').save(buffer, format='PNG')
  feature.value[0] = buffer.getvalue()
  return example


def convert_dataset(split, image_folder, label_folder, output_dir, num_shards=NUM_SHARDS,
                    shuffle_seed=DEFAULT_SHUFFLE_SEED, top_classes=0):
  """Converts one split to `<split>-XXXXX-of-<num_shards>.tfrecord` shards.

  Args:
    split: output split name ('train' or 'val').
    image_folder: folder of the JPEG images.
    label_folder: folder of the PNG annotations.
    output_dir: destination folder.
    num_shards: number of output shards.
    shuffle_seed: seed of the order shuffle; None keeps the sorted order.
    top_classes: > 0: keep classes 1..top_classes, the others become the ignore label.

  Returns:
    List of written shard paths.

  Raises:
    DatasetBuildError: missing or corrupt files, size mismatch, label values above 150.
  """
  pairs = list_pairs(image_folder, label_folder, shuffle_seed)

  def make_example(pair):
    image_path, label_path = pair
    example = build_data.example_from_files(image_path, label_path, image_path, IMAGE_FORMAT,
                                            NUM_CLASSES, IGNORE_LABEL)
    return keep_top_classes(example, top_classes) if top_classes else example

  return build_data.write_sharded_tfrecords(output_dir, split, pairs, num_shards, make_example)


def build(opts):
  """Converts the train and val splits; returns the written shard paths.

  Args:
    opts: a BuildOptions.

  Returns:
    List of the shard paths, train first.

  Raises:
    DatasetBuildError: missing or corrupt files, size mismatch, label values above 150.
  """
  if not 0 <= opts.top_classes < NUM_CLASSES:
    raise build_data.DatasetBuildError('--top_classes=%d: expected 0 (all) to %d'
                                       % (opts.top_classes, NUM_CLASSES - 1))
  return (convert_dataset('train', opts.train_image_folder, opts.train_image_label_folder,
                          opts.output_dir, shuffle_seed=opts.shuffle_seed,
                          top_classes=opts.top_classes)
          + convert_dataset('val', opts.val_image_folder, opts.val_image_label_folder,
                            opts.output_dir, shuffle_seed=opts.shuffle_seed,
                            top_classes=opts.top_classes))


def run():
  """Console-script entry point: parses the flags and runs build (errors exit with 'ERROR:')."""
  build_cli.run(BuildOptions, build)


if __name__ == '__main__':
  run()
