"""Converts a quantized DeepLab frozen graph to a fully 8-bit TFLite model.

Same flags as the original. The input is the backbone input (after the in-graph preprocessing),
e.g. `MobilenetV2/MobilenetV2/input:0`, with the input statistics of the --model_variant record
(127.5/127.5 for the MobileNets); the output is `ArgMax:0`. With --test_image_path it prints the
percentage of pixels on which the frozen graph (fed at `ImageTensor:0`) and the TFLite model
agree.

New flags: --inference_type=int8 converts a per-channel export (`export_model.py
--quantize_per_channel`) to int8 with per-channel weight scales (on x86 the uint8 per-tensor model
is not faster than float; int8 is). A model that still contains float ops is refused, naming them,
unless --allow_float_ops is set. --float_argmax feeds the ArgMax a dequantized copy of its
8-bit input (the same labels; on x86 TFLite's 8-bit ARG_MAX kernel costs several times its float
one, see g3doc/quantize.md section 5); the model then has those two float ops.
"""

from absl import flags
import slim  # noqa: F401  pylint: disable=unused-import
from slim import fileio
from slim.runtime import entry
from slim.runtime import options
from slim.tflite import convert as tflite_convert
from slim.tflite import inspection

from deeplab import common  # noqa: F401  (defines --model_variant)
from deeplab.options import ConvertOptions
from deeplab.utils import tflite_utils


def convert_file(opts):
  """Converts `opts.quantized_graph_def_path`; returns (tflite bytes, graph_def)."""
  graph_def = tflite_convert.load_graph_def(opts.quantized_graph_def_path,
                                            'quantized_graph_def_path')
  tflite_model = tflite_utils.convert(graph_def, opts.input_tensor_name, opts.output_tensor_name,
                                      opts.inference_type, opts.allow_float_ops,
                                      opts.model_variant, opts.float_argmax)
  fileio.atomic_write_bytes(opts.output_tflite_path, tflite_model)
  return tflite_model, graph_def


def main(unused_argv):
  opts = options.from_flags(ConvertOptions, model_variant=flags.FLAGS.model_variant)
  tflite_model, graph_def = convert_file(opts)
  print('Wrote %s (%s, %d bytes, %d float ops)' % (
      opts.output_tflite_path, opts.inference_type, len(tflite_model),
      len(inspection.float_ops(tflite_model))))
  if opts.test_image_path:
    agreement = tflite_utils.pixel_agreement(graph_def, tflite_model, opts.test_image_path,
                                             opts.input_tensor_name, opts.output_tensor_name)
    print('%.2f%% pixels have matched semantic labels.' % agreement)


def run():
  """Console-script entry point."""
  entry.run(main, ConvertOptions)


if __name__ == '__main__':
  run()
