"""Removes the colour map from palette ground-truth PNGs, keeping the raw class ids.

PASCAL VOC labels are palette ('P' mode) PNGs whose pixel values are already class ids; this
script saves those indices as plain single-channel PNGs (as the original DeepLab script).

Usage:
  python -m datasets.remove_gt_colormap --original_gt_folder=... --output_dir=...
"""
import glob
import io
import os

import numpy as np
from absl import app
from absl import flags
from PIL import Image

from slim import fileio

FLAGS = flags.FLAGS


def define_flags():
  """Defines the command-line flags (only for the script, so importers can reuse its functions)."""
  flags.DEFINE_string('original_gt_folder', './VOCdevkit/VOC2012/SegmentationClass',
                      'Folder of palette ground truth annotations.')
  flags.DEFINE_string('segmentation_format', 'png', 'Segmentation format.')
  flags.DEFINE_string('output_dir', './VOCdevkit/VOC2012/SegmentationClassRaw',
                      'Folder to save the raw annotations.')


def remove_colormap(filename):
  """Returns the class-id array of a palette PNG (pixel values are palette indices)."""
  return np.array(Image.open(filename))


def save_annotation(annotation, filename):
  """Saves a 2-D uint8 class-id array as a grayscale PNG, atomically."""
  buf = io.BytesIO()
  Image.fromarray(annotation.astype(np.uint8), mode='L').save(buf, format='PNG')
  fileio.atomic_write_bytes(filename, buf.getvalue())


def remove_gt_colormap(original_gt_folder, output_dir, segmentation_format='png'):
  """Converts every `*.<segmentation_format>` file; returns the number converted."""
  paths = sorted(glob.glob(os.path.join(original_gt_folder, '*.' + segmentation_format)))
  os.makedirs(output_dir, exist_ok=True)
  for path in paths:
    raw = remove_colormap(path)
    save_annotation(raw, os.path.join(output_dir, os.path.basename(path)))
  return len(paths)


def main(unused_argv):
  remove_gt_colormap(FLAGS.original_gt_folder, FLAGS.output_dir, FLAGS.segmentation_format)


if __name__ == '__main__':
  define_flags()
  app.run(main)
