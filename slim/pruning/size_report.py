"""Dense vs sparse model size: what a pruned model saves on disk and over the wire.

A pruned model stores its zeros densely (tensorflow#20673, model-optimization#722), so raw file
sizes do not move. This module measures, for one stripped frozen GraphDef:

  graph_def_bytes / graph_def_gzip   serialized GraphDef, raw and gzip -9 compressed
  tflite_bytes / tflite_gzip         float .tflite (v1 converter), raw and gzip -9
  sparse_tflite_bytes / _gzip        float .tflite converted with
                                     optimizations=[tf.lite.Optimize.EXPERIMENTAL_SPARSITY]

Compression uses `gzip.compress(data, compresslevel=9, mtime=0)` (deterministic); this is the
measure the TFMOT guides use ("gzip-compressed size"). The v1 converter of TF 2.21
(`tf.compat.v1.lite.TFLiteConverter.from_frozen_graph`) accepts EXPERIMENTAL_SPARSITY: it stores
sufficiently sparse constant weights in a sparse format and leaves a DENSIFY op in front of the
consumer (see g3doc/pruning.md for measured sizes).
"""
import collections
import gzip
import os
import tempfile

import tensorflow as tf

import slim  # pylint: disable=unused-import  (TF1 graph mode)

SizeRecord = collections.namedtuple(
    'SizeRecord', 'label graph_def_bytes graph_def_gzip tflite_bytes tflite_gzip '
    'sparse_tflite_bytes sparse_tflite_gzip')

MEASURE = 'bytes; *_gzip = len(gzip.compress(data, compresslevel=9, mtime=0))'


def gzip_size(data):
  """Size in bytes of `data` compressed with gzip level 9 (deterministic: mtime=0)."""
  return len(gzip.compress(data, compresslevel=9, mtime=0))


def convert_float_tflite(graph_def, input_arrays, output_arrays, input_shapes, sparsity=False):
  """Converts a frozen float GraphDef with the v1 converter, optionally with sparse weights.

  Args:
    graph_def: frozen (and stripped) GraphDef.
    input_arrays, output_arrays: input and output op names.
    input_shapes: one shape per input.
    sparsity: add optimizations=[tf.lite.Optimize.EXPERIMENTAL_SPARSITY].

  Returns:
    The .tflite flatbuffer bytes.
  """
  # from_frozen_graph reads a file; the temp copy is removed right after loading.
  fd, pb_path = tempfile.mkstemp(suffix='.pb')
  with os.fdopen(fd, 'wb') as f:
    f.write(graph_def.SerializeToString())
  try:
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        pb_path, list(input_arrays), list(output_arrays),
        input_shapes={n: list(s) for n, s in zip(input_arrays, input_shapes)})
  finally:
    os.remove(pb_path)
  if sparsity:
    converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
  return converter.convert()


def model_size(label, graph_def, input_arrays, output_arrays, input_shapes):
  """Measures one model (see the module docstring for the fields).

  Args:
    label: row label (e.g. 'dense', '50%').
    graph_def: frozen GraphDef, stripped of pruning variables.
    input_arrays, output_arrays, input_shapes: as for `convert_float_tflite`.

  Returns:
    A SizeRecord.
  """
  graph_bytes = graph_def.SerializeToString()
  dense = convert_float_tflite(graph_def, input_arrays, output_arrays, input_shapes)
  sparse = convert_float_tflite(graph_def, input_arrays, output_arrays, input_shapes,
                                sparsity=True)
  return SizeRecord(label, len(graph_bytes), gzip_size(graph_bytes), len(dense),
                    gzip_size(dense), len(sparse), gzip_size(sparse))


def format_size_report(records):
  """Formats SizeRecords as a Markdown table (sizes in bytes).

  Args:
    records: list of SizeRecord; the first is the reference for the ratio columns.

  Returns:
    The Markdown table as a string.
  """
  header = ('| model | GraphDef | GraphDef gzip | .tflite | .tflite gzip | sparse .tflite | '
            'sparse .tflite gzip |')
  lines = [header, '|' + '---|' * 7]
  base = records[0] if records else None
  for r in records:
    cells = []
    for field in SizeRecord._fields[1:]:
      value, ref = getattr(r, field), getattr(base, field)
      cells.append('%d (%.2fx)' % (value, value / float(ref)) if r is not base else '%d' % value)
    lines.append('| %s | %s |' % (r.label, ' | '.join(cells)))
  return '\n'.join(lines)


INPUT_NAME = 'input'
OUTPUT_NAME = 'output'


def pruned_graph_def(build_fn, input_shape, sparsity, variable_names=('weights', 'pointwise_weights'), seed=0):
  """Builds a model with masked weights, prunes it to `sparsity` once, freezes and strips it.

  The weights are the (seeded) initial values; magnitude pruning then zeroes the smallest
  `sparsity` fraction of each masked weight (histogram threshold, as in training).

  Args:
    build_fn: f(images) -> output tensor, building the model in the default graph.
    input_shape: static input shape, e.g. [1, 224, 224, 3].
    sparsity: target sparsity in [0, 1); 0 leaves the masks at one (the dense model).
    variable_names: weight base names to prune (see `pruning.masked_variable_getter`).
    seed: graph-level random seed, so every sparsity prunes the same weights.

  Returns:
    A frozen, stripped GraphDef with input `input` and output `output`.
  """
  # Imported here: pruning imports are cheap, but keep this module usable on its own.
  from slim.pruning import pruning
  from slim.pruning import strip_pruning_vars_lib
  v1 = tf.compat.v1
  graph = tf.Graph()
  with graph.as_default():
    v1.set_random_seed(seed)
    images = v1.placeholder(tf.float32, input_shape, name=INPUT_NAME)
    with v1.variable_scope('', custom_getter=pruning.masked_variable_getter(variable_names)):
      tf.identity(build_fn(images), name=OUTPUT_NAME)
    step = v1.train.get_or_create_global_step()
    update = pruning.Pruning(global_step=step, sparsity=tf.constant(float(sparsity))).mask_update_op()
    with v1.Session(graph=graph) as sess:
      sess.run(v1.global_variables_initializer())
      if sparsity > 0:
        sess.run(update)
      frozen = v1.graph_util.convert_variables_to_constants(
          sess, graph.as_graph_def(), [OUTPUT_NAME])
  return strip_pruning_vars_lib.strip_pruning_vars_fn(frozen, [OUTPUT_NAME])


def sparsity_size_report(build_fn, input_shape, sparsities=(0.0, 0.5, 0.8),
                         variable_names=('weights', 'pointwise_weights')):
  """Dense-vs-sparse size table: one SizeRecord per sparsity (labels 'dense', '50%', ...).

  Args:
    build_fn, input_shape, variable_names: as `pruned_graph_def`.
    sparsities: target sparsities; the first row is the ratio reference.

  Returns:
    A list of SizeRecord.
  """
  records = []
  for sparsity in sparsities:
    graph_def = pruned_graph_def(build_fn, input_shape, sparsity, variable_names)
    label = 'dense' if sparsity == 0 else '%g%%' % (100 * sparsity)
    records.append(model_size(label, graph_def, [INPUT_NAME], [OUTPUT_NAME], [input_shape]))
  return records


def registry_classifier_fn(model_variant, depth_multiplier=1.0, num_classes=1001):
  """Returns build_fn(images) for a registered backbone + global pool + 1x1 `Logits` conv.

  Args:
    model_variant: a `slim.nets.registry` name (e.g. 'mobilenet_v2').
    depth_multiplier: channel multiplier of the backbone.
    num_classes: logits width (1001 as the ImageNet checkpoints).
  """
  import tf_slim
  from slim.nets import registry
  record = registry.get(model_variant)

  def build_fn(images):
    with tf_slim.arg_scope(record.arg_scope_fn(is_training=False, weight_decay=0.0,
                                               bn_decay=record.default_bn_decay)):
      # A VariableScope object, as slim.nets.registry passes it (ResNet's builder needs one).
      with tf.compat.v1.variable_scope(record.scope) as scope:
        net, _ = record.build_fn(images, scope=scope, depth_multiplier=depth_multiplier,
                                 is_training=False)
      net = tf.reduce_mean(net, [1, 2], keepdims=True)
      logits = tf_slim.conv2d(net, num_classes, 1, activation_fn=None, normalizer_fn=None,
                              scope='Logits')
      return tf.squeeze(logits, [1, 2])

  return build_fn


def main(argv):
  """Entry point: prints (and optionally writes) the size table for a registered backbone."""
  del argv
  from absl import flags
  from slim import fileio
  f = flags.FLAGS
  sparsities = [float(s) for s in f.sparsities.split(',')]
  if any(not 0.0 <= s < 1.0 for s in sparsities):
    raise ValueError('--sparsities: expected comma-separated values in [0, 1), got %r' %
                     f.sparsities)
  build_fn = registry_classifier_fn(f.model_variant, f.depth_multiplier)
  records = sparsity_size_report(build_fn, [1, f.image_size, f.image_size, 3], sparsities)
  table = ('%s depth_multiplier=%g, %dx%d input, random init weights; %s\n\n%s\n' %
           (f.model_variant, f.depth_multiplier, f.image_size, f.image_size, MEASURE,
            format_size_report(records)))
  print(table)
  if f.output:
    fileio.atomic_write_text(f.output, table)


def _define_flags():
  from absl import flags
  flags.DEFINE_string('model_variant', 'mobilenet_v2', 'slim.nets.registry backbone name.')
  flags.DEFINE_float('depth_multiplier', 1.0, 'Backbone depth multiplier.')
  flags.DEFINE_integer('image_size', 224, 'Input height and width.')
  flags.DEFINE_string('sparsities', '0,0.5,0.8', 'Comma-separated target sparsities.')
  flags.DEFINE_string('output', None, 'Optional Markdown file for the table.')


def run():
  """Console-script entry point."""
  from absl import app  # pylint: disable=g-import-not-at-top
  _define_flags()
  app.run(main)


if __name__ == '__main__':
  run()
