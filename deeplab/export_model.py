"""Exports a trained DeepLab checkpoint to a frozen inference graph.

Input `ImageTensor` (uint8 [1, None, None, 3]); outputs `SemanticPredictions` (int32 [1, H, W])
and `SemanticProbabilities`. With --quantize_delay_step >= 0 the QAT eval rewrite is applied and
the graph also holds the backbone input of the registry record (`MobilenetV2/MobilenetV2/input`
for the MobileNetV2 variants) and the root `ArgMax` that `tflite_convert` uses (see
g3doc/quantize.md). --quantize_per_channel (new) builds the int8 per-channel variant with
experimental_create_eval_graph(per_channel=True). The graph is built by
`deeplab.utils.inference.build_export_graph`.
"""

import os

from absl import flags
from absl import logging
import slim  # noqa: F401  pylint: disable=unused-import
from slim import fileio
from slim.runtime import checkpoints
from slim.runtime import entry
from slim.runtime import options
import tensorflow as tf

from deeplab import common
from deeplab.options import ExportOptions
from deeplab.utils import inference

INFERENCE_GRAPH_TEXT_NAME = 'inference_graph.pbtxt'


def export(opts, model_options):
  """Writes the frozen graph of `opts.checkpoint_path` to `opts.export_path`; returns it.

  Args:
    opts: ExportOptions.
    model_options: common.ModelOptions (crop_size set).

  Raises:
    ValueError: bad flags, a missing checkpoint or one that does not match the graph.
  """
  if len(opts.crop_size) != 2:
    raise ValueError('--crop_size must be given twice (height and width), got %s'
                     % opts.crop_size)
  quantize_scheme = opts.load_quantize_scheme()
  checkpoint = checkpoints.resolve(opts.checkpoint_path, 'checkpoint_path')
  logging.info('Prepare to export model to: %s', opts.export_path)
  with tf.Graph().as_default() as graph:
    inference.build_export_graph(model_options, opts.inference_scales, opts.add_flipped_images,
                                 opts.quantize_delay_step, opts.quantize_per_channel,
                                 opts.min_resize_value, opts.max_resize_value, opts.resize_factor,
                                 quantize_scheme)
    frozen = inference.freeze(checkpoint, [inference.OUTPUT_TENSOR_NAME,
                                           inference.OUTPUT_PROB_TENSOR_NAME], graph)
  fileio.atomic_write_bytes(opts.export_path, frozen.SerializeToString())
  if opts.save_inference_graph:
    fileio.atomic_write_text(
        os.path.join(os.path.dirname(opts.export_path), INFERENCE_GRAPH_TEXT_NAME), str(frozen))
  logging.info('Wrote %s (%d nodes)', opts.export_path, len(frozen.node))
  return frozen


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  opts = options.from_flags(ExportOptions, **common.input_resize_from_flags(flags.FLAGS))
  model_options = common.model_options_from_flags(
      flags.FLAGS, {common.OUTPUT_TYPE: opts.num_classes}, crop_size=list(opts.crop_size),
      **opts.head_kwargs())
  export(opts, model_options)


def run():
  """Console-script entry point."""
  entry.run(main, ExportOptions)


if __name__ == '__main__':
  run()
