"""Public API of the rewriter: fold batch norms, then insert fake-quant units, in place.

Usage (training graph, before the optimizer; eval graph built separately for export):

    loss = build_model(is_training=True)
    slim.quantize.create_training_graph(quant_delay=2000)
    train_op = optimizer.minimize(loss)
    ...
    build_model(is_training=False)
    slim.quantize.create_eval_graph()
"""
import dataclasses
import os

from absl import logging
import tensorflow as tf

from slim.quantize import annotation
from slim.quantize import coverage
from slim.quantize import fold_batch_norms
from slim.quantize import options as options_lib
from slim.quantize import quantize
from slim.quantize import scheme as scheme_lib

# Optimizer kernels: the rewrite must run before `minimize()` (gradients would not be rewired).
_TRAINING_OPS = frozenset([
    'ApplyAdagrad', 'ApplyAdagradDA', 'ApplyAdam', 'ApplyAddSign', 'ApplyCenteredRMSProp',
    'ApplyFtrl', 'ApplyFtrlV2', 'ApplyGradientDescent', 'ApplyMomentum', 'ApplyPowerSign',
    'ApplyProximalAdagrad', 'ApplyProximalGradientDescent', 'ApplyRMSProp',
    'ResourceApplyAdadelta', 'ResourceApplyAdagrad', 'ResourceApplyAdagradDA',
    'ResourceApplyAdam', 'ResourceApplyAddSign', 'ResourceApplyCenteredRMSProp',
    'ResourceApplyFtrl', 'ResourceApplyFtrlV2', 'ResourceApplyGradientDescent',
    'ResourceApplyMomentum', 'ResourceApplyPowerSign', 'ResourceApplyProximalAdagrad',
    'ResourceApplyProximalGradientDescent', 'ResourceApplyRMSProp', 'ResourceSparseApplyAdadelta',
    'ResourceSparseApplyAdagrad', 'ResourceSparseApplyAdagradDA',
    'ResourceSparseApplyCenteredRMSProp', 'ResourceSparseApplyFtrl', 'ResourceSparseApplyFtrlV2',
    'ResourceSparseApplyMomentum', 'ResourceSparseApplyProximalAdagrad',
    'ResourceSparseApplyProximalGradientDescent', 'ResourceSparseApplyRMSProp',
    'SparseApplyAdadelta', 'SparseApplyAdagrad', 'SparseApplyAdagradDA',
    'SparseApplyCenteredRMSProp', 'SparseApplyFtrl', 'SparseApplyFtrlV2', 'SparseApplyMomentum',
    'SparseApplyProximalAdagrad', 'SparseApplyProximalGradientDescent', 'SparseApplyRMSProp',
    # Not in the original list (an upstream omission); a graph with it was already trained.
    'ApplyAdadelta', 'ResourceApplyAdaMax', 'ApplyAdaMax',
])


def _create_graph(input_graph=None, is_training=True, weight_bits=8, activation_bits=8,
                  symmetric=False, quant_delay=None, freeze_bn_delay=None, scope=None,
                  per_channel=False, exclude_scopes=(), full_coverage=True, scheme=None,
                  fold_mode=options_lib.FOLD_ONE_CONV):
  """Rewrites `input_graph` (default graph if None) in place. See the public functions."""
  # Built first so a bad argument fails before the graph is looked at.
  options = options_lib.QuantizeOptions(
      is_training=is_training, weight_bits=weight_bits, activation_bits=activation_bits,
      symmetric=symmetric, quant_delay=quant_delay, freeze_bn_delay=freeze_bn_delay,
      scope=scope, per_channel=per_channel, exclude_scopes=exclude_scopes,
      full_coverage=full_coverage, scheme=scheme, fold_mode=fold_mode)
  if input_graph is None:
    input_graph = tf.compat.v1.get_default_graph()
  _check_for_training_ops(input_graph)
  if scheme is not None:
    options = options.replace(
        scheme=scheme.with_annotations(annotation.annotations(input_graph)))
    unmatched = options.scheme.unmatched_rules(input_graph)
    if unmatched:
      logging.warning('slim.quantize scheme: %d rule(s) match no op of the graph: %s',
                      len(unmatched), '; '.join(unmatched))
  with input_graph.as_default():
    fold_batch_norms.apply(input_graph, options)
    quantize.apply(input_graph, options)
    if options.full_coverage:
      coverage.apply(input_graph, options)


def create_training_graph(input_graph=None, quant_delay=0):
  """Rewrites a training graph for quantization-aware training (8-bit, asymmetric).

  Call after building the model and loss, before the optimizer. Adds variables to
  GLOBAL_VARIABLES; restore checkpoints after the rewrite.

  Args:
    input_graph: the `tf.Graph` to rewrite in place (default graph if None).
    quant_delay: steps of `fake_quantization_step` before fake quantization acts (0: at once).

  Raises:
    ValueError: if the graph already contains optimizer ops.
  """
  _create_graph(input_graph=input_graph, is_training=True, quant_delay=quant_delay)


def create_eval_graph(input_graph=None):
  """Rewrites an eval/export graph (built with is_training=False layers) in place, 8-bit.

  Args:
    input_graph: the `tf.Graph` to rewrite in place (default graph if None).

  Raises:
    ValueError: if the graph already contains optimizer ops.
  """
  _create_graph(input_graph=input_graph, is_training=False)


def experimental_create_training_graph(input_graph=None, weight_bits=8, activation_bits=8,
                                       symmetric=False, quant_delay=0, freeze_bn_delay=None,
                                       scope=None, *, per_channel=False, exclude_scopes=(),
                                       full_coverage=True, scheme=None,
                                       quantize_annotated_only=False,
                                       fold_mode=options_lib.FOLD_ONE_CONV):
  """Training rewrite with all knobs. Keyword-only arguments are this project's additions.

  Args:
    input_graph: the `tf.Graph` to rewrite in place (default graph if None).
    weight_bits: bits for weights.
    activation_bits: bits for activations.
    symmetric: symmetric ranges for weights and layer activations.
    quant_delay: steps before fake quantization acts.
    freeze_bn_delay: steps after which folded batch norms use moving statistics (None: never).
    scope: only quantize ops under this name scope.
    per_channel: per-output-channel weight ranges (int8 per-channel TFLite).
    exclude_scopes: op-name prefixes the rewriter must not touch.
    full_coverage: also quantize every remaining float tensor (slim.quantize.coverage).
    scheme: a `slim.quantize.scheme.Scheme` (per-scope rules: float layers, bits, per-channel,
      quantizers) over these arguments, or the path of its JSON file. Blocks of
      `slim.quantize.annotate(...)` in the graph apply with or without it.
    quantize_annotated_only: quantize only the ops built inside `annotate(...)` blocks.
    fold_mode: how batch norms with batch statistics are folded
      (`QuantizeOptions.fold_mode`: 'one_conv', the default, or 'contrib').

  Raises:
    ValueError: if the graph already contains optimizer ops, or the scheme is unusable.
  """
  _create_graph(input_graph=input_graph, is_training=True, weight_bits=weight_bits,
                activation_bits=activation_bits, symmetric=symmetric, quant_delay=quant_delay,
                freeze_bn_delay=freeze_bn_delay, scope=scope, per_channel=per_channel,
                exclude_scopes=exclude_scopes, full_coverage=full_coverage,
                scheme=_scheme(scheme, quantize_annotated_only, input_graph),
                fold_mode=fold_mode)


def experimental_create_eval_graph(input_graph=None, weight_bits=8, activation_bits=8,
                                   symmetric=False, quant_delay=None, scope=None, *,
                                   per_channel=False, exclude_scopes=(), full_coverage=True,
                                   scheme=None, quantize_annotated_only=False):
  """Eval rewrite with all knobs; arguments as `experimental_create_training_graph`.

  Raises:
    ValueError: if the graph already contains optimizer ops, or the scheme is unusable.
  """
  _create_graph(input_graph=input_graph, is_training=False, weight_bits=weight_bits,
                activation_bits=activation_bits, symmetric=symmetric, quant_delay=quant_delay,
                scope=scope, per_channel=per_channel, exclude_scopes=exclude_scopes,
                full_coverage=full_coverage,
                scheme=_scheme(scheme, quantize_annotated_only, input_graph))


def _scheme(scheme, quantize_annotated_only, input_graph):
  """The Scheme of an experimental rewrite: the argument (an object or a JSON path), a plain
  one when the graph has annotations, else None (the rewrite of the original functions)."""
  if isinstance(scheme, (str, os.PathLike)):
    scheme = scheme_lib.load(scheme)
  graph = input_graph or tf.compat.v1.get_default_graph()
  if scheme is None and (quantize_annotated_only or annotation.annotations(graph)):
    scheme = scheme_lib.Scheme()
  if scheme is not None and not isinstance(scheme, scheme_lib.Scheme):
    raise ValueError('scheme must be None, a slim.quantize.scheme.Scheme or a JSON file path, '
                     'got %r' % (scheme,))
  if quantize_annotated_only:
    scheme = dataclasses.replace(scheme, quantize_annotated_only=True)
  return scheme


def _check_for_training_ops(g):
  """Raises ValueError if `g` contains optimizer ops."""
  training_ops = {op.type for op in g.get_operations()} & _TRAINING_OPS
  if training_ops:
    raise ValueError('Training op found in graph, exiting %s' % training_ops)
