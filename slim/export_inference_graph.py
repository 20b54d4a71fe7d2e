"""Exports a classifier's inference graph; optionally frozen with a checkpoint and converted.

slim's flags: --model_name, --output_file, --image_size, --batch_size, --is_training,
--quantize, --dataset_name/--dataset_dir/--labels_offset (class count), --write_text_graphdef.
Without --checkpoint_path the output is the bare inference GraphDef, as in the original (freeze
it later with the checkpoint). With --checkpoint_path the output is the FROZEN graph (variables
as constants), ready for `tflite_convert`; --tflite_output_file then also converts it:

  python slim/export_inference_graph.py --model_name=mobilenet_v2 --image_size=64 \
      --batch_size=1 --quantize --dataset_dir=DIR --checkpoint_path=/tmp/qat \
      --output_file=/tmp/qat/frozen.pb --tflite_output_file=/tmp/qat/model_uint8.tflite

The graph input is the float placeholder `input` [batch, size, size, 3] holding PREPROCESSED
images (the model's input range, e.g. [-1, 1] for MobileNets); the output is the softmax op of
end point 'Predictions' (e.g. `MobilenetV2/Predictions/Reshape_1`). Beside --output_file a
`<output_file>.io.json` records input/output names, input shape and the uint8 mean/std, for the
converters (`slim/tflite/ptq.py` reads it). Every file is written atomically.

A pruned checkpoint (with `.../mask` variables, see train_image_classifier.py --pruning_hparams)
is detected: the graph is built with the masks, frozen, and the masks are folded into the
weights (`slim.pruning.strip_pruning_vars_fn`), so the frozen graph has no mask / masked_weight
op, only weight constants with the pruned zeros (kept by the uint8 / int8 conversion: 0.0 is
exactly representable in the QAT ranges). The io JSON then records `"pruned": true`.
"""
import dataclasses
import json
import os
import sys
from typing import Optional

if __name__ == '__main__' and __package__ in (None, ''):
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402

import slim  # noqa: E402,F401  (graph-mode TF1 behaviour before any TF use)
import slim.quantize as contrib_quantize  # noqa: E402
import tensorflow as tf  # noqa: E402

from slim import classification_data  # noqa: E402
from slim import classification_model  # noqa: E402
from slim import fileio  # noqa: E402
from slim import pruning  # noqa: E402
from slim.tflite import convert  # noqa: E402

IO_SPEC_SUFFIX = '.io.json'
TFLITE_TYPES = ('uint8', 'int8', 'float')


@dataclasses.dataclass
class ExportOptions:
  """Options of `export` (the original flags plus freezing/conversion)."""
  output_file: str
  model_name: str = 'mobilenet_v2'
  is_training: bool = False
  image_size: Optional[int] = None
  batch_size: Optional[int] = None
  num_classes: Optional[int] = None
  dataset_name: str = 'synthetic_classification'
  dataset_dir: Optional[str] = None
  labels_offset: int = 0
  quantize: bool = False
  per_channel: bool = False
  write_text_graphdef: bool = False
  checkpoint_path: Optional[str] = None
  tflite_output_file: Optional[str] = None
  tflite_type: str = 'uint8'


def io_spec_path(output_file):
  """Path of the io JSON written beside `output_file`."""
  return output_file + IO_SPEC_SUFFIX


def read_io_spec(output_file):
  """Reads the io JSON of an exported graph (see module docstring)."""
  path = io_spec_path(output_file)
  if not os.path.isfile(path):
    raise ValueError('%s not found: export the graph with export_inference_graph.py' % path)
  with open(path) as f:
    return json.load(f)


def _num_classes(opts):
  if opts.num_classes:
    return opts.num_classes
  if not opts.dataset_dir:
    raise ValueError('--num_classes or --dataset_dir (with labels.txt) is required to size the '
                     'logits')
  # Any split works: only the class count is used.
  for split in ('train', 'validation'):
    try:
      descriptor = classification_data.get_dataset(opts.dataset_name, split, opts.dataset_dir)
      return descriptor.num_classes - opts.labels_offset
    except ValueError as e:
      error = e
  raise error


def build_inference_graph(model_name, num_classes, image_size, batch_size=None,
                          is_training=False, quantize=False, per_channel=False, masked=False):
  """Builds the classifier on a float placeholder `input` in the default graph.

  Args:
    model_name: registered network name.
    num_classes: logits width.
    image_size: input height and width.
    batch_size: static batch size, or None.
    is_training: build the training-mode network (BN in batch mode).
    quantize: apply the eval QAT rewrite (FakeQuant ops with the trained ranges).
    per_channel: with quantize, per-channel weight ranges (int8 per-channel TFLite; derived from
      the weights at export when the checkpoint is per-tensor).
    masked: build with the pruning masks (to restore a pruned checkpoint).

  Returns:
    (input placeholder, predictions tensor).
  """
  placeholder = tf.compat.v1.placeholder(
      tf.float32, [batch_size, image_size, image_size, 3], name=classification_model.INPUT_NODE)
  network_fn = classification_model.get_network_fn(model_name, num_classes,
                                                   is_training=is_training)
  _, end_points = classification_model.build_network(network_fn, placeholder, masked=masked)
  if quantize:
    if per_channel:
      contrib_quantize.experimental_create_eval_graph(per_channel=True)
    else:
      contrib_quantize.create_eval_graph()
  return placeholder, end_points[classification_model.PREDICTIONS_ENDPOINT]


def _checkpoint_file(checkpoint_path):
  if tf.io.gfile.isdir(checkpoint_path):
    latest = tf.train.latest_checkpoint(checkpoint_path)
    if not latest:
      raise ValueError('--checkpoint_path=%s: folder holds no checkpoint' % checkpoint_path)
    return latest
  if not tf.io.gfile.exists(checkpoint_path + '.index'):
    raise ValueError('--checkpoint_path=%s: no such checkpoint' % checkpoint_path)
  return checkpoint_path


def export(opts):
  """Writes the (frozen) inference graph, its io JSON and optionally the TFLite model.

  Returns:
    The io spec dict: input_arrays, output_arrays, input_shape, mean_values, std_dev_values,
    model_name, quantize, frozen, pruned.

  Raises:
    ValueError: bad options (named in the message).
    slim.tflite.convert.NotFullyQuantizedError: quantized TFLite model with float ops.
  """
  if not opts.output_file:
    raise ValueError('--output_file is required')
  if opts.tflite_type not in TFLITE_TYPES:
    raise ValueError('--tflite_type=%s: expected one of %s'
                     % (opts.tflite_type, ', '.join(TFLITE_TYPES)))
  if opts.tflite_output_file and not opts.checkpoint_path:
    raise ValueError('--tflite_output_file needs --checkpoint_path (a frozen graph)')
  if opts.tflite_output_file and opts.tflite_type != 'float' and not opts.quantize:
    raise ValueError('--tflite_type=%s needs --quantize (a QAT graph); for a float model use '
                     'slim/tflite/ptq.py (post-training quantization)' % opts.tflite_type)
  image_size = opts.image_size or classification_model.default_image_size(opts.model_name)
  num_classes = _num_classes(opts)
  mean, std = classification_model.input_stats(opts.model_name)
  checkpoint = _checkpoint_file(opts.checkpoint_path) if opts.checkpoint_path else None
  pruned = bool(checkpoint) and pruning.is_pruned_checkpoint(checkpoint)
  graph = tf.Graph()
  with graph.as_default():
    placeholder, predictions = build_inference_graph(
        opts.model_name, num_classes, image_size, opts.batch_size, opts.is_training,
        opts.quantize, opts.per_channel, masked=pruned)
    spec = {
        'model_name': opts.model_name,
        'input_arrays': [placeholder.op.name],
        'output_arrays': [predictions.op.name],
        'input_shape': [opts.batch_size or 1, image_size, image_size, 3],
        'num_classes': num_classes,
        'mean_values': mean,
        'std_dev_values': std,
        'quantize': opts.quantize,
        'frozen': bool(checkpoint),
        'pruned': pruned,
    }
    if checkpoint:
      with tf.compat.v1.Session(graph=graph) as sess:
        try:
          convert.restore_for_export(sess, checkpoint)
        except ValueError as e:
          raise ValueError('--checkpoint_path=%s: %s' % (opts.checkpoint_path, e)) from None
        graph_def = convert.freeze_session(sess, spec['output_arrays'])
      if pruned:
        graph_def = pruning.strip_pruning_vars_fn(graph_def, spec['output_arrays'])
      spec['checkpoint'] = checkpoint
    else:
      graph_def = graph.as_graph_def()
  if opts.write_text_graphdef:
    fileio.atomic_write_text(opts.output_file, str(graph_def))
  else:
    fileio.atomic_write_bytes(opts.output_file, graph_def.SerializeToString())
  fileio.atomic_write_text(io_spec_path(opts.output_file), json.dumps(spec, indent=2))
  if opts.tflite_output_file:
    fileio.atomic_write_bytes(opts.tflite_output_file, convert_frozen(graph_def, spec,
                                                                      opts.tflite_type))
  logging.info('Exported %s (input %s, output %s)', opts.output_file, spec['input_arrays'][0],
               spec['output_arrays'][0])
  return spec


def convert_frozen(graph_def, spec, tflite_type):
  """Converts a frozen export to TFLite: 'uint8' / 'int8' (QAT graphs) or 'float'."""
  args = (graph_def, spec['input_arrays'], spec['output_arrays'], [spec['input_shape']])
  if tflite_type == 'float':
    return convert.convert_float(*args)
  fn = convert.convert_uint8 if tflite_type == 'uint8' else convert.convert_int8
  return fn(*args, mean_values=spec['mean_values'], std_dev_values=spec['std_dev_values'])


def define_flags():
  """Defines the original script's flags plus freezing/conversion flags."""
  flags.DEFINE_string('model_name', 'mobilenet_v2', 'Architecture (%s).'
                      % ', '.join(classification_model.model_names()))
  flags.DEFINE_bool('is_training', False, 'Export the training-mode graph.')
  flags.DEFINE_integer('image_size', None, 'Input size; None uses the model default.')
  flags.DEFINE_integer('batch_size', None, 'Static batch size; None leaves it dynamic.')
  flags.DEFINE_integer('num_classes', None, 'Logits width; None reads labels.txt of '
                       '--dataset_dir.')
  flags.DEFINE_string('dataset_name', 'synthetic_classification', 'Dataset name.')
  flags.DEFINE_string('dataset_dir', None, 'Dataset folder (for the class count).')
  flags.DEFINE_integer('labels_offset', 0, 'Offset subtracted from the class count.')
  flags.DEFINE_bool('quantize', False, 'Apply the eval QAT rewrite (create_eval_graph).')
  flags.DEFINE_bool('per_channel', False, 'With --quantize: per-channel weight ranges (derived '
                    'from the weights when the QAT checkpoint is per-tensor); convert with '
                    '--tflite_type=int8.')
  flags.DEFINE_bool('write_text_graphdef', False, 'Write a text GraphDef.')
  flags.DEFINE_string('output_file', None, 'Where to write the graph.')
  flags.DEFINE_string('checkpoint_path', None, 'Freeze with this checkpoint (file or folder).')
  flags.DEFINE_string('tflite_output_file', None, 'Also convert the frozen graph to TFLite.')
  flags.DEFINE_enum('tflite_type', 'uint8', TFLITE_TYPES, 'TFLite inference type.')
  flags.mark_flag_as_required('output_file')


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  f = flags.FLAGS
  spec = export(ExportOptions(**{k.name: f[k.name].value
                                 for k in dataclasses.fields(ExportOptions)}))
  print(json.dumps(spec, sort_keys=True))


if __name__ == '__main__':
  define_flags()
  app.run(main)
