"""DeepLab utility functions: resizing, scale arithmetic, split separable convs, label weights."""

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

# Names of the two convolutions built by split_separable_conv2d (checkpoint API).
DEPTHWISE_SUFFIX = '_depthwise'
POINTWISE_SUFFIX = '_pointwise'
# The one sync_batch_norm_method of this implementation (plain tf_slim.batch_norm).
SYNC_BATCH_NORM_NONE = 'None'


def q_sigmoid(x):
  """Quantization-friendly sigmoid: relu6(x + 3) / 6 (the original's `q_sigmoid`)."""
  return tf.nn.relu6(x + 3) * 0.16667


def resize_bilinear(images, size, output_dtype=tf.float32):
  """Returns resized images as output_type (align_corners=True, as the original).

  Args:
    images: A tensor of size [batch, height_in, width_in, channels].
    size: A 1-D int32 Tensor of 2 elements: new_height, new_width.
    output_dtype: The destination type.

  Returns:
    A tensor of size [batch, height_out, width_out, channels] as a dtype of output_dtype.
  """
  images = tf.compat.v1.image.resize_bilinear(images, size, align_corners=True)
  return tf.cast(images, dtype=output_dtype)


def scale_dimension(dim, scale):
  """Scales the input dimension: int((dim - 1) * scale + 1).

  Args:
    dim: Input dimension (a scalar or a scalar Tensor).
    scale: The amount of scaling applied to the input.

  Returns:
    Scaled dimension.
  """
  if isinstance(dim, tf.Tensor):
    return tf.cast((tf.cast(dim, tf.float32) - 1.0) * scale + 1.0, dtype=tf.int32)
  return int((float(dim) - 1.0) * scale + 1.0)


def split_separable_conv2d(inputs, filters, kernel_size=3, rate=1, weight_decay=0.00004,
                           depthwise_weights_initializer_stddev=0.33,
                           pointwise_weights_initializer_stddev=0.06, scope=None):
  """Splits a separable conv2d into depthwise and pointwise conv2d.

  Builds `<scope>_depthwise` (no l2 regularizer) and `<scope>_pointwise` (l2), the original
  variable names of the ASPP and decoder branches.

  Args:
    inputs: Input tensor with shape [batch, height, width, channels].
    filters: Number of filters in the 1x1 pointwise convolution.
    kernel_size: A list of length 2: [kernel_height, kernel_width] of the filters.
    rate: Atrous convolution rate for the depthwise convolution.
    weight_decay: The weight decay to use for regularizing the model.
    depthwise_weights_initializer_stddev: The standard deviation of the truncated normal weight
      initializer for depthwise convolution.
    pointwise_weights_initializer_stddev: The standard deviation of the truncated normal weight
      initializer for pointwise convolution.
    scope: Optional scope for the operation.

  Returns:
    Computed features after split separable conv2d.
  """
  outputs = tf_slim.separable_conv2d(
      inputs, None, kernel_size=kernel_size, depth_multiplier=1, rate=rate,
      weights_initializer=tf.compat.v1.truncated_normal_initializer(
          stddev=depthwise_weights_initializer_stddev),
      weights_regularizer=None, scope=scope + DEPTHWISE_SUFFIX)
  return tf_slim.conv2d(
      outputs, filters, 1,
      weights_initializer=tf.compat.v1.truncated_normal_initializer(
          stddev=pointwise_weights_initializer_stddev),
      weights_regularizer=tf_slim.l2_regularizer(weight_decay),
      scope=scope + POINTWISE_SUFFIX)


def get_label_weight_mask(labels, ignore_label, num_classes, label_weights=1.0):
  """Gets the label weight mask.

  Args:
    labels: A Tensor of labels with the shape of [-1].
    ignore_label: Integer, label to ignore.
    num_classes: Integer, the number of semantic classes.
    label_weights: A float or a list of weights. If it is a float, it means all the labels have
      the same weight. If it is a list of weights, then each element in the list represents the
      weight for the label of its index.

  Returns:
    A Tensor of label weights with the same shape of labels, each element is the weight for the
    label with the same index in labels and the element is 0.0 if the label is to ignore.

  Raises:
    ValueError: If label_weights is neither a float nor a list, or if label_weights is a list and
      its length is not equal to num_classes.
  """
  if not isinstance(label_weights, (float, list)):
    raise ValueError(
        'The type of label_weights is invalid, it must be a float or a list.')
  if isinstance(label_weights, list) and len(label_weights) != num_classes:
    raise ValueError('Length of label_weights must be equal to num_classes if it is a list, '
                     'label_weights: %s, num_classes: %d.' % (label_weights, num_classes))
  not_ignore_mask = tf.cast(tf.not_equal(labels, ignore_label), tf.float32)
  if isinstance(label_weights, float):
    return not_ignore_mask * label_weights
  label_weights = tf.constant(label_weights, tf.float32)
  weight_mask = tf.einsum('...y,y->...',
                          tf.one_hot(labels, num_classes, dtype=tf.float32), label_weights)
  return tf.multiply(not_ignore_mask, weight_mask)


def get_batch_norm_fn(sync_batch_norm_method):
  """Gets batch norm function.

  Only 'None' (tf_slim.batch_norm) exists here: the original's 'tpu' wraps Cloud TPU's
  cross-replica batch norm, which is not part of TensorFlow's public API.

  Args:
    sync_batch_norm_method: String, method used to sync batch norm.

  Returns:
    Batchnorm function.

  Raises:
    ValueError: if sync_batch_norm_method is not supported ('Unsupported
      sync_batch_norm_method.').
  """
  _check_sync_batch_norm_method(sync_batch_norm_method)
  return tf_slim.batch_norm


def _check_sync_batch_norm_method(sync_batch_norm_method):
  if sync_batch_norm_method != SYNC_BATCH_NORM_NONE:
    raise ValueError('Unsupported sync_batch_norm_method. (got %r; only %r exists here: the '
                     "original's 'tpu' needs Cloud TPU's cross-replica batch norm)"
                     % (sync_batch_norm_method, SYNC_BATCH_NORM_NONE))


def get_batch_norm_params(decay=0.9997, epsilon=1e-5, center=True, scale=True, is_training=True,
                          sync_batch_norm_method='None', initialize_gamma_as_zeros=False):
  """Gets batch norm parameters (the original ASPP/decoder defaults).

  Args:
    decay: Float, decay for the moving average.
    epsilon: Float, value added to variance to avoid dividing by zero.
    center: Boolean. If True, add offset of `beta` to normalized tensor.
    scale: Boolean. If True, multiply by `gamma`.
    is_training: Boolean, whether or not the layer is in training mode.
    sync_batch_norm_method: String, method used to sync batch norm.
    initialize_gamma_as_zeros: Boolean, initializing `gamma` as zeros or not.

  Returns:
    A dictionary for batchnorm parameters.

  Raises:
    ValueError: with initialize_gamma_as_zeros, if sync_batch_norm_method is not supported (as
      the original, which only then looks at the method).
  """
  params = {'is_training': is_training, 'decay': decay, 'epsilon': epsilon, 'scale': scale,
            'center': center}
  if initialize_gamma_as_zeros:
    _check_sync_batch_norm_method(sync_batch_norm_method)
    params['param_initializers'] = {'gamma': tf.compat.v1.zeros_initializer()}
  return params
