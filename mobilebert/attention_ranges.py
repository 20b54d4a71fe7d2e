"""Floored ranges for the attention scores under the rewriter placement (a `slim.quantize` scheme).

Why: the softmax only sees differences from each row's maximum, so scores far below it carry no
information, but an EMA min/max range spends its 256 levels on them. A trained MobileBERT puts
some scores very far down (the synthetic model's second layer: scaled scores in [-270, 13],
about 1.1 logits per level, so a one-level rounding difference between the fake-quant graph and
TFLite's integer kernels changes an attention weight by a factor of 3 and flips answers). The
units of the score chain Q.K^T -> * 1/sqrt(H) -> * mask -> + (-6 where masked) therefore keep
their EMA range but never let its min go below a floor of SCORE_FLOOR (in scaled logits;
scaled back by sqrt(H) for the raw product): scores under it saturate, the softmax weight they
lose is below e^(SCORE_FLOOR) of the row's, and QAT trains with the same saturation.
"""
import math

import tensorflow as tf
from tensorflow.python.training import moving_averages

from slim.quantize import quantizers
from slim.quantize import scheme as scheme_lib

tf1 = tf.compat.v1

# Lowest scaled attention score a range keeps (e^-12 ~ 6e-6 of a zero score's weight).
SCORE_FLOOR = -12.0
# Op names of the score chain in mobilebert.modeling._attention (under .../attention/self/):
# the raw product (before the 1/sqrt(H) scale), then the scaled, masked and mask-added scores.
RAW_SCORES_REGEX = r'/attention/self/MatMul$'
SCALED_SCORES_REGEX = r'/attention/self/(Mul|mul_1|add)$'
# The training unit's floored batch min, <unit>/FlooredBatchMin.
FLOORED_MIN_NAME = 'FlooredBatchMin'


class FlooredMovingAverageQuantizer(quantizers.Quantizer):
  """The EMA range of `MovingAverageQuantizer` (zero-debiased, contains 0) with min >= `floor`.

  Variables `<prefix>/min`, `<prefix>/max` as the built-in quantizers, so a checkpoint of this
  placement restores into its eval graph and the converter reads the range from the FakeQuant.
  """

  def __init__(self, floor):
    if not floor < 0:
      raise ValueError('FlooredMovingAverageQuantizer needs a negative floor, got %r' % floor)
    self.floor = float(floor)

  def quantize(self, inputs, spec):
    if spec.per_channel or spec.symmetric:
      raise ValueError('%s: a floored range is per-tensor and asymmetric' % spec.name_prefix)
    with tf1.variable_scope(None, default_name=spec.name_prefix, values=[inputs]) as scope:
      scope.set_partitioner(None)
      collections = list(dict.fromkeys([spec.vars_collection, tf1.GraphKeys.GLOBAL_VARIABLES]))
      min_var, max_var = [
          tf1.get_variable(name, shape=[], initializer=tf1.constant_initializer(value),
                           collections=collections, trainable=False)
          for name, value in (('min', max(spec.init_min, self.floor)), ('max', spec.init_max))]
      if spec.is_training:
        batch_min = tf.maximum(tf.minimum(tf.reduce_min(inputs), 0.0), self.floor,
                               name=FLOORED_MIN_NAME)
        batch_max = tf.maximum(tf.reduce_max(inputs), 0.0)
        min_var = moving_averages.assign_moving_average(min_var, batch_min, spec.ema_decay,
                                                        name='AssignMinEma')
        max_var = moving_averages.assign_moving_average(max_var, batch_max, spec.ema_decay,
                                                        name='AssignMaxEma')
      return tf.quantization.fake_quant_with_min_max_vars(
          inputs, min_var, max_var, num_bits=spec.num_bits, narrow_range=spec.narrow_range,
          name='FakeQuantWithMinMaxVars')


def scheme(head_size, floor=SCORE_FLOOR):
  """The scheme of the rewriter placement: floored ranges on the score chain, else defaults.

  Args:
    head_size: the attention head size H (the raw product's floor is `floor * sqrt(H)`).
    floor: the lowest scaled score kept.
  """
  return scheme_lib.Scheme(rules=(
      scheme_lib.Rule(RAW_SCORES_REGEX, scheme_lib.LayerConfig(
          activation_quantizer=FlooredMovingAverageQuantizer(floor * math.sqrt(head_size)))),
      scheme_lib.Rule(SCALED_SCORES_REGEX, scheme_lib.LayerConfig(
          activation_quantizer=FlooredMovingAverageQuantizer(floor))),
  ))
