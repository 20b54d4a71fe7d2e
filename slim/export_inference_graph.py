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
converters (`slim/ptq_image_classifier.py` reads it). Every file is written atomically.

A pruned checkpoint (with `.../mask` variables, see train_image_classifier.py --pruning_hparams)
is detected: the graph is built with the masks, frozen, and the masks are folded into the
weights (`slim.pruning.strip_pruning_vars_fn`), so the frozen graph has no mask / masked_weight
op, only weight constants with the pruned zeros (kept by the uint8 / int8 conversion: 0.0 is
exactly representable in the QAT ranges). The io JSON then records `"pruned": true`.
"""
import dataclasses
import json
from typing import Optional

from absl import logging

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

from slim import classification_data
from slim import classification_model
from slim import fileio
from slim import pruning
from slim.runtime import checkpoints
from slim.runtime import entry
from slim.runtime import options
from slim.tflite import convert

flag = options.flag
TFLITE_TYPES = ('uint8', 'int8', 'float')


@dataclasses.dataclass
class ExportOptions:
  """Options of `export`: the original flags plus freezing/conversion."""
  output_file: Optional[str] = flag(None, 'Where to write the graph.', kind='string',
                                    required=True)
  model_name: str = flag('mobilenet_v2', 'Architecture (%s).'
                         % ', '.join(classification_model.model_names()))
  is_training: bool = flag(False, 'Export the training-mode graph.')
  image_size: Optional[int] = flag(None, 'Input size; None uses the model default.',
                                   kind='integer')
  batch_size: Optional[int] = flag(None, 'Static batch size; None leaves it dynamic.',
                                   kind='integer')
  num_classes: Optional[int] = flag(None, 'Logits width; None reads labels.txt of '
                                    '--dataset_dir.', kind='integer')
  dataset_name: str = flag('synthetic_classification', 'Dataset name.')
  dataset_dir: Optional[str] = flag(None, 'Dataset folder (for the class count).',
                                    kind='string')
  labels_offset: int = flag(0, 'Offset subtracted from the class count.')
  quantize: bool = flag(False, 'Apply the eval QAT rewrite (create_eval_graph).')
  per_channel: bool = flag(False, 'With --quantize: per-channel weight ranges (derived from the '
                           'weights when the QAT checkpoint is per-tensor); convert with '
                           '--tflite_type=int8.')
  quantize_scheme: Optional[str] = flag(None, classification_model.QUANTIZE_SCHEME_HELP +
                                        ' Needs --quantize.', kind='string')
  allow_float_ops: bool = flag(False, 'New: accept a quantized TFLite model that still has '
                               'float ops (a mixed model, e.g. from a --quantize_scheme with '
                               'float layers) instead of refusing it.')
  write_text_graphdef: bool = flag(False, 'Write a text GraphDef.')
  checkpoint_path: Optional[str] = flag(None, 'Freeze with this checkpoint (file or folder).',
                                        kind='string')
  tflite_output_file: Optional[str] = flag(None, 'Also convert the frozen graph to TFLite.',
                                           kind='string')
  tflite_type: str = flag('uint8', 'TFLite inference type.', kind='enum',
                          enum_values=TFLITE_TYPES)


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
                          is_training=False, quantize=False, per_channel=False, masked=False,
                          quantize_scheme=None):
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
    quantize_scheme: with quantize, the path of a JSON quantization scheme.

  Returns:
    (input placeholder, predictions tensor).
  """
  placeholder = tf.compat.v1.placeholder(
      tf.float32, [batch_size, image_size, image_size, 3], name=classification_model.INPUT_NODE)
  network_fn = classification_model.get_network_fn(model_name, num_classes,
                                                   is_training=is_training)
  _, end_points = classification_model.build_network(network_fn, placeholder, masked=masked)
  if quantize:
    classification_model.quantize_graph(False, per_channel=per_channel,
                                        scheme_path=quantize_scheme)
  return placeholder, end_points[classification_model.PREDICTIONS_ENDPOINT]


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
  if opts.quantize_scheme and not opts.quantize:
    raise ValueError('--quantize_scheme=%s needs --quantize' % opts.quantize_scheme)
  if opts.tflite_output_file and opts.tflite_type != 'float' and not opts.quantize:
    raise ValueError('--tflite_type=%s needs --quantize (a QAT graph); for a float model use '
                     'slim/ptq_image_classifier.py (post-training quantization)' % opts.tflite_type)
  image_size = opts.image_size or classification_model.default_image_size(opts.model_name)
  num_classes = _num_classes(opts)
  mean, std = classification_model.input_stats(opts.model_name)
  checkpoint = (checkpoints.resolve(opts.checkpoint_path, 'checkpoint_path')
                if opts.checkpoint_path else None)
  pruned = bool(checkpoint) and pruning.is_pruned_checkpoint(checkpoint)
  graph = tf.Graph()
  with graph.as_default():
    placeholder, predictions = build_inference_graph(
        opts.model_name, num_classes, image_size, opts.batch_size, opts.is_training,
        opts.quantize, opts.per_channel, masked=pruned, quantize_scheme=opts.quantize_scheme)
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
          checkpoints.restore_for_export(sess, checkpoint)
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
  fileio.atomic_write_text(classification_model.io_spec_path(opts.output_file),
                           json.dumps(spec, indent=2))
  if opts.tflite_output_file:
    fileio.atomic_write_bytes(opts.tflite_output_file, convert_frozen(
        graph_def, spec, opts.tflite_type, allow_float_ops=opts.allow_float_ops))
  logging.info('Exported %s (input %s, output %s)', opts.output_file, spec['input_arrays'][0],
               spec['output_arrays'][0])
  return spec


def convert_frozen(graph_def, spec, tflite_type, allow_float_ops=False):
  """Converts a frozen export to TFLite: 'uint8' / 'int8' (QAT graphs) or 'float'.

  `allow_float_ops` accepts a mixed quantized model (float layers of a scheme)."""
  args = (graph_def, spec['input_arrays'], spec['output_arrays'], [spec['input_shape']])
  if tflite_type == 'float':
    return convert.convert_float(*args)
  fn = convert.convert_uint8 if tflite_type == 'uint8' else convert.convert_int8
  return fn(*args, mean_values=spec['mean_values'], std_dev_values=spec['std_dev_values'],
            allow_float_ops=allow_float_ops)


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  spec = export(options.from_flags(ExportOptions))
  print(json.dumps(spec, sort_keys=True))


def run():
  """Console-script entry point."""
  entry.run(main, ExportOptions)


if __name__ == '__main__':
  run()
