"""What the classification scripts need from a registered network, in one place.

Wraps `slim.nets.nets_factory` (the network builder) with the few extra facts the train / eval /
export / PTQ scripts share: the preprocessing name of a model, its TFLite input statistics, and
the names of the exported input and output nodes.

  network_fn = classification_model.get_network_fn('mobilenet_v2', 10, is_training=True)
  logits, end_points = network_fn(images)
"""
import inspect

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

from slim.nets import nets_factory
from slim.preprocessing import preprocessing_factory

# Name of the exported float input placeholder (slim's export_inference_graph).
INPUT_NODE = 'input'
# End point whose op is the exported output (softmax probabilities).
PREDICTIONS_ENDPOINT = 'Predictions'


def model_names():
  """Returns the sorted registered network names."""
  return nets_factory.names()


def get_network_fn(model_name, num_classes, weight_decay=0.0, is_training=False,
                   batch_norm_decay=None):
  """Returns nets_factory's `network_fn(images) -> (logits, end_points)` for `model_name`.

  Args:
    model_name: registered network name.
    num_classes: logits width.
    weight_decay: L2 weight decay.
    is_training: BN/dropout training mode.
    batch_norm_decay: BN moving-average decay; None keeps the network's default.

  Raises:
    ValueError: unknown model name (lists the valid names).
  """
  network_fn = nets_factory.get_network_fn(model_name, num_classes, weight_decay=weight_decay,
                                           is_training=is_training)
  if batch_norm_decay is None:
    return network_fn
  classifier_fn = network_fn.record.classifier_fn
  params = inspect.signature(classifier_fn).parameters
  key = next((k for k in ('bn_decay', 'batch_norm_decay') if k in params), None)

  def with_decay(images, reuse=None, depth_multiplier=None):
    if key is not None:
      return classifier_fn(images, num_classes, is_training=is_training,
                           weight_decay=weight_decay, depth_multiplier=depth_multiplier,
                           reuse=reuse, **{key: batch_norm_decay})
    before = set(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))
    outputs = network_fn(images, reuse=reuse, depth_multiplier=depth_multiplier)
    _set_moving_average_decay(before, batch_norm_decay)
    return outputs

  with_decay.default_image_size = network_fn.default_image_size
  with_decay.record = network_fn.record
  return with_decay


def _set_moving_average_decay(old_update_ops, decay):
  """Rebuilds the network's new BN moving-average updates with `decay`.

  Used while the registry's classifier_fn takes no BN decay (its training scope hard-codes the
  family default, e.g. 0.997, far too slow for short from-scratch runs). tf_slim's update is
  `AssignSub(var, Mul(Sub(var, batch_stat), 1 - decay))`; each one is replaced in UPDATE_OPS by
  the same update with the new decay (the old ops stay in the graph, never run).

  Raises:
    ValueError: an update op does not have that structure.
  """
  collection = tf.compat.v1.get_collection_ref(tf.compat.v1.GraphKeys.UPDATE_OPS)
  for i, op in enumerate(list(collection)):
    if op in old_update_ops:
      continue
    mul = op.inputs[1].op if op.type == 'AssignSub' and len(op.inputs) == 2 else None
    if mul is None or mul.type != 'Mul':
      raise ValueError('cannot set the batch-norm decay: unexpected update op %s (%s)'
                       % (op.name, op.type))
    difference = mul.inputs[0]
    with tf.compat.v1.name_scope(op.name + '_decay'):
      collection[i] = tf.compat.v1.assign_sub(
          _variable_of(op.inputs[0]), difference * (1.0 - decay)).op


def _variable_of(ref):
  """Returns the variable written by an AssignSub's ref input."""
  for var in tf.compat.v1.global_variables():
    if var.op is ref.op or var.name == ref.name:
      return var
  raise ValueError('cannot set the batch-norm decay: no variable for %s' % ref.name)


def preprocessing_name(model_name):
  """Returns the preprocessing name of `model_name` (its registry record's, else its own name)."""
  name = getattr(nets_factory.get_network_fn(model_name, 1).record, 'preprocessing_name', None)
  return name or model_name


def input_stats(model_name, preprocessing=None):
  """Returns (mean, std) mapping a uint8 TFLite input q to the model input: (q - mean) / std."""
  return preprocessing_factory.input_stats(preprocessing or preprocessing_name(model_name))


def default_image_size(model_name):
  """Returns the registry's classification input size of `model_name`."""
  return nets_factory.get_network_fn(model_name, 1).default_image_size
