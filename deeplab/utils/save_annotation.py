"""Saves a label map or an image as PNG (atomically), optionally colourised."""
import io
import os

import numpy as np
from PIL import Image

from deeplab.utils import get_dataset_colormap
from slim import fileio


def save_annotation(label, save_dir, filename, add_colormap=True, normalize_to_unit_values=False,
                    scale_values=False, colormap_type=get_dataset_colormap.get_pascal_name()):
  """Writes `<save_dir>/<filename>.png`.

  Args:
    label: [h, w] label map or [h, w, 3] image.
    save_dir: output folder (created if missing).
    filename: file name without extension.
    add_colormap: colourise a label map with the dataset colormap.
    normalize_to_unit_values: rescale values to [0, 1] first.
    scale_values: multiply values by 255 first.
    colormap_type: pascal, cityscapes or ade20k.
  """
  label = np.asarray(label)
  if add_colormap:
    colored = get_dataset_colormap.label_to_color_image(label, colormap_type)
  else:
    colored = label
    if normalize_to_unit_values:
      low, high = np.amin(colored), np.amax(colored)
      colored = (colored - low) / max(high - low, 1e-12)
    if scale_values:
      colored = 255. * colored
  buf = io.BytesIO()
  Image.fromarray(colored.astype(np.uint8)).save(buf, format='PNG')
  fileio.atomic_write_bytes(os.path.join(save_dir, filename + '.png'), buf.getvalue())
