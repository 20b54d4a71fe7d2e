"""The quantizer math: one fake-quant unit (min/max variables, range update, FakeQuant op).

A unit with prefix P opens `variable_scope(None, default_name=P)` (a second unit with the same
prefix becomes `P_1`) and creates non-trainable float variables `P/min`, `P/max`:

    training:  inputs -> P/BatchMin, P/BatchMax -> range -> P/AssignMin{Last,Ema}, P/AssignMax{..}
                      -> P/FakeQuantWithMinMaxVars(inputs, assigned min, assigned max)
    eval:      inputs -> P/FakeQuantWithMinMaxVars(inputs, P/min, P/max)
"""
import tensorflow as tf

from tensorflow.python.ops import variable_scope
from tensorflow.python.training import moving_averages

from slim.quantize import options as options_lib

# Op names inside a unit (the checkpoint and tests depend on them).
BATCH_MIN_NAME = 'BatchMin'
BATCH_MAX_NAME = 'BatchMax'
ASSIGN_MIN_LAST_NAME = 'AssignMinLast'
ASSIGN_MAX_LAST_NAME = 'AssignMaxLast'
ASSIGN_MIN_EMA_NAME = 'AssignMinEma'
ASSIGN_MAX_EMA_NAME = 'AssignMaxEma'
MIN_VAR_NAME = 'min'
MAX_VAR_NAME = 'max'


def FixedQuantize(inputs, init_min=-6.0, init_max=6.0, scope=None):
  """Adds a fake quantize layer with fixed quantization interval.

  Args:
    inputs: a tensor containing values to be quantized.
    init_min: the lower end of quantization interval.
    init_max: the upper end of quantization interval.
    scope: optional scope for name_scope.

  Returns:
    a tensor containing quantized values.
  """
  with tf.compat.v1.name_scope(scope, 'FixedQuantize', values=[inputs]):
    return tf.quantization.fake_quant_with_min_max_args(inputs, min=init_min, max=init_max)


def _ModelVariable(name, shape=None, initializer=None, collections=None, trainable=None):
  collections = list(collections or [])
  collections += [tf.compat.v1.GraphKeys.GLOBAL_VARIABLES]
  return tf.compat.v1.get_variable(
      name,
      shape=shape,
      initializer=initializer,
      collections=list(dict.fromkeys(collections)),
      trainable=trainable,
      aggregation=tf.VariableAggregation.MEAN)


def _MinMaxVars(inputs, per_channel, init_min, init_max, vars_collection):
  """Creates the `min`/`max` variables of a unit (shape [] or [channels])."""
  if per_channel:
    input_shape = inputs.get_shape()
    input_dim = len(input_shape)
    # Per channel only for 1-D (bias-like), 2-D (MatMul weights) and 4-D (conv weights) inputs.
    assert input_dim in (1, 2, 4), 'Expected rank 1, 2 or 4 for per-channel, got %d' % input_dim
    min_max_shape = [input_shape[-1]]
  else:
    min_max_shape = []
  min_var = _ModelVariable(
      MIN_VAR_NAME, shape=min_max_shape,
      initializer=tf.compat.v1.constant_initializer(init_min),
      collections=[vars_collection], trainable=False)
  max_var = _ModelVariable(
      MAX_VAR_NAME, shape=min_max_shape,
      initializer=tf.compat.v1.constant_initializer(init_max),
      collections=[vars_collection], trainable=False)
  return min_var, max_var


def _BatchRange(inputs, per_channel, num_bits, narrow_range, symmetric):
  """Returns (range_min, range_max) of the current batch, always containing 0."""
  if per_channel:
    if len(inputs.get_shape()) > 1:
      reduce_dims = list(range(len(inputs.get_shape()) - 1))
      batch_min = tf.reduce_min(inputs, axis=reduce_dims, name=BATCH_MIN_NAME)
      batch_max = tf.reduce_max(inputs, axis=reduce_dims, name=BATCH_MAX_NAME)
    else:
      batch_min = tf.identity(inputs, name=BATCH_MIN_NAME)
      batch_max = tf.identity(inputs, name=BATCH_MAX_NAME)
  else:
    batch_min = tf.reduce_min(inputs, name=BATCH_MIN_NAME)
    batch_max = tf.reduce_max(inputs, name=BATCH_MAX_NAME)
  if symmetric:
    if narrow_range:
      min_max_ratio = -1
    else:
      # In two's complement notation the negative range is slightly larger than the positive.
      min_max_ratio = -((1 << num_bits) - 2) / (1 << num_bits)
    range_min = tf.minimum(batch_min, batch_max / min_max_ratio)
    range_max = tf.maximum(batch_max, batch_min * min_max_ratio)
  else:
    # The range must contain 0 so that 0 (zero padding) is exactly representable.
    range_min = tf.minimum(batch_min, 0.0)
    range_max = tf.maximum(0.0, batch_max)
  return range_min, range_max


def LastValueQuantize(inputs,
                      per_channel=False,
                      init_min=-6.0,
                      init_max=6.0,
                      vars_collection=None,
                      name_prefix='LastValueQuant',
                      reuse=None,
                      is_training=True,
                      num_bits=8,
                      narrow_range=False,
                      symmetric=False):
  """Adds a fake-quant unit whose range is the last batch's min/max (used for weights).

  Args:
    inputs: a float tensor to quantize.
    per_channel: (default False) one range per last-dimension channel.
    init_min: initial value of the `min` variable.
    init_max: initial value of the `max` variable.
    vars_collection: collection to add the min/max variables to (besides GLOBAL_VARIABLES).
    name_prefix: default variable/name scope of the unit.
    reuse: variable_scope reuse flag.
    is_training: whether the range is updated (training) or just read (eval).
    num_bits: number of quantization bits.
    narrow_range: whether to use [1, 2^bits - 1] instead of [0, 2^bits - 1].
    symmetric: whether the range is symmetric around 0.

  Returns:
    The fake-quantized tensor.
  """
  with variable_scope.variable_scope(None, default_name=name_prefix, values=[inputs],
                                     reuse=reuse) as scope:
    scope.set_partitioner(None)
    min_var, max_var = _MinMaxVars(inputs, per_channel, init_min, init_max,
                                   vars_collection or tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
    if not is_training:
      return _FakeQuantWithMinMaxVars(inputs, min_var, max_var, per_channel=per_channel,
                                      num_bits=num_bits, narrow_range=narrow_range)
    range_min, range_max = _BatchRange(inputs, per_channel, num_bits, narrow_range, symmetric)
    assign_min = tf.compat.v1.assign(min_var, range_min, name=ASSIGN_MIN_LAST_NAME)
    assign_max = tf.compat.v1.assign(max_var, range_max, name=ASSIGN_MAX_LAST_NAME)
    return _FakeQuantWithMinMaxVars(inputs, assign_min, assign_max, per_channel=per_channel,
                                    num_bits=num_bits, narrow_range=narrow_range)


def MovingAvgQuantize(inputs,
                      per_channel=False,
                      init_min=-6.0,
                      init_max=6.0,
                      ema_decay=options_lib.DEFAULT_EMA_DECAY,
                      vars_collection=tf.compat.v1.GraphKeys.MOVING_AVERAGE_VARIABLES,
                      name_prefix='MovingAvgQuantize',
                      reuse=None,
                      is_training=True,
                      num_bits=8,
                      narrow_range=False,
                      symmetric=False):
  """Adds a fake-quant unit whose range is a zero-debiased EMA of batch ranges (activations).

  Args:
    inputs: a float tensor to quantize.
    per_channel: (default False) one range per last-dimension channel.
    init_min: initial value of the `min` variable (only visible before the first train step).
    init_max: initial value of the `max` variable.
    ema_decay: EMA decay of the range.
    vars_collection: collection to add the min/max variables to (besides GLOBAL_VARIABLES).
    name_prefix: default variable/name scope of the unit.
    reuse: variable_scope reuse flag.
    is_training: whether the range is updated (training) or just read (eval).
    num_bits: number of quantization bits.
    narrow_range: whether to use [1, 2^bits - 1] instead of [0, 2^bits - 1].
    symmetric: whether the range is symmetric around 0.

  Returns:
    The fake-quantized tensor.
  """
  with variable_scope.variable_scope(None, default_name=name_prefix, values=[inputs],
                                     reuse=reuse) as scope:
    scope.set_partitioner(None)
    min_var, max_var = _MinMaxVars(inputs, per_channel, init_min, init_max, vars_collection)
    if not is_training:
      return _FakeQuantWithMinMaxVars(inputs, min_var, max_var, per_channel=per_channel,
                                      num_bits=num_bits, narrow_range=narrow_range)
    range_min, range_max = _BatchRange(inputs, per_channel, num_bits, narrow_range, symmetric)
    # zero_debias=True (the 1.15 default): after one step the variable equals that step's range.
    assign_min = moving_averages.assign_moving_average(
        min_var, range_min, ema_decay, name=ASSIGN_MIN_EMA_NAME)
    assign_max = moving_averages.assign_moving_average(
        max_var, range_max, ema_decay, name=ASSIGN_MAX_EMA_NAME)
    return _FakeQuantWithMinMaxVars(inputs, assign_min, assign_max, per_channel=per_channel,
                                    num_bits=num_bits, narrow_range=narrow_range)


def _FakeQuantWithMinMaxVars(inputs, min_var, max_var, per_channel, num_bits, narrow_range):
  """Adds a FakeQuantWithMinMaxVars(PerChannel) op named `FakeQuantWithMinMaxVars`."""
  if per_channel:
    assert len(min_var.get_shape()) == 1
    assert len(max_var.get_shape()) == 1
    return tf.quantization.fake_quant_with_min_max_vars_per_channel(
        inputs, min_var, max_var, num_bits=num_bits, narrow_range=narrow_range)
  assert min_var.get_shape() == []  # pylint: disable=g-explicit-bool-comparison
  assert max_var.get_shape() == []  # pylint: disable=g-explicit-bool-comparison
  return tf.quantization.fake_quant_with_min_max_vars(
      inputs, min_var, max_var, num_bits=num_bits, narrow_range=narrow_range)
