"""Colormaps of the DeepLab datasets and `label_to_color_image` (original names and errors).

PASCAL uses the VOC bit-interleaving palette (256 entries); Cityscapes its 19 train-id colours;
ADE20K the 151-entry palette of the ADE20K scene parsing toolkit; Mapillary Vistas the 66 colours
of its v1.2 benchmark labels.
"""
import numpy as np

_ADE20K = 'ade20k'
_CITYSCAPES = 'cityscapes'
_MAPILLARY_VISTAS = 'mapillary_vistas'
_PASCAL = 'pascal'

_DATASET_MAX_ENTRIES = {_ADE20K: 151, _CITYSCAPES: 256, _MAPILLARY_VISTAS: 66, _PASCAL: 512}

_CITYSCAPES_COLORS = [
    [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153],
    [153, 153, 153], [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152],
    [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100],
    [0, 80, 100], [0, 0, 230], [119, 11, 32]]

_ADE20K_COLORS = [
    [0, 0, 0], [120, 120, 120], [180, 120, 120], [6, 230, 230], [80, 50, 50], [4, 200, 3],
    [120, 120, 80], [140, 140, 140], [204, 5, 255], [230, 230, 230], [4, 250, 7], [224, 5, 255],
    [235, 255, 7], [150, 5, 61], [120, 120, 70], [8, 255, 51], [255, 6, 82], [143, 255, 140],
    [204, 255, 4], [255, 51, 7], [204, 70, 3], [0, 102, 200], [61, 230, 250], [255, 6, 51],
    [11, 102, 255], [255, 7, 71], [255, 9, 224], [9, 7, 230], [220, 220, 220], [255, 9, 92],
    [112, 9, 255], [8, 255, 214], [7, 255, 224], [255, 184, 6], [10, 255, 71], [255, 41, 10],
    [7, 255, 255], [224, 255, 8], [102, 8, 255], [255, 61, 6], [255, 194, 7], [255, 122, 8],
    [0, 255, 20], [255, 8, 41], [255, 5, 153], [6, 51, 255], [235, 12, 255], [160, 150, 20],
    [0, 163, 255], [140, 140, 140], [250, 10, 15], [20, 255, 0], [31, 255, 0], [255, 31, 0],
    [255, 224, 0], [153, 255, 0], [0, 0, 255], [255, 71, 0], [0, 235, 255], [0, 173, 255],
    [31, 0, 255], [11, 200, 200], [255, 82, 0], [0, 255, 245], [0, 61, 255], [0, 255, 112],
    [0, 255, 133], [255, 0, 0], [255, 163, 0], [255, 102, 0], [194, 255, 0], [0, 143, 255],
    [51, 255, 0], [0, 82, 255], [0, 255, 41], [0, 255, 173], [10, 0, 255], [173, 255, 0],
    [0, 255, 153], [255, 92, 0], [255, 0, 255], [255, 0, 245], [255, 0, 102], [255, 173, 0],
    [255, 0, 20], [255, 184, 184], [0, 31, 255], [0, 255, 61], [0, 71, 255], [255, 0, 204],
    [0, 255, 194], [0, 255, 82], [0, 10, 255], [0, 112, 255], [51, 0, 255], [0, 194, 255],
    [0, 122, 255], [0, 255, 163], [255, 153, 0], [0, 255, 10], [255, 112, 0], [143, 255, 0],
    [82, 0, 255], [163, 255, 0], [255, 235, 0], [8, 184, 170], [133, 0, 255], [0, 255, 92],
    [184, 0, 255], [255, 0, 31], [0, 184, 255], [0, 214, 255], [255, 0, 112], [92, 255, 0],
    [0, 224, 255], [112, 224, 255], [70, 184, 160], [163, 0, 255], [153, 0, 255], [71, 255, 0],
    [255, 0, 163], [255, 204, 0], [255, 0, 143], [0, 255, 235], [133, 255, 0], [255, 0, 235],
    [245, 0, 255], [255, 0, 122], [255, 245, 0], [10, 190, 212], [214, 255, 0], [0, 204, 255],
    [20, 0, 255], [255, 255, 0], [0, 153, 255], [0, 41, 255], [0, 255, 204], [41, 0, 255],
    [41, 255, 0], [173, 0, 255], [0, 245, 255], [71, 0, 255], [122, 0, 255], [0, 255, 184],
    [0, 92, 255], [184, 255, 0], [0, 133, 255], [255, 214, 0], [25, 194, 194], [102, 255, 0],
    [92, 0, 255]]

# Mapillary Vistas label ids 0..65 (bird, ground animal, curb, fence, ..., ego vehicle, unlabeled).
_MAPILLARY_VISTAS_COLORS = [
    [165, 42, 42], [0, 192, 0], [196, 196, 196], [190, 153, 153], [180, 165, 180],
    [102, 102, 156], [102, 102, 156], [128, 64, 255], [140, 140, 200], [170, 170, 170],
    [250, 170, 160], [96, 96, 96], [230, 150, 140], [128, 64, 128], [110, 110, 110],
    [244, 35, 232], [150, 100, 100], [70, 70, 70], [150, 120, 90], [220, 20, 60], [255, 0, 0],
    [255, 0, 0], [255, 0, 0], [200, 128, 128], [255, 255, 255], [64, 170, 64], [128, 64, 64],
    [70, 130, 180], [255, 255, 255], [152, 251, 152], [107, 142, 35], [0, 170, 30],
    [255, 255, 128], [250, 0, 30], [0, 0, 0], [220, 220, 220], [170, 170, 170], [222, 40, 40],
    [100, 170, 30], [40, 40, 40], [33, 33, 33], [170, 170, 170], [0, 0, 142], [170, 170, 170],
    [210, 170, 100], [153, 153, 153], [128, 128, 128], [0, 0, 142], [250, 170, 30],
    [192, 192, 192], [220, 220, 0], [180, 165, 180], [119, 11, 32], [0, 0, 142], [0, 60, 100],
    [0, 0, 142], [0, 0, 90], [0, 0, 230], [0, 80, 100], [128, 64, 64], [0, 0, 110], [0, 0, 70],
    [0, 0, 192], [32, 32, 32], [0, 0, 0], [0, 0, 0]]


def get_ade20k_name():
  return _ADE20K


def get_cityscapes_name():
  return _CITYSCAPES


def get_mapillary_vistas_name():
  return _MAPILLARY_VISTAS


def get_pascal_name():
  return _PASCAL


def bit_get(val, idx):
  """Gets the bit value at position `idx` of `val`."""
  return (val >> idx) & 1


def create_pascal_label_colormap():
  """The PASCAL VOC palette: label bits interleaved into the high bits of R, G and B."""
  colormap = np.zeros((_DATASET_MAX_ENTRIES[_PASCAL], 3), dtype=int)
  ind = np.arange(_DATASET_MAX_ENTRIES[_PASCAL], dtype=int)
  for shift in reversed(range(8)):
    for channel in range(3):
      colormap[:, channel] |= bit_get(ind, channel) << shift
    ind >>= 3
  return colormap


def create_cityscapes_label_colormap():
  """Cityscapes train-id colours, padded with zeros to 256 entries."""
  colormap = np.zeros((256, 3), dtype=np.uint8)
  colormap[:len(_CITYSCAPES_COLORS)] = _CITYSCAPES_COLORS
  return colormap


def create_ade20k_label_colormap():
  """ADE20K colours (151 entries: 0 is 'other')."""
  return np.asarray(_ADE20K_COLORS)


def create_mapillary_vistas_label_colormap():
  """Mapillary Vistas colours (66 entries)."""
  return np.asarray(_MAPILLARY_VISTAS_COLORS)


def get_dataset_colormap_max_entries(dataset):
  """The number of colormap entries of `dataset` (labels must be below it)."""
  return _DATASET_MAX_ENTRIES[dataset]


def create_label_colormap(dataset=_PASCAL):
  """Returns the colormap of `dataset` (pascal, cityscapes, ade20k or mapillary_vistas).

  Raises:
    ValueError: for an unsupported dataset.
  """
  builders = {_ADE20K: create_ade20k_label_colormap,
              _CITYSCAPES: create_cityscapes_label_colormap,
              _MAPILLARY_VISTAS: create_mapillary_vistas_label_colormap,
              _PASCAL: create_pascal_label_colormap}
  if dataset not in builders:
    raise ValueError('Unsupported dataset.')
  return builders[dataset]()


def label_to_color_image(label, dataset=_PASCAL):
  """Maps a 2-D label array to an RGB image with the dataset's colormap.

  Raises:
    ValueError: if label is not 2-D or holds a value beyond the colormap.
  """
  label = np.asarray(label)
  if label.ndim != 2:
    raise ValueError('Expect 2-D input label. Got {}'.format(label.shape))
  if np.max(label) >= _DATASET_MAX_ENTRIES.get(dataset, 0) and dataset in _DATASET_MAX_ENTRIES:
    raise ValueError('label value too large.')
  colormap = create_label_colormap(dataset)
  return colormap[label]
