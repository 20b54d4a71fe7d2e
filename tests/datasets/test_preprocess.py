"""Properties of deeplab.input_preprocess / core.preprocess_utils."""
import numpy as np
import pytest

import slim  # noqa: F401
import tensorflow as tf

from deeplab import input_preprocess
from deeplab.core import preprocess_utils

_CROP = 33


def _image_matching_label(rng, height, width):
  """An image whose every channel equals the label, so misaligned crops/flips are visible."""
  label = rng.integers(0, 6, (height, width, 1)).astype(np.uint8)
  image = np.repeat(label, 3, axis=2)
  return image, label


def testTraining_CropShapeAndImageLabelStayAligned():
  rng = np.random.default_rng(0)
  image, label = _image_matching_label(rng, 40, 50)
  _, out_image, out_label = input_preprocess.preprocess_image_and_label(
      tf.constant(image), tf.constant(label), _CROP, _CROP, min_scale_factor=0.5,
      max_scale_factor=2.0, scale_factor_step_size=0.25, is_training=True,
      model_variant='mobilenet_v2')
  assert out_image.get_shape().as_list() == [_CROP, _CROP, 3]
  assert out_label.get_shape().as_list() == [_CROP, _CROP, 1]
  with tf.compat.v1.Session() as sess:
    for _ in range(10):
      img, lab = sess.run([out_image, out_label])
      valid = lab[..., 0] != 255
      # Source labels are 0..5, so 255 marks padding, where the image holds the mean pixel.
      assert img.shape == (_CROP, _CROP, 3) and lab.dtype == np.int32
      assert set(np.unique(lab)) <= set(range(6)) | {255}
      assert np.all(img[..., 0][~valid] == 127.5)


def testTraining_FlipIsAppliedToImageAndLabelTogether():
  rng = np.random.default_rng(1)
  image, label = _image_matching_label(rng, _CROP, _CROP)
  _, out_image, out_label = input_preprocess.preprocess_image_and_label(
      tf.constant(image), tf.constant(label), _CROP, _CROP, is_training=True)
  flipped = 0
  with tf.compat.v1.Session() as sess:
    for _ in range(20):
      img, lab = sess.run([out_image, out_label])
      np.testing.assert_array_equal(img[..., 0], lab[..., 0].astype(np.float32))
      flipped += int(np.array_equal(lab, label[:, ::-1]) and not np.array_equal(lab, label))
  assert 0 < flipped < 20


def testEval_PadsImageWithMeanPixelAndLabelWithIgnore():
  rng = np.random.default_rng(2)
  image, label = _image_matching_label(rng, 20, 25)
  original, out_image, out_label = input_preprocess.preprocess_image_and_label(
      tf.constant(image), tf.constant(label), _CROP, _CROP, ignore_label=255,
      is_training=False, model_variant=None)
  with tf.compat.v1.Session() as sess:
    orig, img, lab = sess.run([original, out_image, out_label])
  np.testing.assert_array_equal(orig, image)
  np.testing.assert_array_equal(img[:20, :25], image.astype(np.float32))
  np.testing.assert_array_equal(lab[:20, :25], label.astype(np.int32))
  assert np.all(lab[20:] == 255) and np.all(lab[:, 25:] == 255)
  np.testing.assert_allclose(img[25, 30], [123.15, 115.90, 103.06], rtol=1e-5)


def testGetRandomScale_StepSizeGivesGridValues():
  scale = preprocess_utils.get_random_scale(0.5, 2.0, 0.25)
  with tf.compat.v1.Session() as sess:
    values = {round(float(sess.run(scale)), 4) for _ in range(40)}
  assert values <= {0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0} and len(values) > 1


def testGetRandomScale_MinAboveMaxRaises():
  with pytest.raises(ValueError, match='min_scale_factor'):
    preprocess_utils.get_random_scale(2.0, 1.0, 0)


def testResizeToRange_MinSideThenMaxBoundWithFactor():
  image = tf.zeros([50, 100, 3])
  small = preprocess_utils.resize_to_range(image, min_size=40, max_size=None)[0]
  bounded = preprocess_utils.resize_to_range(image, min_size=40, max_size=65)[0]
  factored = preprocess_utils.resize_to_range(image, min_size=40, max_size=66, factor=8)[0]
  with tf.compat.v1.Session() as sess:
    shapes = [sess.run(tf.shape(t)).tolist() for t in (small, bounded, factored)]
  assert shapes == [[40, 80, 3], [32, 65, 3], [33, 65, 3]]


def testTraining_WithoutLabelRaises():
  with pytest.raises(ValueError, match='label must be provided'):
    input_preprocess.preprocess_image_and_label(tf.zeros([5, 5, 3]), None, 5, 5)
