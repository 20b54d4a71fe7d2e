"""What the classification scripts need from a registered network, in one place.

Wraps `slim.nets.nets_factory` (the network builder) with the few extra facts the train / eval /
export / PTQ scripts share: the preprocessing name of a model, its TFLite input statistics, and
the names of the exported input and output nodes.

  network_fn = classification_model.get_network_fn('mobilenet_v2', 10, is_training=True)
  logits, end_points = network_fn(images)
"""
import json
import os

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

from slim import pruning
import slim.quantize as contrib_quantize
from slim.quantize import scheme as scheme_lib
from slim.nets import nets_factory
from slim.preprocessing import preprocessing_factory

# Name of the exported float input placeholder (slim's export_inference_graph).
INPUT_NODE = 'input'
# End point whose op is the exported output (softmax probabilities).
PREDICTIONS_ENDPOINT = 'Predictions'
# Help of the scripts' --quantize_scheme flag (one spelling for train, eval and export).
QUANTIZE_SCHEME_HELP = ('New: JSON quantization scheme (g3doc/scheme.md): per-scope rules '
                        'leaving layers float or choosing bits, per-channel ranges and '
                        'quantizers; give the same file to train, eval and export.')
# The io JSON written beside an exported graph: input/output names, input shape, uint8 mean/std.
IO_SPEC_SUFFIX = '.io.json'


def io_spec_path(graph_file):
  """Path of the io JSON written beside the exported graph `graph_file`."""
  return graph_file + IO_SPEC_SUFFIX


def read_io_spec(graph_file, flag=None):
  """Reads the io JSON of an exported graph (see export_inference_graph.py).

  Raises:
    ValueError: the JSON is missing (the message names `--flag` when given).
  """
  path = io_spec_path(graph_file)
  if not os.path.isfile(path):
    what = '--%s=%s: ' % (flag, graph_file) if flag else ''
    raise ValueError('%s%s not found (export the graph with export_inference_graph.py '
                     '--checkpoint_path)' % (what, path))
  with open(path) as f:
    return json.load(f)


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

  def with_decay(images, reuse=None, depth_multiplier=None):
    return classifier_fn(images, num_classes, is_training=is_training, weight_decay=weight_decay,
                         depth_multiplier=depth_multiplier, reuse=reuse, bn_decay=batch_norm_decay)

  with_decay.default_image_size = network_fn.default_image_size
  with_decay.record = network_fn.record
  return with_decay


def build_network(network_fn, images, masked=False):
  """Calls `network_fn(images)`, with every `weights` kernel masked when `masked`.

  A masked network is the same graph with `<layer>/mask`, `<layer>/threshold` and the Mul
  `<layer>/weights/masked_weight` between each kernel and its layer
  (`slim.pruning.masked_variable_getter`): the graph of a pruning run, or of any later run that
  restores a pruned checkpoint.

  Args:
    network_fn: from `get_network_fn`.
    images: input batch.
    masked: build under the pruning masks.

  Returns:
    (logits, end_points).
  """
  if not masked:
    return network_fn(images)
  with tf.compat.v1.variable_scope('', custom_getter=pruning.masked_variable_getter()):
    return network_fn(images)


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


def quantize_graph(is_training, quant_delay=0, per_channel=False, scheme_path=None):
  """Applies the QAT rewrite of the classification scripts to the default graph.

  Without a scheme or per-channel ranges it is the original `create_training_graph` /
  `create_eval_graph`; otherwise the experimental rewrite with them.

  Args:
    is_training: the training rewrite (before the optimizer) or the eval/export one.
    quant_delay: training: steps before fake quantization acts.
    per_channel: eval/export: per-channel weight ranges.
    scheme_path: the --quantize_scheme file, or None.

  Raises:
    ValueError: a bad scheme file (one line naming it and the key).
  """
  scheme = scheme_lib.load(scheme_path, flag='quantize_scheme') if scheme_path else None
  if is_training:
    if scheme is None:
      contrib_quantize.create_training_graph(quant_delay=quant_delay)
    else:
      contrib_quantize.experimental_create_training_graph(quant_delay=quant_delay,
                                                          scheme=scheme)
  elif scheme is None and not per_channel:
    contrib_quantize.create_eval_graph()
  else:
    contrib_quantize.experimental_create_eval_graph(per_channel=per_channel, scheme=scheme)
