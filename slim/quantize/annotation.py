"""`annotate(...)`: mark layers while building the graph (tfmot's quantize_annotate_layer).

The module is `annotation` so that `slim.quantize.annotate` can be the context manager itself.

    with contrib_quantize.annotate(weight_bits=4):
      net = slim.conv2d(net, 64, [3, 3], scope='conv2')
    ...
    contrib_quantize.experimental_create_training_graph(quant_delay=0,
                                                        quantize_annotated_only=True)

The block records which ops it created; at rewrite time the experimental functions read the
records of the graph (the four original functions ignore them, as tf.contrib.quantize did). An
annotation covers the ops the block created and, for every layer op (conv/FC) it created, the
ops that batch-norm folding later adds next to it (`conv2/Conv2D_Fold`, `conv2/mul_fold`, ...,
the same name scope). Its keywords are a `scheme.LayerConfig`; they override the scheme's rules
for those ops. Nested blocks: the innermost one decides (configs are not merged).
"""
import contextlib
import dataclasses
from typing import FrozenSet

import tensorflow as tf

from slim.quantize import scheme as scheme_lib
from slim.quantize import tflite_target

# Graph collection holding the `Annotation`s, innermost block first.
ANNOTATIONS_COLLECTION = 'slim_quantize_annotations'


@dataclasses.dataclass(frozen=True)
class Annotation:
  """The ops of one `annotate` block and its config.

  Attributes:
    op_names: names of the ops the block created.
    layer_scopes: name scopes of the layer ops it created (folding adds ops there).
    config: the block's `scheme.LayerConfig`.
  """
  op_names: FrozenSet[str]
  layer_scopes: FrozenSet[str]
  config: scheme_lib.LayerConfig

  def matches(self, op_name):
    return op_name in self.op_names or op_name.rpartition('/')[0] in self.layer_scopes

  def describe(self):
    return 'annotate(%s) block of %d ops' % (', '.join(
        '%s=%r' % (k, v) for k, v in dataclasses.asdict(self.config).items() if v is not None),
                                             len(self.op_names))


@contextlib.contextmanager
def annotate(graph=None, **config):
  """Marks the layers built inside the block for the scheme rewrite.

  Args:
    graph: the graph the block builds into (default graph).
    **config: `scheme.LayerConfig` fields (quantize, weight_bits, activation_bits,
      per_channel, symmetric, narrow_range, weight_quantizer, activation_quantizer).

  Yields:
    None.

  Raises:
    ValueError: an unknown keyword or a bad value (`scheme.SchemeError`), before the block
      runs.
  """
  unknown = sorted(set(config) - {f.name for f in dataclasses.fields(scheme_lib.LayerConfig)})
  if unknown:
    raise ValueError('annotate(): unknown keyword(s) %s' % ', '.join(unknown))
  layer_config = scheme_lib.LayerConfig(**config)
  graph = graph or tf.compat.v1.get_default_graph()
  before = len(graph.get_operations())
  yield
  created = graph.get_operations()[before:]
  graph.add_to_collection(ANNOTATIONS_COLLECTION, Annotation(
      frozenset(op.name for op in created),
      # A top-level layer has no scope of its own ('' would cover every top-level op).
      frozenset(op.name.rpartition('/')[0] for op in created
                if tflite_target.is_layer(op) and '/' in op.name),
      layer_config))


def annotations(graph):
  """The `Annotation`s recorded in `graph`, innermost block first."""
  return tuple(graph.get_collection(ANNOTATIONS_COLLECTION))
