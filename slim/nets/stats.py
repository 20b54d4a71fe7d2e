"""Parameter and multiply-add counts of a built graph, and a CLI for registered variants.

What is counted (`graph_stats`):
- params: the number of elements of the trainable variables (whose names start with `scope/`
  when a scope is given). Batch-norm moving statistics are not trainable and not counted; BN
  gamma/beta and conv biases are.
- madds: multiply-adds of the forward convolutions and matrix products, per example (the batch
  dimension is ignored), from static shapes:
  Conv2D: out_h * out_w * out_c * k_h * k_w * in_c;
  DepthwiseConv2dNative: out_h * out_w * out_c * k_h * k_w (out_c = in_c * channel multiplier);
  MatMul: rows_per_example * out_cols * inner (rows_per_example is 1 for [batch, k] inputs);
  Conv2DBackpropInput (transposed conv) outside the gradient scope: in_h * in_w * in_c * k_h *
  k_w * out_c, where `in` is the op's `out_backprop` input.
  ResizeBilinear (only with count_resize=True, the default): 4 per output element (the 4
  weighted taps of bilinear interpolation). Classification nets have none; in DeepLab it is the
  logits upsampling to the input size (513 * 513 * 21 * 4 = 22.1M MAdds at 513) plus the small
  image-pooling resize. The model zoo's DeepLab figures (2.75B / 0.88B) include it: without it,
  MobileNetV2 OS16 at 513 gives 2.720B (-1.1%) and 0.857B (-2.6%); with it 2.743B and 0.879B.
  Not counted: ops under the 'gradients' name scope (training), BiasAdd, batch norm (folded at
  inference), activations, element-wise adds/multiplies (residuals, SE gates, h-swish), pooling,
  ReduceMean, ResizeNearestNeighbor and every other op. This is the convention of the published
  MobileNet (300M for V2 1.0 at 224, 217M for V3-Large) and DeepLab model zoo figures.

CLI (classification nets; DeepLab's inference graph is counted by `python -m deeplab.stats`):
  python -m slim.nets.stats --model_variant=mobilenet_v3_small --input_size=224
builds the registry's classification net (1001 classes) at --input_size (default: the record's
size) and --depth_multiplier (default: the record's) and prints its counts.
"""

import dataclasses

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf

from slim.nets import registry
from slim.runtime import options

# Op types whose multiply-adds are counted (see the module docstring).
CONV2D = 'Conv2D'
DEPTHWISE = 'DepthwiseConv2dNative'
MATMUL = 'MatMul'
CONV2D_TRANSPOSE = 'Conv2DBackpropInput'
RESIZE_BILINEAR = 'ResizeBilinear'
COUNTED_OP_TYPES = (CONV2D, DEPTHWISE, MATMUL, CONV2D_TRANSPOSE, RESIZE_BILINEAR)
# Multiply-adds per output element of a bilinear resize (4 interpolation taps).
RESIZE_BILINEAR_MADDS_PER_OUTPUT = 4
# Name scope of the training gradients (never counted).
GRADIENTS_SCOPE = 'gradients'
# Number of classes of the ImageNet classification checkpoints the CLI reproduces.
CLASSIFICATION_NUM_CLASSES = 1001


def _static_shape(tensor, what):
  shape = tensor.get_shape()
  if shape.rank is None or any(d is None for d in shape.as_list()[1:]):
    raise ValueError('graph_stats needs static shapes; %s of op %r is %s' %
                     (what, tensor.op.name, shape))
  return shape.as_list()


def _product(values):
  result = 1
  for v in values:
    result *= v
  return result


def _windowed_madds(op, spatial_input, what, kernel_dims):
  """prod(spatial tensor dims) * prod(first `kernel_dims` filter dims), per example."""
  spatial = _static_shape(spatial_input, what)
  kernel = _static_shape(op.inputs[1], 'filter')
  return _product(spatial[1:]) * _product(kernel[:kernel_dims])


def op_madds(op):
  """Returns the per-example multiply-adds of one op (0 for op types that are not counted).

  Args:
    op: A tf.Operation.

  Returns:
    An int.

  Raises:
    ValueError: if a counted op has an unknown (non-batch) dimension.
  """
  if op.type == CONV2D:
    return _windowed_madds(op, op.outputs[0], 'output', 3)
  if op.type == DEPTHWISE:
    return _windowed_madds(op, op.outputs[0], 'output', 2)
  if op.type == CONV2D_TRANSPOSE:
    # Every input (out_backprop) element is spread over a k_h x k_w x out_c window.
    return _windowed_madds(op, op.inputs[2], 'out_backprop', 3)
  if op.type == MATMUL:
    a = _static_shape(op.inputs[0], 'input a')
    out = _static_shape(op.outputs[0], 'output')
    inner = a[0] if op.get_attr('transpose_a') else a[1]
    # Per example: one row of the product for a [batch, k] input.
    return out[1] * inner
  if op.type == RESIZE_BILINEAR:
    out = _static_shape(op.outputs[0], 'output')
    return _product(out[1:]) * RESIZE_BILINEAR_MADDS_PER_OUTPUT
  return 0


def _in_scope(name, scope):
  return scope is None or name == scope or name.startswith(scope.rstrip('/') + '/')


def graph_stats(graph=None, scope=None, count_resize=True):
  """Counts trainable parameters and forward multiply-adds of a graph.

  Args:
    graph: A tf.Graph; None uses the default graph.
    scope: Only count variables and ops whose names start with `scope/` (None: everything).
    count_resize: Count ResizeBilinear (4 per output element), as the DeepLab model zoo does.

  Returns:
    {'params': int, 'madds': int}; madds are per example (see the module docstring for what is
    counted).

  Raises:
    ValueError: if a counted op has an unknown non-batch dimension.
  """
  graph = graph or tf.compat.v1.get_default_graph()
  params = 0
  for var in graph.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES):
    if _in_scope(var.op.name, scope):
      params += var.get_shape().num_elements()
  madds = 0
  for op in graph.get_operations():
    if op.type not in COUNTED_OP_TYPES or not _in_scope(op.name, scope):
      continue
    if op.name.split('/')[0] == GRADIENTS_SCOPE:
      continue
    if op.type == RESIZE_BILINEAR and not count_resize:
      continue
    madds += op_madds(op)
  return {'params': int(params), 'madds': int(madds)}


def build_classifier(model_variant, input_size=None, depth_multiplier=None,
                     num_classes=CLASSIFICATION_NUM_CLASSES):
  """Builds a registered classification net in the default graph (inference mode).

  Args:
    model_variant: Registry name.
    input_size: Square input size; None uses the record's default_image_size.
    depth_multiplier: None uses the record's.
    num_classes: Logits width.

  Returns:
    (logits, end_points).
  """
  record = registry.get(model_variant)
  size = input_size or record.default_image_size
  images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3], name='images')
  return record.classifier_fn(images, num_classes, is_training=False,
                              depth_multiplier=depth_multiplier)


def format_stats(stats):
  """Returns 'params: 3.50M  madds: 300.8M' style text for a graph_stats dict."""
  def human(n):
    for unit, div in (('B', 1e9), ('M', 1e6), ('K', 1e3)):
      if n >= div:
        return '%.3f%s' % (n / div, unit)
    return str(n)
  return 'params: %s (%d)  madds: %s (%d)' % (human(stats['params']), stats['params'],
                                              human(stats['madds']), stats['madds'])


@dataclasses.dataclass
class StatsOptions:
  """Flags of `python -m slim.nets.stats`."""
  model_variant: str = options.flag('mobilenet_v2', 'slim.nets.registry name.', kind='enum',
                                    enum_values=registry.names())
  input_size: int = options.flag(None, "Square input size (default: the record's).",
                                 kind='integer')
  depth_multiplier: float = options.flag(None, "Channel multiplier (default: the record's).",
                                         kind='float')


def describe(model_variant, what, depth_multiplier, input_size, stats):
  """Returns the CLI's one-line report, e.g. 'mobilenet_v2 classification ...: params: ...'.

  Args:
    model_variant: Registry name.
    what: What was built (e.g. 'classification', 'DeepLab OS16').
    depth_multiplier: The multiplier asked for (None prints 'default').
    input_size: The input size asked for (None prints 'default').
    stats: A `graph_stats` dict.

  Returns:
    The line.
  """
  return '%s %s depth_multiplier=%s input=%s: %s' % (
      model_variant, what, 'default' if depth_multiplier is None else depth_multiplier,
      input_size or 'default', format_stats(stats))


def run(opts):
  """Builds the classification net of `opts` (a StatsOptions) and returns the report line."""
  graph = tf.Graph()
  with graph.as_default():
    build_classifier(opts.model_variant, input_size=opts.input_size,
                     depth_multiplier=opts.depth_multiplier)
  return describe(opts.model_variant, 'classification', opts.depth_multiplier, opts.input_size,
                  graph_stats(graph))


def main():
  """Entry point: parses the flags, prints the stats line."""
  from absl import app  # pylint: disable=g-import-not-at-top
  options.define_flags(StatsOptions)
  app.run(lambda argv: print(run(options.from_flags(StatsOptions))))


if __name__ == '__main__':
  main()
