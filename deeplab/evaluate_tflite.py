"""mIoU of a DeepLab .tflite model over a dataset split, and its single-image latency.

As the recipe says (g3doc/quantize.md), resizing and padding happen outside the model: each image
goes through eval.py's preprocessing to the model input size (deeplab/utils/tflite_utils.py).

Usage:
  python deeplab/evaluate_tflite.py --tflite_path=model.tflite --dataset=synthetic \
      --dataset_dir=DIR/tfrecord --eval_split=val
"""

import os

from absl import flags
import slim  # noqa: F401  pylint: disable=unused-import
from slim.runtime import entry
from slim.runtime import options
from slim.tflite import latency

from deeplab import common  # noqa: F401  (defines --model_variant)
from deeplab.options import EvaluateTfliteOptions
from deeplab.utils import tflite_utils


def main(unused_argv):
  opts = options.from_flags(EvaluateTfliteOptions, model_variant=flags.FLAGS.model_variant)
  segmenter = tflite_utils.TFLiteSegmenter(opts.tflite_path, opts.num_threads,
                                           tflite_utils.input_stats(opts.model_variant))
  _, miou, count = tflite_utils.evaluate(segmenter, tflite_utils.eval_dataset(
      opts.dataset, opts.eval_split, opts.dataset_dir, segmenter.input_size, opts.model_variant))
  with open(opts.tflite_path, 'rb') as f:
    timing = latency.interleaved_latency({opts.tflite_path: f.read()}, opts.num_threads,
                                         runs=opts.latency_runs)
  print('tflite %s: miou %.4f over %d images; latency %.1f ms (%d thread(s)); size %d bytes'
        % (opts.tflite_path, miou, count, timing[opts.tflite_path]['median_ms'],
           opts.num_threads, os.path.getsize(opts.tflite_path)))


def run():
  """Console-script entry point."""
  entry.run(main, EvaluateTfliteOptions)


if __name__ == '__main__':
  run()
