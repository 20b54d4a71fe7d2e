"""Quantizers: what one fake-quant unit computes, behind one small interface.

The rewriter decides WHERE a unit goes and with which settings (`UnitSpec`); a `Quantizer`
decides HOW the unit turns its input into the fake-quantized tensor. This is the graph-mode
counterpart of tfmot's `Quantizer` (inside a `QuantizeConfig`). A scheme rule names one per layer
(`weight_quantizer` / `activation_quantizer`); without one a unit uses its row's default
(last value for weights, EMA for activations, as tf.contrib.quantize did).

A user quantizer subclasses `Quantizer` and implements `quantize(inputs, spec)`:

    class PowerOfTwoRange(slim.quantize.quantizers.Quantizer):
      def quantize(self, inputs, spec):
        bound = 2.0 ** tf.math.ceil(tf.math.log(tf.reduce_max(tf.abs(inputs))) / tf.math.log(2.))
        return tf.quantization.fake_quant_with_min_max_vars(
            inputs, -bound, bound, num_bits=spec.num_bits, narrow_range=spec.narrow_range)

The method runs inside no particular name scope: name the unit's ops under `spec.name_prefix`
(the built-in quantizers open `variable_scope(None, default_name=spec.name_prefix)`, so variables
are `<prefix>/min` and `<prefix>/max`, as in tf.contrib.quantize). It must return a float tensor
of the input's shape; for per-channel units the channels are the last axis. When
`spec.is_training` is False the unit must read, not update, whatever range it learned.
"""
import collections

import tensorflow as tf

from slim.quantize import quant_ops

# What the rewriter tells a quantizer about the unit. Fields: name_prefix (name/variable scope
# of the unit), num_bits, per_channel (one range per last-axis channel), symmetric, narrow_range,
# init_min / init_max (initial range of learned ranges), is_training (learn the range or read
# it), vars_collection (collection of new range variables), ema_decay.
UnitSpec = collections.namedtuple(
    'UnitSpec', 'name_prefix num_bits per_channel symmetric narrow_range init_min init_max '
    'is_training vars_collection ema_decay')


class Quantizer(object):
  """A fake-quant unit's computation; subclass and implement `quantize`."""

  def quantize(self, inputs, spec):
    """Returns the fake-quantized `inputs`.

    Args:
      inputs: the float tensor to quantize.
      spec: the unit's `UnitSpec`.

    Returns:
      A float tensor shaped like `inputs`.
    """
    raise NotImplementedError

  def __eq__(self, other):
    return type(self) is type(other) and vars(self) == vars(other)

  def __hash__(self):
    return hash((type(self), tuple(sorted(vars(self).items(), key=lambda kv: kv[0]))))

  def __repr__(self):
    args = ', '.join('%s=%r' % kv for kv in sorted(vars(self).items()))
    return '%s(%s)' % (type(self).__name__, args)


def _unit_kwargs(spec):
  """The keywords `quant_ops`' unit builders share, from a `UnitSpec`."""
  return dict(per_channel=spec.per_channel, init_min=spec.init_min, init_max=spec.init_max,
              vars_collection=spec.vars_collection, name_prefix=spec.name_prefix,
              is_training=spec.is_training, num_bits=spec.num_bits,
              narrow_range=spec.narrow_range, symmetric=spec.symmetric)


class LastValueQuantizer(Quantizer):
  """Range = the last batch's min/max (tf.contrib.quantize's weight quantizer)."""

  def quantize(self, inputs, spec):
    return quant_ops.LastValueQuantize(inputs, **_unit_kwargs(spec))


class MovingAverageQuantizer(Quantizer):
  """Range = zero-debiased EMA of batch min/max (tf.contrib.quantize's activation quantizer)."""

  def quantize(self, inputs, spec):
    return quant_ops.MovingAvgQuantize(inputs, ema_decay=spec.ema_decay, **_unit_kwargs(spec))


class FixedRangeQuantizer(Quantizer):
  """A constant range [min, max]: no variables, nothing learned (e.g. a known activation)."""

  def __init__(self, min, max):  # pylint: disable=redefined-builtin  (JSON key names)
    if not min < max:
      raise ValueError('FixedRangeQuantizer needs min < max, got [%r, %r]' % (min, max))
    self.min = float(min)
    self.max = float(max)

  def quantize(self, inputs, spec):
    with tf.compat.v1.name_scope(None):
      with tf.compat.v1.name_scope(spec.name_prefix + '/'):
        if spec.per_channel:
          channels = inputs.get_shape().as_list()[-1]
          return tf.quantization.fake_quant_with_min_max_vars_per_channel(
              inputs, tf.fill([channels], self.min), tf.fill([channels], self.max),
              num_bits=spec.num_bits, narrow_range=spec.narrow_range,
              name='FakeQuantWithMinMaxVarsPerChannel')
        return tf.quantization.fake_quant_with_min_max_args(
            inputs, min=self.min, max=self.max, num_bits=spec.num_bits,
            narrow_range=spec.narrow_range, name='FakeQuantWithMinMaxArgs')


# Names of the built-in quantizers in a JSON scheme ("weight_quantizer": "last_value").
BUILTIN = {
    'last_value': LastValueQuantizer,
    'moving_average': MovingAverageQuantizer,
    'ema': MovingAverageQuantizer,
}


def default_for(moving_avg):
  """The quantizer a unit uses when its scheme names none (its QUANTIZERS row's kind).

  Args:
    moving_avg: the row's `moving_avg` column.

  Returns:
    A `Quantizer`.
  """
  return MovingAverageQuantizer() if moving_avg else LastValueQuantizer()
