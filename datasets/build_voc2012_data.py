"""Converts a PASCAL VOC 2012 style folder into sharded TFRecords.

Layout read (as in the original script):
  <image_folder>/<name>.<image_format>
  <semantic_segmentation_folder>/<name>.png   (raw class ids; see remove_gt_colormap.py)
  <list_folder>/<split>.txt                   (one image name per line)
Written: <output_dir>/<split>-%05d-of-%05d.tfrecord, 4 shards per split.

Usage (or `python datasets/build_voc2012_data.py ...`, or the console script):
  python -m datasets.build_voc2012_data --image_folder=... --semantic_segmentation_folder=... \
      --list_folder=... --image_format=jpg --output_dir=...
"""
import dataclasses
import glob
import os

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from slim.runtime import options

from datasets import build_cli
from datasets import build_data

NUM_SHARDS = 4
SHARD_PATTERN = build_data.SHARD_PATTERN


@dataclasses.dataclass
class BuildOptions:
  """Flags of the script (the original's, plus the label checks)."""
  image_folder: str = options.flag('./VOCdevkit/VOC2012/JPEGImages', 'Folder of images.')
  semantic_segmentation_folder: str = options.flag(
      './VOCdevkit/VOC2012/SegmentationClassRaw',
      'Folder of raw semantic segmentation annotations.')
  list_folder: str = options.flag('./VOCdevkit/VOC2012/ImageSets/Segmentation',
                                  'Folder with the train/val/trainval list files.')
  image_format: str = options.flag('jpg', 'Image format (file extension).')
  label_format: str = options.flag('png', 'Segmentation label format (file extension).')
  output_dir: str = options.flag('./tfrecord', 'Where the TFRecords are written.')
  num_classes: int = options.flag(21, 'Labels must lie in [0, num_classes) or equal ignore_label.')
  ignore_label: int = options.flag(255, 'Label value allowed besides the class ids.')


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


def build(opts):
  """Converts every `<list_folder>/<split>.txt` split; returns the written shard paths.

  Args:
    opts: a BuildOptions.

  Returns:
    List of the shard paths of all splits.

  Raises:
    DatasetBuildError: no list file, or a bad list/image/label file (see convert_dataset).
  """
  split_paths = sorted(glob.glob(os.path.join(opts.list_folder, '*.txt')))
  if not split_paths:
    raise build_data.DatasetBuildError('%s: no <split>.txt list files found' % opts.list_folder)
  paths = []
  for list_path in split_paths:
    paths += convert_dataset(list_path, opts.image_folder, opts.semantic_segmentation_folder,
                             opts.output_dir, opts.image_format, opts.label_format,
                             opts.num_classes, opts.ignore_label)
  return paths


def run():
  """Console-script entry point: parses the flags and runs build (errors exit with 'ERROR:')."""
  build_cli.run(BuildOptions, build)


if __name__ == '__main__':
  run()
