"""The only place that patches TensorFlow 2.21 so that TF1-style graph code runs.

Imported (and applied) by `slim/__init__.py`, so `import slim` or any `slim.*` import is
enough. Each patch is idempotent and says why it exists. Nothing else in the project
monkeypatches TensorFlow, tf_keras or tf_slim.
"""
import importlib
import os
import sys

# TF logs CUDA/CPU-feature banners at INFO on every import; TF1 users did not see them.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # pylint: disable=g-import-not-at-top
from tensorflow.python.framework import ops as _ops  # pylint: disable=g-import-not-at-top
from tensorflow.python.ops import control_flow_ops as _control_flow_ops  # pylint: disable=g-import-not-at-top

_TF_KERAS_LEGACY_MODULES = ('', '.base', '.convolutional', '.core', '.normalization',
                            '.pooling', '.variable_scope_shim', '.migration_utils')
_APPLIED = False


def _alias_tf_keras_legacy_layers():
  """TF 2.21 lazily imports `tf_keras.legacy_tf_layers.*` (slim batch_norm goes through it),
  but tf_keras 2.21 ships those modules under `tf_keras.src.legacy_tf_layers`."""
  try:
    importlib.import_module('tf_keras.src.legacy_tf_layers')
  except ImportError as e:
    raise ImportError(
        'tf_keras 2.21 is required for slim batch norm. Install it without its dependency on '
        'the full `tensorflow` wheel: pip install --no-deps "tf-keras==2.21.*" '
        '(scripts/setup_env.sh does this).') from e
  for suffix in _TF_KERAS_LEGACY_MODULES:
    src = 'tf_keras.src.legacy_tf_layers' + suffix
    dst = 'tf_keras.legacy_tf_layers' + suffix
    if dst not in sys.modules:
      sys.modules[dst] = importlib.import_module(src)


def apply():
  """Applies every patch once. Safe to call many times."""
  global _APPLIED
  if _APPLIED:
    return
  # TF1 semantics: graph mode, ref variables and v1 control flow. The rewriter's node names
  # (`delayed_quant/Switch_1`, `.../Merge`, `weights/read`) only exist under v1 behaviour.
  tf.compat.v1.disable_v2_behavior()
  _alias_tf_keras_legacy_layers()
  # tf_slim 1.1.0 still references `ops.Tensor`, removed from tensorflow.python in TF 2.16+.
  if not hasattr(_ops, 'Tensor'):
    _ops.Tensor = tf.Tensor
  # tf_slim.learning.multiply_gradients (DeepLab's gradient multipliers) uses ops.IndexedSlices.
  if not hasattr(_ops, 'IndexedSlices'):
    _ops.IndexedSlices = tf.IndexedSlices
  # tf_slim's smart_cond/metrics/tfexample_decoder call control_flow_ops.cond/case, now gone.
  if not hasattr(_control_flow_ops, 'cond'):
    _control_flow_ops.cond = tf.compat.v1.cond
  if not hasattr(_control_flow_ops, 'case'):
    _control_flow_ops.case = tf.compat.v1.case
  _APPLIED = True
