"""slim's classification entry point (`get_network_fn`), derived from the slim.nets registry.

The original kept `networks_map` and `arg_scopes_map` tables; here both come from the registry
records (`classifier_fn` builds the net inside its own training scope), so a variant registered
in `slim.nets.registry` is available here with no further edit.
"""

import functools

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)

from slim.nets import registry


def names():
  """Returns the sorted list of network names `get_network_fn` accepts."""
  return registry.names()


def get_network_fn(name, num_classes, weight_decay=0.0, is_training=False):
  """Returns a function `network_fn(images, **kwargs) -> (logits, end_points)`.

  Args:
    name: A registered variant name (e.g. 'mobilenet_v2', 'mobilenet_v3_large').
    num_classes: Number of classes (logits width); 0 or None returns the pooled features.
    weight_decay: L2 regularization of the network's weights.
    is_training: Training mode (batch norm and dropout).

  Returns:
    `network_fn(images, reuse=None, depth_multiplier=None)`, returning (logits, end_points)
    with end points 'Logits' and 'Predictions'. It carries `default_image_size` (the record's
    classification input size) and `record` (the registry record).

  Raises:
    ValueError: if `name` is not registered (the message lists the valid names).
  """
  record = registry.get(name)

  @functools.wraps(record.classifier_fn)
  def network_fn(images, reuse=None, depth_multiplier=None):
    return record.classifier_fn(images, num_classes, is_training=is_training,
                                weight_decay=weight_decay, depth_multiplier=depth_multiplier,
                                reuse=reuse)

  network_fn.default_image_size = record.default_image_size
  network_fn.record = record
  return network_fn
