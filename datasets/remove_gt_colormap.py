"""Removes the colour map from palette ground-truth PNGs, keeping the raw class ids.

PASCAL VOC labels are palette ('P' mode) PNGs whose pixel values are already class ids; this
script saves those indices as plain single-channel PNGs (as the original DeepLab script).

Usage (or `python datasets/remove_gt_colormap.py ...`, or the console script):
  python -m datasets.remove_gt_colormap --original_gt_folder=... --output_dir=...
"""
import dataclasses
import glob
import io
import os

import numpy as np
from PIL import Image

from slim import fileio
from slim.runtime import options

from datasets import build_cli


@dataclasses.dataclass
class BuildOptions:
  """Flags of the script (the original's)."""
  original_gt_folder: str = options.flag('./VOCdevkit/VOC2012/SegmentationClass',
                                         'Folder of palette ground truth annotations.')
  segmentation_format: str = options.flag('png', 'Segmentation format.')
  output_dir: str = options.flag('./VOCdevkit/VOC2012/SegmentationClassRaw',
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


def build(opts):
  """Runs remove_gt_colormap on the folders of a BuildOptions; returns the number converted."""
  return remove_gt_colormap(opts.original_gt_folder, opts.output_dir, opts.segmentation_format)


def run():
  """Console-script entry point: parses the flags and runs build."""
  build_cli.run(BuildOptions, build)


if __name__ == '__main__':
  run()
