"""Post-training quantization (PTQ) of a float DeepLab frozen graph to a fully integer TFLite model.

The baseline that QAT is measured against: no fake quantization, the converter calibrates every
tensor's range on --num_calibration_images images of --calibration_split (padded to the model
input size as the evaluation pads them) and quantizes weights per channel (int8 kernels). The
input is the backbone input of the --model_variant record, as convert_to_tflite.py's.

  python deeplab/ptq_to_tflite.py --model_variant=mobilenet_multi_avg_seg --dataset=synthetic \
      --dataset_dir=DATA/tfrecord --float_graph_def_path=RUN/export_float/frozen_inference_graph.pb \
      --input_tensor_name=MobilenetMultiAVG/MobilenetMultiAVG/input:0 --output_tflite_path=ptq.tflite
"""

from absl import flags
import slim  # noqa: F401  pylint: disable=unused-import
from slim import fileio
from slim.runtime import entry
from slim.runtime import options
from slim.tflite import convert as tflite_convert

from deeplab import common  # noqa: F401  (defines --model_variant)
from deeplab.options import PtqOptions
from deeplab.utils import tflite_utils


def main(unused_argv):
  opts = options.from_flags(PtqOptions, model_variant=flags.FLAGS.model_variant)
  graph_def = tflite_convert.load_graph_def(opts.float_graph_def_path, 'float_graph_def_path')
  crop_size = tflite_utils.static_input_shape(graph_def, opts.input_tensor_name)[1:3]
  dataset = tflite_utils.eval_dataset(opts.dataset, opts.calibration_split, opts.dataset_dir,
                                      crop_size, opts.model_variant)
  model = tflite_utils.convert_ptq(graph_def, opts.input_tensor_name, opts.output_tensor_name,
                                   dataset, opts.model_variant, opts.num_calibration_images,
                                   opts.io_type)
  fileio.atomic_write_bytes(opts.output_tflite_path, model)
  print('Wrote %s (PTQ %s, %d bytes)' % (opts.output_tflite_path, opts.io_type, len(model)))


def run():
  """Console-script entry point."""
  entry.run(main, PtqOptions)


if __name__ == '__main__':
  run()
