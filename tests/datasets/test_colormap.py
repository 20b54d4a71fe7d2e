"""Tests for deeplab.utils.get_dataset_colormap and save_annotation."""
import numpy as np
import pytest
from PIL import Image

from deeplab.utils import get_dataset_colormap as colormap
from deeplab.utils import save_annotation


def testPascalColormap_KnownEntries():
  cmap = colormap.create_pascal_label_colormap()
  # The published VOC2012 class colours (aeroplane, bicycle, bird, boat, bottle, person, plant).
  expected = {1: [128, 0, 0], 2: [0, 128, 0], 3: [128, 128, 0], 4: [0, 0, 128], 5: [128, 0, 128],
              15: [192, 128, 128], 16: [0, 64, 0]}
  for index, rgb in expected.items():
    np.testing.assert_array_equal(cmap[index], rgb)


def testLabelToColorImage_Pascal():
  label = np.array([[0, 16, 16], [52, 7, 52]])
  expected = np.array([[[0, 0, 0], [0, 64, 0], [0, 64, 0]],
                       [[0, 64, 192], [128, 128, 128], [0, 64, 192]]])
  np.testing.assert_array_equal(colormap.label_to_color_image(label), expected)


def testLabelToColorImage_Errors():
  with pytest.raises(ValueError, match='label value too large'):
    colormap.label_to_color_image(np.array([[600]]))
  with pytest.raises(ValueError, match='Expect 2-D input label'):
    colormap.label_to_color_image(np.array([1, 2]))
  with pytest.raises(ValueError, match='Unsupported dataset'):
    colormap.create_label_colormap('unknown')


def testAde20kAndCityscapesColormaps():
  ade = colormap.create_ade20k_label_colormap()
  assert ade.shape == (151, 3)
  np.testing.assert_array_equal(ade[:3], [[0, 0, 0], [120, 120, 120], [180, 120, 120]])
  city = colormap.create_cityscapes_label_colormap()
  np.testing.assert_array_equal(city[0], [128, 64, 128])
  np.testing.assert_array_equal(city[18], [119, 11, 32])


def testSaveAnnotation_WritesColourisedPng(tmp_path):
  save_annotation.save_annotation(np.array([[0, 1], [2, 1]]), str(tmp_path / 'out'), 'pred')
  image = np.asarray(Image.open(tmp_path / 'out' / 'pred.png'))
  np.testing.assert_array_equal(image[0, 1], [128, 0, 0])
  np.testing.assert_array_equal(image[1, 0], [0, 128, 0])
