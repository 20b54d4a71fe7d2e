"""Post-training full-integer quantization of an exported float classifier (the PTQ baseline).

Calibrates on train-split images preprocessed as at evaluation (the Model Garden recipe), then
converts with `slim.tflite.ptq.convert_ptq_int8`: int8 kernels, per-channel weights, int8 or
uint8 model io. The float graph comes from `export_inference_graph.py --checkpoint_path` (its
`<file>.io.json` names the model, input and output):

  python slim/ptq_image_classifier.py --frozen_graph=RUN/float.pb --dataset_dir=DIR \
      --output_file=RUN/ptq_int8.tflite
"""
import dataclasses
from typing import Optional


import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from slim import classification_data
from slim import classification_model
from slim import fileio
from slim.preprocessing import preprocessing_factory
from slim.runtime import entry
from slim.runtime import options
from slim.tflite import ptq


@dataclasses.dataclass
class PtqOptions:
  """Flags of this script."""
  frozen_graph: Optional[str] = options.flag(
      None, 'Float frozen graph; its <file>.io.json gives the io names and shape.', kind='string',
      required=True)
  dataset_dir: Optional[str] = options.flag(None, 'Classification TFRecord folder.',
                                            kind='string', required=True)
  dataset_name: str = options.flag('synthetic_classification', 'Dataset name.')
  dataset_split_name: str = options.flag('train', 'Calibration split.')
  num_calibration_images: int = options.flag(200, 'Images to calibrate on.')
  io_type: str = options.flag('int8', 'Model input/output type.', kind='enum',
                              enum_values=sorted(ptq.IO_TYPES))
  output_file: Optional[str] = options.flag(None, 'Where to write the .tflite model.',
                                            kind='string', required=True)


def representative_images(dataset_dir, model_name, image_size,
                          dataset_name='synthetic_classification', split_name='train',
                          num_images=200):
  """Yields eval-preprocessed float images [H, W, 3] of a split, for calibration.

  Args:
    dataset_dir: classification TFRecord folder.
    model_name: registered network (selects the preprocessing).
    image_size: model input size.
    dataset_name: registered dataset name.
    split_name: split to draw from (the train split, as the Model Garden recipe does).
    num_images: images to yield.
  """
  descriptor = classification_data.get_dataset(dataset_name, split_name, dataset_dir)
  preprocess_fn = preprocessing_factory.get_preprocessing(
      classification_model.preprocessing_name(model_name))
  for images, _ in classification_data.iterate_numpy(descriptor, preprocess_fn, image_size,
                                                     batch_size=50, max_images=num_images):
    yield from images


def quantize(opts):
  """Writes the PTQ model of `opts.frozen_graph`; returns its size in bytes.

  Raises:
    ValueError: no io JSON beside the graph, or the graph is a QAT export.
    slim.tflite.convert.NotFullyQuantizedError: an op stayed float.
  """
  spec = classification_model.read_io_spec(opts.frozen_graph, 'frozen_graph')
  if spec.get('quantize'):
    raise ValueError('--frozen_graph=%s is a QAT graph; PTQ takes the float export'
                     % opts.frozen_graph)
  images = representative_images(opts.dataset_dir, spec['model_name'], spec['input_shape'][1],
                                 opts.dataset_name, opts.dataset_split_name,
                                 opts.num_calibration_images)
  model = ptq.convert_ptq_int8(opts.frozen_graph, spec['input_arrays'], spec['output_arrays'],
                               [spec['input_shape']], images, io_type=opts.io_type)
  fileio.atomic_write_bytes(opts.output_file, model)
  return len(model)


def main(unused_argv):
  opts = options.from_flags(PtqOptions)
  size = quantize(opts)
  print('Wrote %s (%d bytes, full integer, %s io)' % (opts.output_file, size, opts.io_type))


def run():
  """Console-script entry point."""
  entry.run(main, PtqOptions)


if __name__ == '__main__':
  run()
