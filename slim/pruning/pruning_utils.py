"""Helpers for the pruning library: mask/threshold variables, histogram CDF, block pooling.

Same roles as contrib `model_pruning/python/pruning_utils.py`; the pruning math that decides
*which* weights go lives in `pruning.py`.
"""
import tensorflow as tf

from slim.pruning import names

_v1 = tf.compat.v1


def _variable_scope(scope):
  """Scope for the mask variables: '' or None means the current variable scope.

  tf.variable_scope('') nested in 'conv1' would name variables 'conv1//mask'; the contrib
  callers meant "here", so the current scope object is re-entered instead.
  """
  if scope is None or (isinstance(scope, str) and not scope):
    scope = _v1.get_variable_scope()
  return _v1.variable_scope(scope, auxiliary_name_scope=False)


def weight_mask_variable(var, scope):
  """Returns (creating if needed) `<scope>/mask`: ones, same shape and dtype as `var`, frozen.

  Args:
    var: the weight tensor or variable to mask.
    scope: variable scope (string or VariableScope); '' means the current one.
  """
  with _variable_scope(scope):
    return _v1.get_variable(
        names.MASK_VARIABLE, var.get_shape(), initializer=_v1.ones_initializer(),
        trainable=False, dtype=var.dtype.base_dtype)


def weight_threshold_variable(var, scope):
  """Returns (creating if needed) the scalar `<scope>/threshold`, zero, frozen.

  Args:
    var: the weight tensor or variable (gives the dtype).
    scope: variable scope (string or VariableScope); '' means the current one.
  """
  with _variable_scope(scope):
    return _v1.get_variable(
        names.THRESHOLD_VARIABLE, [], initializer=_v1.zeros_initializer(),
        trainable=False, dtype=var.dtype.base_dtype)


def compute_cdf_from_histogram(values, value_range, nbins=100):
  """Normalised CDF of `values` over `nbins` equal bins of `value_range`.

  Args:
    values: float tensor.
    value_range: [min, max] of the histogram (values outside go to the end bins).
    nbins: number of bins.

  Returns:
    A float32 [nbins] tensor rising to 1.
  """
  histogram = tf.histogram_fixed_width(values, value_range, nbins=nbins)
  cdf = tf.cast(tf.cumsum(histogram), tf.float32)
  return cdf / tf.reduce_max(cdf)


def expand_tensor(tensor, block_dims):
  """Repeats each element of a rank-2 tensor into a block_dims[0] x block_dims[1] block.

  Args:
    tensor: rank-2 tensor [h, w].
    block_dims: [block_height, block_width].

  Returns:
    A [h * block_height, w * block_width] tensor.
  """
  expanded = tf.repeat(tensor, block_dims[0], axis=0)
  return tf.repeat(expanded, block_dims[1], axis=1)


def block_pool(abs_weights, block_dims, pooling_function, name):
  """AVG/MAX-pools a rank-2 tensor over non-overlapping blocks (last partial blocks included).

  Args:
    abs_weights: rank-2 float tensor [h, w] (magnitudes).
    block_dims: [block_height, block_width].
    pooling_function: 'AVG' or 'MAX'.
    name: name of the pooling op.

  Returns:
    A [ceil(h / bh), ceil(w / bw)] tensor.
  """
  shape = abs_weights.get_shape().as_list()
  pooled = tf.nn.pool(
      tf.reshape(abs_weights, [1, shape[0], shape[1], 1]), window_shape=block_dims,
      pooling_type=pooling_function, strides=block_dims, padding='SAME', name=name)
  return tf.squeeze(pooled, axis=[0, 3])
