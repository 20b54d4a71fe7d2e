"""The settings of one rewrite, as one immutable object handed to every transform.

`quantize_graph` builds a `QuantizeOptions` from the public functions' arguments and passes it to
`fold_batch_norms.apply`, `quantize.apply` and `coverage.apply`; the contrib-compatible wrappers
(`FoldBatchNorms`, `Quantize`, `QuantizeRemaining`) build one from their keywords. Direct use:

    from slim.quantize import QuantizeOptions, fold_batch_norms, quantize
    options = QuantizeOptions(is_training=False, per_channel=True, exclude_scopes=['logits/'])
    fold_batch_norms.apply(graph, options)
    quantize.apply(graph, options)

The settings of an individual fake-quant unit (bits, per-channel, symmetric) are derived from
these fields in one place, `tflite_target.unit_settings`. A quantization scheme (`scheme`:
per-scope rules choosing bits, per-channel and the quantizer) plugs in before it:
`quantize.ResolveUnit` resolves the unit's layer to a `QuantizeOptions` with `replace(...)`.
"""
import dataclasses
import math
import numbers
from typing import Optional, Tuple

import tensorflow as tf

# EMA decay of learned activation ranges (tf.contrib.quantize's value). The only spelling of it.
DEFAULT_EMA_DECAY = 0.999
# FakeQuant kernels accept 2..16 bits.
MIN_BITS = 2
MAX_BITS = 16
# Training-time batch-norm folds (`fold_batch_norms`): one convolution whose unfolded output
# feeds the batch statistics, or tf.contrib.quantize's two (one for statistics, one folded).
FOLD_ONE_CONV = 'one_conv'
FOLD_CONTRIB = 'contrib'
FOLD_MODES = (FOLD_ONE_CONV, FOLD_CONTRIB)


@dataclasses.dataclass(frozen=True)
class QuantizeOptions:
  """What a rewrite does: training or eval, bit widths, range kinds, delays, scopes.

  Attributes:
    is_training: training rewrite (ranges learned, training BN fold) or eval (ranges read).
    weight_bits: bits of weight units, 2..16.
    activation_bits: bits of activation and output units, 2..16.
    symmetric: symmetric ranges for weights and layer activations.
    ema_decay: EMA decay of learned activation ranges, in [0, 1).
    quant_delay: steps of `fake_quantization_step` before fake quantization acts; None, 0 or
      a negative value add no delay (as in tf.contrib.quantize).
    freeze_bn_delay: steps after which folded training batch norms use (and stop updating)
      their moving statistics; None never freezes.
    vars_collection: collection that receives the min/max variables (besides
      GLOBAL_VARIABLES).
    scope: only ops under this name scope are quantized; normalised to end with '/' (None or ''
      means the whole graph).
    per_channel: per-output-channel weight ranges (int8 per-channel TFLite).
    exclude_scopes: op-name prefixes the rewriter never touches; any iterable of strings,
      stored as a tuple.
    full_coverage: give every remaining float tensor a range (`coverage.apply`).
    scheme: a `slim.quantize.scheme.Scheme` choosing per op whether it is quantized, with
      which bits, ranges and quantizers (None: these options for every op).
    fold_mode: how a training rewrite folds batch norms that use batch statistics:
      FOLD_ONE_CONV (the layer runs once; see g3doc/rewriter.md for the measurement behind
      the default) or FOLD_CONTRIB (tf.contrib.quantize's graph, the layer runs twice). Both
      create the same variables, so checkpoints move freely between them.

  Raises:
    ValueError: from the constructor (and `replace`) when a field has an unusable value; the
      message names the field, the value found and what is expected.
  """
  is_training: bool
  weight_bits: int = 8
  activation_bits: int = 8
  symmetric: bool = False
  ema_decay: float = DEFAULT_EMA_DECAY
  quant_delay: Optional[int] = None
  freeze_bn_delay: Optional[int] = None
  vars_collection: str = tf.compat.v1.GraphKeys.GLOBAL_VARIABLES
  scope: Optional[str] = None
  per_channel: bool = False
  exclude_scopes: Tuple[str, ...] = ()
  full_coverage: bool = True
  scheme: Optional[object] = None
  fold_mode: str = FOLD_ONE_CONV

  def __post_init__(self):
    for name in ('is_training', 'symmetric', 'per_channel', 'full_coverage'):
      if getattr(self, name) not in (True, False):
        _Fail(name, getattr(self, name), 'True or False')
    for name in ('weight_bits', 'activation_bits'):
      bits = getattr(self, name)
      if not _IsInteger(bits) or not MIN_BITS <= bits <= MAX_BITS:
        _Fail(name, bits, 'an integer in [%d, %d]' % (MIN_BITS, MAX_BITS))
    if (not _IsReal(self.ema_decay) or not math.isfinite(self.ema_decay) or
        not 0.0 <= self.ema_decay < 1.0):
      _Fail('ema_decay', self.ema_decay, 'a number in [0, 1)')
    for name in ('quant_delay', 'freeze_bn_delay'):
      delay = getattr(self, name)
      if delay is not None and (not _IsReal(delay) or not math.isfinite(delay)):
        _Fail(name, delay, 'None or a step count')
    if self.fold_mode not in FOLD_MODES:
      _Fail('fold_mode', self.fold_mode, 'one of %s' % ', '.join(repr(m) for m in FOLD_MODES))
    if not isinstance(self.vars_collection, str) or not self.vars_collection:
      _Fail('vars_collection', self.vars_collection, 'a collection name')
    if self.scope is not None and not isinstance(self.scope, str):
      _Fail('scope', self.scope, 'None or a name scope string')
    if self.scope == '':
      object.__setattr__(self, 'scope', None)
    elif self.scope is not None and not self.scope.endswith('/'):
      object.__setattr__(self, 'scope', self.scope + '/')
    # A bare string would silently become a tuple of characters (one of them likely a prefix
    # of every op): refuse it.
    if isinstance(self.exclude_scopes, str):
      _Fail('exclude_scopes', self.exclude_scopes,
            'a sequence of op-name prefixes, e.g. (%r,)' % self.exclude_scopes)
    try:
      scopes = tuple(self.exclude_scopes or ())
    except TypeError:
      _Fail('exclude_scopes', self.exclude_scopes, 'a sequence of op-name prefixes')
    for prefix in scopes:
      # An empty prefix would exclude every op.
      if not isinstance(prefix, str) or not prefix:
        _Fail('exclude_scopes', self.exclude_scopes,
              'non-empty op-name prefix strings (found %r)' % (prefix,))
    object.__setattr__(self, 'exclude_scopes', scopes)
    # Duck-typed: scheme.py builds on this module.
    if self.scheme is not None and not hasattr(self.scheme, 'config_for'):
      _Fail('scheme', self.scheme, 'None or a slim.quantize.scheme.Scheme')

  def replace(self, **changes):
    """Returns a copy with `changes` applied (validated and normalised again).

    Args:
      **changes: field names and their new values.

    Returns:
      A new `QuantizeOptions`.

    Raises:
      ValueError: as the constructor.
      TypeError: for an unknown field name.
    """
    return dataclasses.replace(self, **changes)

  def in_scope(self, op_name):
    """Whether `op_name` lies under `scope` (always True without a scope).

    Args:
      op_name: an op name.

    Returns:
      bool.
    """
    return not self.scope or op_name.startswith(self.scope)

  def excludes(self, op_name):
    """Whether `op_name` starts with one of `exclude_scopes`.

    Args:
      op_name: an op name.

    Returns:
      bool.
    """
    return bool(self.exclude_scopes) and op_name.startswith(self.exclude_scopes)


def _IsInteger(value):
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _IsReal(value):
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _Fail(field, found, expected):
  raise ValueError('QuantizeOptions.%s must be %s, got %r' % (field, expected, found))
