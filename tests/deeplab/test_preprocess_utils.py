"""deeplab.core.preprocess_utils as the original: unknown shapes (even rank) at graph time,
run-time checks with the original messages.

The messages are pinned as the original strings (tests of users' code match on them).
"""
import numpy as np
import pytest

import slim  # noqa: F401
import tensorflow as tf

from deeplab.core import preprocess_utils

tf1 = tf.compat.v1
_IMAGE = np.dstack([[[5, 6], [9, 0]], [[4, 3], [3, 5]]])  # [2, 2, 2]
_PADDED = np.dstack([[[255] * 5, [255] * 5, [255, 5, 6, 255, 255], [255, 9, 0, 255, 255],
                      [255] * 5],
                     [[255] * 5, [255] * 5, [255, 4, 3, 255, 255], [255, 3, 5, 255, 255],
                      [255] * 5]])


def _run(tensor, feed=None):
  with tf1.Session() as sess:
    return sess.run(tensor, feed)


@pytest.mark.parametrize('dtype', [np.uint8, np.int32, np.int64, np.float32, np.float64])
def testPadToBoundingBox_NonZeroPadValue3DAnd4D(dtype):
  image = _IMAGE.astype(dtype)
  padded = preprocess_utils.pad_to_bounding_box(image, 2, 1, 5, 5, 255)
  batch = preprocess_utils.pad_to_bounding_box(image[None], 2, 1, 5, 5, 255)
  assert padded.dtype == tf.as_dtype(dtype) and padded.shape.as_list() == [5, 5, 2]
  assert batch.shape.as_list() == [1, 5, 5, 2]
  np.testing.assert_array_equal(_run(padded), _PADDED.astype(dtype))
  np.testing.assert_array_equal(_run(batch), _PADDED[None].astype(dtype))


@pytest.mark.parametrize('image', [_IMAGE, _IMAGE[None]], ids=['rank3', 'rank4'])
def testPadToBoundingBox_UnknownRankPlaceholder(image):
  placeholder = tf1.placeholder(tf.float32)  # no shape, not even a rank
  padded = preprocess_utils.pad_to_bounding_box(placeholder, 2, 1, 5, 5, 255)
  out = _run(padded, {placeholder: image})
  expected = _PADDED if image.ndim == 3 else _PADDED[None]
  np.testing.assert_array_equal(out, expected.astype(np.float32))


@pytest.mark.parametrize('target,message', [
    ((2, 1), 'target_width must be >= width'),
    ((1, 2), 'target_height must be >= height'),
])
def testPadToBoundingBox_TargetSmallerThanImage(target, message):
  placeholder = tf1.placeholder(tf.float32)
  padded = preprocess_utils.pad_to_bounding_box(placeholder, 0, 0, target[0], target[1], 255)
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    _run(padded, {placeholder: _IMAGE})


def testPadToBoundingBox_OffsetTooLarge():
  placeholder = tf1.placeholder(tf.float32)
  padded = preprocess_utils.pad_to_bounding_box(placeholder, 3, 0, 4, 4, 255)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='target size not possible with the given target offsets'):
    _run(padded, {placeholder: _IMAGE})


def testPadToBoundingBox_WrongRankAtRunTimeAndAtGraphTime():
  placeholder = tf1.placeholder(tf.float32)
  padded = preprocess_utils.pad_to_bounding_box(placeholder, 0, 0, 2, 2, 255)
  with pytest.raises(tf.errors.InvalidArgumentError, match='Wrong image tensor rank'):
    _run(padded, {placeholder: np.array([[5., 6.], [9., 0.]])})
  with pytest.raises(ValueError, match='Input image must have either 3 or 4 dimensions.'):
    preprocess_utils.pad_to_bounding_box(tf.zeros([2, 2]), 0, 0, 2, 2, 255)


def testRandomCrop_UnknownShapesCropConsistently():
  tf1.set_random_seed(0)
  labels = np.arange(200).reshape([10, 20, 1])
  image = np.tile(labels, (1, 1, 3))
  image_ph = tf1.placeholder(tf.int32)  # unknown rank
  label_ph = tf1.placeholder(tf.int32, shape=(None, None, 1))
  cropped_image, cropped_label = preprocess_utils.random_crop([image_ph, label_ph], 2, 3)
  assert cropped_image.shape.as_list() == [2, 3, None]
  assert cropped_label.shape.as_list() == [2, 3, 1]
  with tf1.Session() as sess:
    crops = [sess.run([cropped_image, cropped_label], {image_ph: image, label_ph: labels})
             for _ in range(5)]
  for img, lab in crops:
    for channel in range(3):
      np.testing.assert_array_equal(img[:, :, channel], lab[:, :, 0])
    row, col = divmod(int(lab[0, 0, 0]), 20)
    np.testing.assert_array_equal(lab, labels[row:row + 2, col:col + 3])
  assert len({int(lab[0, 0, 0]) for _, lab in crops}) > 1


@pytest.mark.parametrize('shapes,message', [
    (((4, 5, 3), (3, 5, 1)), 'Wrong height for tensor'),
    (((4, 5, 3), (4, 6, 1)), 'Wrong width for tensor'),
    (((4, 5, 3), (4, 5)), 'Wrong rank for tensor'),
])
def testRandomCrop_MismatchedImagesFailWithOriginalMessage(shapes, message):
  first = tf1.placeholder(tf.float32, name='image1', shape=(None, None, 3))
  second = tf1.placeholder(tf.float32, name='image2')
  cropped = preprocess_utils.random_crop([first, second], 2, 3)
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    _run(cropped, {first: np.zeros(shapes[0]), second: np.zeros(shapes[1])})


def testRandomCrop_CropLargerThanImage():
  image = tf1.placeholder(tf.float32, shape=(None, None, 3))
  cropped = preprocess_utils.random_crop([image], 5, 9)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='Crop size greater than the image size.'):
    _run(cropped, {image: np.zeros([4, 5, 3])})


def testRandomCrop_GraphTimeErrors():
  with pytest.raises(ValueError, match='^Empty image_list.$'):
    preprocess_utils.random_crop([], 2, 2)
  with pytest.raises(ValueError, match='^input must have rank of 3$'):
    preprocess_utils.random_crop([tf.zeros([1, 4, 4, 3])], 2, 2)


def testFlipDim_InvalidDimAndConsistentFlip():
  with pytest.raises(ValueError, match='^dim must represent a valid dimension.$'):
    preprocess_utils.flip_dim([tf.zeros([2, 2, 1])], dim=3)
  image = tf.constant(_IMAGE.astype(np.float32))
  label = tf.constant(_IMAGE[:, :, :1].astype(np.float32))
  flipped_image, flipped_label, is_flipped = preprocess_utils.flip_dim([image, label], prob=1)
  out_image, out_label, flipped = _run([flipped_image, flipped_label, is_flipped])
  np.testing.assert_array_equal(out_image, _IMAGE[:, ::-1])
  np.testing.assert_array_equal(out_label, _IMAGE[:, ::-1, :1])
  assert flipped


def testGetRandomScale_OriginalMessage():
  with pytest.raises(ValueError, match='^Unexpected value of min_scale_factor.'):
    preprocess_utils.get_random_scale(-0.5, 1.0, 0)


def testGetLabelResizeMethod_ByDtype():
  assert (preprocess_utils.get_label_resize_method(tf.zeros([2, 2, 1], tf.int32))
          == tf1.image.ResizeMethod.NEAREST_NEIGHBOR)
  assert (preprocess_utils.get_label_resize_method(tf.zeros([2, 2, 1]))
          == tf1.image.ResizeMethod.BILINEAR)
  with pytest.raises(ValueError, match='Label type must be either floating or integer.'):
    preprocess_utils.get_label_resize_method(tf.zeros([2, 2, 1], tf.bool))
