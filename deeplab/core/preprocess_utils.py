"""Image/label preprocessing ops (TF1 graph ops, original DeepLab semantics)."""
import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

tf1 = tf.compat.v1


# Run-time error messages (the original's: users and the original tests match on them).
WRONG_IMAGE_RANK = 'Wrong image tensor rank.'
TARGET_WIDTH_TOO_SMALL = 'target_width must be >= width'
TARGET_HEIGHT_TOO_SMALL = 'target_height must be >= height'
OFFSETS_TOO_LARGE = 'target size not possible with the given target offsets'
CROP_RANK = 'Rank of image must be equal to 3.'
CROP_TOO_LARGE = 'Crop size greater than the image size.'
WRONG_RANK = 'Wrong rank for tensor  %s [expected] [actual]'
WRONG_HEIGHT = 'Wrong height for tensor %s [expected][actual]'
WRONG_WIDTH = 'Wrong width for tensor %s [expected][actual]'


def flip_dim(tensor_list, prob=0.5, dim=1):
  """Randomly flips every tensor in `tensor_list` along `dim`, all with the same coin.

  Args:
    tensor_list: tensors of equal size along `dim`.
    prob: probability of flipping.
    dim: dimension to flip (1 = width for [H, W, C] tensors).

  Returns:
    The (possibly) flipped tensors followed by the boolean `is_flipped` tensor.

  Raises:
    ValueError: if `dim` is negative or not below the rank of a tensor of known rank.
  """
  for tensor in tensor_list:
    rank = tensor.get_shape().ndims
    if dim < 0 or (rank is not None and dim >= rank):
      raise ValueError('dim must represent a valid dimension.')
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


def resolve_shape(tensor, rank=None, scope=None):
  """Returns the shape as a list, static dims as ints and unknown dims as scalar tensors.

  Args:
    tensor: the tensor.
    rank: its rank if known (checked against the static shape).
    scope: optional name scope.
  """
  with tf1.name_scope(scope, 'resolve_shape', [tensor]):
    if rank is not None:
      shape = tensor.get_shape().with_rank(rank).as_list()
    else:
      shape = tensor.get_shape().as_list()
    if None in shape:
      dynamic = tf.shape(tensor)
      shape = [dynamic[i] if s is None else s for i, s in enumerate(shape)]
    return shape


def get_label_resize_method(label):
  """Bilinear for a floating label, nearest neighbour for an integer one.

  Raises:
    ValueError: if the label is neither floating nor integer.
  """
  if label.dtype.is_floating:
    return tf1.image.ResizeMethod.BILINEAR
  if label.dtype.is_integer:
    return tf1.image.ResizeMethod.NEAREST_NEIGHBOR
  raise ValueError('Label type must be either floating or integer.')


def pad_to_bounding_box(image, offset_height, offset_width, target_height, target_width,
                        pad_value):
  """Pads a [H, W, C] or [N, H, W, C] image to the target size with `pad_value`.

  Like tf.image.pad_to_bounding_box, but with any pad value (a scalar or one per channel) and
  for images whose shape, even whose rank, is unknown while the graph is built: the rank and
  the sizes are checked when the graph runs, with the original messages.

  Args:
    image: the image tensor (rank 3 or 4; may be unknown until run time).
    offset_height: rows of padding on top.
    offset_width: columns of padding on the left.
    target_height: height of the output.
    target_width: width of the output.
    pad_value: the value of the padded pixels.

  Returns:
    The padded image, of the input's rank and dtype.

  Raises:
    ValueError: if the image's rank is known and neither 3 nor 4.
    InvalidArgumentError (at run time): 'Wrong image tensor rank.', 'target_width must be >=
      width', 'target_height must be >= height', 'target size not possible with the given
      target offsets'.
  """
  with tf1.name_scope(None, 'pad_to_bounding_box', [image]):
    image = tf.convert_to_tensor(image, name='image')
    original_dtype = image.dtype
    if original_dtype not in (tf.float32, tf.float64):
      # Integer images are shifted by pad_value below: int32 avoids wrapping around.
      image = tf.cast(image, tf.int32)
    static_rank = image.get_shape().ndims
    if static_rank not in (None, 3, 4):
      raise ValueError('Input image must have either 3 or 4 dimensions.')
    rank = tf.rank(image)
    rank_check = tf1.Assert(tf.logical_or(tf.equal(rank, 3), tf.equal(rank, 4)),
                            [WRONG_IMAGE_RANK])
    with tf.control_dependencies([rank_check]):
      shape = tf.shape(image)
      # One layout for both ranks: [batch (1 for a 3-D image), height, width, channels].
      batched = tf.reshape(image - tf.cast(pad_value, image.dtype),
                           tf.concat([[-1], shape[-3:]], 0))
    height, width = shape[-3], shape[-2]
    width_check = tf1.Assert(tf.greater_equal(target_width, width), [TARGET_WIDTH_TOO_SMALL])
    height_check = tf1.Assert(tf.greater_equal(target_height, height),
                              [TARGET_HEIGHT_TOO_SMALL])
    with tf.control_dependencies([width_check]):
      after_padding_width = target_width - offset_width - width
    with tf.control_dependencies([height_check]):
      after_padding_height = target_height - offset_height - height
    offset_check = tf1.Assert(
        tf.logical_and(tf.greater_equal(after_padding_width, 0),
                       tf.greater_equal(after_padding_height, 0)), [OFFSETS_TOO_LARGE])
    with tf.control_dependencies([offset_check]):
      paddings = tf.stack([[0, 0], tf.stack([offset_height, after_padding_height]),
                           tf.stack([offset_width, after_padding_width]), [0, 0]])
    padded = tf.pad(batched, paddings)
    output_shape = tf.concat([shape[:-3], tf.shape(padded)[1:]], 0)
    outputs = tf.reshape(padded, output_shape) + tf.cast(pad_value, image.dtype)
    if static_rank is not None:
      static = image.get_shape().as_list()
      static[-3:-1] = [_static_int(target_height), _static_int(target_width)]
      outputs.set_shape(static)
    if outputs.dtype != original_dtype:
      outputs = tf.cast(outputs, original_dtype)
    return outputs


def _static_int(value):
  """`value` if it is a Python int, else None (a tensor size)."""
  return value if isinstance(value, int) else None


def _crop(image, offset_height, offset_width, crop_height, crop_width):
  """Crops `image` ([H, W, C]; rank checked at run time if unknown) at the given offsets.

  Raises:
    ValueError: if the image's rank is known and not 3.
    InvalidArgumentError (at run time): 'Rank of image must be equal to 3.', 'Crop size greater
      than the image size.'
  """
  rank = image.get_shape().ndims
  if rank is not None and rank != 3:
    raise ValueError('input must have rank of 3')
  channels = image.get_shape().as_list()[2] if rank is not None else None
  original_shape = tf.shape(image)
  offsets = tf.cast(tf.stack([offset_height, offset_width]), tf.int32)
  # After the offsets: random_crop's own checks (on the same images) report first.
  with tf.control_dependencies([offsets]):
    rank_check = tf1.Assert(tf.equal(tf.rank(image), 3), [CROP_RANK])
  size_check = tf1.Assert(
      tf.logical_and(tf.greater_equal(original_shape[0], crop_height),
                     tf.greater_equal(original_shape[1], crop_width)), [CROP_TOO_LARGE])
  # Slice begin/size of the image's own rank (the dims after height and width whole): with a
  # fixed rank-3 slice, TF's constant folding, which sees the fed shapes, fails on an image of
  # another rank before the rank check can report it.
  trailing = tf.maximum(tf.rank(image) - 2, 0)
  begin = tf.concat([offsets, tf.zeros([trailing], tf.int32)], 0)
  size = tf.concat([tf.cast(tf.stack([crop_height, crop_width]), tf.int32),
                    -tf.ones([trailing], tf.int32)], 0)
  # tf.slice, unlike crop_to_bounding_box, takes a crop size given as tensors.
  with tf.control_dependencies([rank_check, size_check]):
    image = tf.slice(image, begin, size)
  image = tf.reshape(image, tf.stack([crop_height, crop_width, -1]))
  image.set_shape([_static_int(crop_height), _static_int(crop_width), channels])
  return image


def random_crop(image_list, crop_height, crop_width):
  """Crops every [H, W, C] tensor in `image_list` at the same random offset.

  Shapes (and ranks) may be unknown while the graph is built: they are checked at run time.

  Args:
    image_list: tensors of equal height and width (their channels may differ).
    crop_height: the crop's height.
    crop_width: the crop's width.

  Returns:
    The cropped tensors.

  Raises:
    ValueError: if `image_list` is empty ('Empty image_list.').
    InvalidArgumentError (at run time): 'Wrong rank for tensor ...', 'Crop size greater than the
      image size.', 'Wrong height for tensor ...', 'Wrong width for tensor ...'.
  """
  if not image_list:
    raise ValueError('Empty image_list.')
  rank_checks = []
  for image in image_list:
    rank = tf.rank(image)
    rank_checks.append(tf1.Assert(tf.equal(rank, 3), [WRONG_RANK, image.name, 3, rank]))
  shapes = []
  for image, rank_check in zip(image_list, rank_checks):
    with tf.control_dependencies([rank_check]):
      shapes.append(tf.shape(image))
  image_height, image_width = shapes[0][0], shapes[0][1]
  checks = list(rank_checks)
  checks.append(tf1.Assert(
      tf.logical_and(tf.greater_equal(image_height, crop_height),
                     tf.greater_equal(image_width, crop_width)), [CROP_TOO_LARGE]))
  for image, shape in zip(image_list[1:], shapes[1:]):
    checks.append(tf1.Assert(tf.equal(shape[0], image_height),
                             [WRONG_HEIGHT, image.name, shape[0], image_height]))
    checks.append(tf1.Assert(tf.equal(shape[1], image_width),
                             [WRONG_WIDTH, image.name, shape[1], image_width]))
  # The offsets are drawn when the graph runs (tf, not numpy), a new crop per step.
  with tf.control_dependencies(checks):
    max_offset_height = tf.reshape(image_height - crop_height + 1, [])
    max_offset_width = tf.reshape(image_width - crop_width + 1, [])
  offset_height = tf1.random_uniform([], maxval=max_offset_height, dtype=tf.int32)
  offset_width = tf1.random_uniform([], maxval=max_offset_width, dtype=tf.int32)
  return [_crop(image, offset_height, offset_width, crop_height, crop_width)
          for image in image_list]


def get_random_scale(min_scale_factor, max_scale_factor, step_size):
  """Returns a random scale: uniform if step_size is 0, else from linspace(min, max, n).

  Raises:
    ValueError: 'Unexpected value of min_scale_factor.' if it is negative or above the maximum.
  """
  if min_scale_factor < 0 or min_scale_factor > max_scale_factor:
    raise ValueError('Unexpected value of min_scale_factor. (min_scale_factor=%r, '
                     'max_scale_factor=%r; expected 0 <= min <= max)'
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
  """Resizes the image (bilinear) and label (`get_label_resize_method`) by `scale`."""
  if scale == 1.0:
    return image, label
  image_shape = tf.shape(image)
  new_dim = tf.cast(tf.cast([image_shape[0], image_shape[1]], tf.float32) * scale, tf.int32)
  image = tf.squeeze(tf1.image.resize_bilinear(tf.expand_dims(image, 0), new_dim,
                                               align_corners=True), [0])
  if label is not None:
    label = tf1.image.resize(label, new_dim, method=get_label_resize_method(label),
                             align_corners=True)
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
