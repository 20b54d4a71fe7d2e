"""The original MobileBERT QAT placement: fake-quant units inserted by hand while building.

google-research's `--use_quantized_training` did not use the contrib.quantize rewriter; the
model calls a `quantize(x, is_training, activation)` helper at fixed places (kept here):

  dense layer:   x -> [act unit] -> MatMul(., [weight unit](kernel)) -> + bias -> [activation]
  NoNorm:        x -> [act unit] -> * [act unit](gamma) -> [act unit] -> + [act unit](beta)
  attention:     Q.K^T -> [act] -> * 1/sqrt(H) -> * mask -> [act] -> + (-6 where masked) -> [act]
                 -> clip [-6, 60] -> softmax -> P.V -> [act]

Activation units: EMA ranges (decay 0.999), 8-bit asymmetric, start [-6, 6]; weight units: last
batch's range, 8-bit symmetric narrow range. NoNorm's gamma and beta go through ACTIVATION
units (as in the original). Residual sums are ranged by the input unit of the NoNorm they
feed; the embedding layers, the dense outputs (before the residual add), the QA head and the
softmax output get no unit, so TFLite needs the converter's calibration for them (see
g3doc/mobilebert.md).
"""
from slim.quantize import quant_ops

# Name prefixes of the units' scopes (the original's: checkpoints of QAT runs depend on them).
ACT_PREFIX = 'MobileBertActFakeQuantWithMinMaxVars'
WEIGHT_PREFIX = 'MobileBertWeightFakeQuantWithMinMaxVars'
ACT_EMA_DECAY = 0.999
INIT_RANGE = (-6.0, 6.0)


class Placement(object):
  """Inserts the hand-placed units when `enabled` (else returns its inputs unchanged)."""

  def __init__(self, enabled, is_training, num_bits=8):
    self.enabled = bool(enabled)
    self.is_training = is_training
    self.num_bits = num_bits

  def activation(self, x):
    """An EMA-range asymmetric unit under `<scope>/MobileBertActFakeQuantWithMinMaxVars`."""
    if not self.enabled:
      return x
    return quant_ops.MovingAvgQuantize(
        x, init_min=INIT_RANGE[0], init_max=INIT_RANGE[1], ema_decay=ACT_EMA_DECAY,
        is_training=self.is_training, num_bits=self.num_bits, symmetric=False,
        narrow_range=False, name_prefix=ACT_PREFIX)

  def weight(self, w):
    """A last-value symmetric narrow-range unit under `<scope>/MobileBertWeight...`."""
    if not self.enabled:
      return w
    return quant_ops.LastValueQuantize(
        w, init_min=INIT_RANGE[0], init_max=INIT_RANGE[1], is_training=self.is_training,
        num_bits=self.num_bits, symmetric=True, narrow_range=True, name_prefix=WEIGHT_PREFIX)
