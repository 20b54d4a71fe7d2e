"""Image/label preprocessing ops (TF1 graph ops, original DeepLab semantics)."""
import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

tf1 = tf.compat.v1


def flip_dim(tensor_list, prob=0.5, dim=1):
  """Randomly flips every tensor in `tensor_list` along `dim`, all with the same coin.

  Args:
    tensor_list: tensors of equal size along `dim`.
    prob: probability of flipping.
    dim: dimension to flip (1 = width for [H, W, C] tensors).

  Returns:
    The (possibly) flipped tensors followed by the boolean `is_flipped` tensor.
  """
  random_value = tf1.random_uniform([])

  def flip():
    return [tf.reverse(t, [dim]) for t in tensor_list]

  is_flipped = tf.less_equal(random_value, prob)
  outputs = tf1.cond(is_flipped, flip, lambda: list(tensor_list))
  if not isinstance(outputs, (list, tuple)):
    outputs = [outputs]
  outputs = list(outputs)
  for out, t in zip(outputs, tensor_list):
    out.set_shape(t.get_shape())
  outputs.append(is_flipped)
  return outputs


def resolve_shape(tensor, rank=None):
  """Returns the shape as a list, static dims as ints and unknown dims as scalar tensors."""
  if rank is not None:
    shape = tensor.get_shape().with_rank(rank).as_list()
  else:
    shape = tensor.get_shape().as_list()
  if None in shape:
    dynamic = tf.shape(tensor)
    shape = [dynamic[i] if s is None else s for i, s in enumerate(shape)]
  return shape


def pad_to_bounding_box(image, offset_height, offset_width, target_height, target_width,
                        pad_value):
  """Pads a [H, W, C] (or [N, H, W, C]) image to the target size with `pad_value`.

  `pad_value` may be a scalar or one value per channel. Padding a constant-shifted image with
  zeros and shifting back gives padding with any value, as in the original.

  Raises (at run time): InvalidArgumentError if the target is smaller than image + offset.
  """
  image = tf.convert_to_tensor(image)
  original_dtype = image.dtype
  if original_dtype not in (tf.float32, tf.float64):
    image = tf.cast(image, tf.int32)
  pad_value = tf.cast(pad_value, image.dtype)
  image -= pad_value
  squeeze = False
  if image.get_shape().ndims == 3:
    image = tf.expand_dims(image, 0)
    squeeze = True
  elif image.get_shape().ndims != 4:
    raise ValueError('pad_to_bounding_box expects a 3-D or 4-D image, got shape %s'
                     % image.get_shape())
  shape = tf.shape(image)
  height, width = shape[1], shape[2]
  after_h = target_height - offset_height - height
  after_w = target_width - offset_width - width
  checks = [
      tf1.assert_greater_equal(after_h, 0, message='target_height must be >= image height'),
      tf1.assert_greater_equal(after_w, 0, message='target_width must be >= image width'),
  ]
  with tf.control_dependencies(checks):
    paddings = tf.stack([[0, 0], [offset_height, after_h], [offset_width, after_w], [0, 0]])
  padded = tf.pad(image, paddings)
  if squeeze:
    padded = tf.squeeze(padded, [0])
  padded += pad_value
  if original_dtype not in (tf.float32, tf.float64):
    padded = tf.cast(padded, original_dtype)
  return padded


def _crop(image, offset_height, offset_width, crop_height, crop_width):
  original_shape = tf.shape(image)
  checks = [tf1.assert_equal(tf.rank(image), 3, message='crop expects a rank-3 image')]
  with tf.control_dependencies(checks):
    cropped = tf.slice(image, tf.stack([offset_height, offset_width, 0]),
                       tf.stack([crop_height, crop_width, original_shape[2]]))
  return cropped


def random_crop(image_list, crop_height, crop_width):
  """Crops every [H, W, C] tensor in `image_list` at the same random offset.

  Raises (at run time): InvalidArgumentError if an image is smaller than the crop or the images
  differ in height/width.
  """
  if not image_list:
    raise ValueError('random_crop needs at least one image')
  shapes = [tf.shape(image) for image in image_list]
  height, width = shapes[0][0], shapes[0][1]
  checks = [tf1.assert_greater_equal(height, crop_height, message='image smaller than crop'),
            tf1.assert_greater_equal(width, crop_width, message='image smaller than crop')]
  for shape in shapes[1:]:
    checks.append(tf1.assert_equal(shape[0], height, message='images differ in height'))
    checks.append(tf1.assert_equal(shape[1], width, message='images differ in width'))
  with tf.control_dependencies(checks):
    max_offset_height = tf.reshape(height - crop_height + 1, [])
    max_offset_width = tf.reshape(width - crop_width + 1, [])
  offset_height = tf1.random_uniform([], maxval=max_offset_height, dtype=tf.int32)
  offset_width = tf1.random_uniform([], maxval=max_offset_width, dtype=tf.int32)
  return [_crop(image, offset_height, offset_width, crop_height, crop_width)
          for image in image_list]


def get_random_scale(min_scale_factor, max_scale_factor, step_size):
  """Returns a random scale: uniform if step_size is 0, else from linspace(min, max, n)."""
  if min_scale_factor < 0 or min_scale_factor > max_scale_factor:
    raise ValueError('Unexpected value of min_scale_factor %r (max %r)'
                     % (min_scale_factor, max_scale_factor))
  if min_scale_factor == max_scale_factor:
    return tf.cast(min_scale_factor, tf.float32)
  if step_size == 0:
    return tf1.random_uniform([1], minval=min_scale_factor, maxval=max_scale_factor)
  num_steps = int((max_scale_factor - min_scale_factor) / step_size + 1)
  scale_factors = tf1.lin_space(float(min_scale_factor), float(max_scale_factor), num_steps)
  shuffled = tf1.random_shuffle(scale_factors)
  return shuffled[0]


def randomly_scale_image_and_label(image, label=None, scale=1.0):
  """Resizes the image (bilinear) and label (nearest) by `scale`, with align_corners."""
  if scale == 1.0:
    return image, label
  image_shape = tf.shape(image)
  new_dim = tf.cast(tf.cast([image_shape[0], image_shape[1]], tf.float32) * scale, tf.int32)
  image = tf.squeeze(tf1.image.resize_bilinear(tf.expand_dims(image, 0), new_dim,
                                               align_corners=True), [0])
  if label is not None:
    label = tf.squeeze(tf1.image.resize_nearest_neighbor(tf.expand_dims(label, 0), new_dim,
                                                         align_corners=True), [0])
  return image, label


def resize_to_range(image, label=None, min_size=None, max_size=None, factor=None,
                    keep_aspect_ratio=True, align_corners=True, label_layout_is_chw=False,
                    scope=None, method=tf1.image.ResizeMethod.BILINEAR):
  """Resizes so the short side is `min_size` unless the long side would exceed `max_size`.

  With `factor`, each side becomes k * factor + 1 (max_size is first reduced to that form).
  keep_aspect_ratio=False gives a square of the larger side.

  Returns:
    [resized_image] or [resized_image, resized_label].
  """
  with tf1.name_scope(scope, 'resize_to_range', [image]):
    new_tensor_list = []
    min_size = tf.cast(min_size, tf.float32)
    if max_size is not None:
      max_size = tf.cast(max_size, tf.float32)
      if factor is not None:
        max_size = (max_size - (max_size - 1) % factor)
    [orig_height, orig_width, _] = resolve_shape(image, rank=3)
    orig_height = tf.cast(orig_height, tf.float32)
    orig_width = tf.cast(orig_width, tf.float32)
    orig_min_size = tf.minimum(orig_height, orig_width)
    large_scale_factor = min_size / orig_min_size
    large_height = tf.cast(tf.floor(orig_height * large_scale_factor), tf.int32)
    large_width = tf.cast(tf.floor(orig_width * large_scale_factor), tf.int32)
    large_size = tf.stack([large_height, large_width])
    new_size = large_size
    if max_size is not None:
      orig_max_size = tf.maximum(orig_height, orig_width)
      small_scale_factor = max_size / orig_max_size
      small_height = tf.cast(tf.floor(orig_height * small_scale_factor), tf.int32)
      small_width = tf.cast(tf.floor(orig_width * small_scale_factor), tf.int32)
      small_size = tf.stack([small_height, small_width])
      new_size = tf1.cond(
          tf.cast(tf.reduce_max(large_size), tf.float32) > max_size,
          lambda: small_size, lambda: large_size)
    if factor is not None:
      new_size += (factor - (new_size - 1) % factor) % factor
    if not keep_aspect_ratio:
      new_size = tf.stack([tf.reduce_max(new_size), tf.reduce_max(new_size)])
    new_tensor_list.append(tf1.image.resize_images(image, new_size, method=method,
                                                   align_corners=align_corners))
    if label is not None:
      if label_layout_is_chw:
        resized_label = tf.expand_dims(label, 3)
        resized_label = tf1.image.resize_nearest_neighbor(resized_label, new_size,
                                                          align_corners=align_corners)
        resized_label = tf.squeeze(resized_label, 3)
      else:
        resized_label = tf1.image.resize_images(
            label, new_size, method=tf1.image.ResizeMethod.NEAREST_NEIGHBOR,
            align_corners=align_corners)
      new_tensor_list.append(resized_label)
    return new_tensor_list
