"""Evaluates a detector's COCO box AP / AP50 (pycocotools) on a TFRecord split.

Graph mode watches a training folder as DeepLab's eval.py (each new checkpoint; the QAT eval
graph with --quantize_delay_step >= 0); TFLite mode evaluates one .tflite model:

  python detection/eval.py --checkpoint_dir=/tmp/det/float --dataset_dir=DIR \
      --max_number_of_evaluations=1 --results_file=/tmp/det/float_graph.json
  python detection/eval.py --tflite_file=/tmp/det/qat/model_uint8.tflite --dataset_dir=DIR \
      --results_file=/tmp/det/qat_uint8.json --vis_dir=/tmp/det/vis_qat_uint8

The results JSON holds ap, ap50 (fractions), num_images, num_detections (and the checkpoint or
tflite path); --vis_dir gets the first --num_vis_images images with their detections drawn.
"""
import dataclasses
import json
import os
from typing import Optional

from absl import logging

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

from datasets import build_coco_data
from detection import data
from detection import evaluation
from detection import export_lib
from detection import options as det_options
from slim import fileio
from slim.runtime import checkpoints
from slim.runtime import entry
from slim.runtime import eval_driver
from slim.runtime import options

flag = options.flag


@dataclasses.dataclass
class EvalOptions(det_options.ModelFlags, det_options.DatasetFlags, det_options.QuantizeFlags):
  """Flags of the detection evaluator."""
  checkpoint_dir: Optional[str] = flag(None, 'Training folder (or checkpoint) to evaluate.',
                                       kind='string')
  tflite_file: Optional[str] = flag(None, 'Evaluate this TFLite model instead.', kind='string')
  eval_split: str = flag('val', 'Which split of the dataset used for evaluation.')
  max_number_of_evaluations: int = flag(0, 'Maximum number of eval iterations. Will loop '
                                        'indefinitely upon nonpositive values.')
  eval_interval_secs: int = flag(300, 'How often (in seconds) to run evaluation.')
  max_eval_images: Optional[int] = flag(None, 'Evaluate the first N images only.',
                                        kind='integer')
  results_file: Optional[str] = flag(None, 'Write the (last) results as JSON here.',
                                     kind='string')
  vis_dir: Optional[str] = flag(None, 'Write images with drawn detections here.',
                                kind='string')
  num_vis_images: int = flag(4, 'Images drawn into --vis_dir.')


def _run(opts, detect_fn, image_size, source):
  files = data.split_files(opts.dataset_dir, opts.eval_split)
  labels = build_coco_data.read_labels(opts.dataset_dir)

  def on_image(index, image, detections):
    if opts.vis_dir and index < opts.num_vis_images:
      os.makedirs(opts.vis_dir, exist_ok=True)
      canvas = evaluation.draw(image, detections, labels)
      with fileio.atomic_write(os.path.join(opts.vis_dir, '%03d.png' % index)) as f:
        canvas.save(f, format='PNG')

  metrics = evaluation.coco_metrics(data.eval_examples(files, image_size), detect_fn,
                                    sorted(labels), opts.max_eval_images, on_image)
  metrics.update(source)
  logging.info('COCO AP %.4f AP50 %.4f on %d images (%s)', metrics['ap'], metrics['ap50'],
               metrics['num_images'], source)
  if opts.results_file:
    fileio.atomic_write_text(opts.results_file, json.dumps(metrics, indent=2))
  return metrics


def evaluate_checkpoint(opts, checkpoint):
  """AP of the export graph (float or QAT eval rewrite) restored from `checkpoint`."""
  spec = opts.spec()
  image_size = opts.input_size()
  graph = tf.Graph()
  with graph.as_default():
    export_lib.build_inference_graph(spec, opts.num_classes(), image_size,
                                     quantize=opts.quantize_delay_step >= 0)
    with tf.compat.v1.Session(graph=graph) as sess:
      checkpoints.restore_for_export(sess, checkpoint)
      detector = evaluation.GraphDetector(sess, spec, image_size)
      return _run(opts, detector.detect, image_size, {'checkpoint': checkpoint})


def evaluate(opts):
  """Evaluates the TFLite model, or each new checkpoint; returns the list of results."""
  if bool(opts.checkpoint_dir) == bool(opts.tflite_file):
    raise ValueError('give exactly one of --checkpoint_dir and --tflite_file')
  if opts.tflite_file:
    detector = evaluation.TFLiteDetector(opts.tflite_file)
    return [_run(opts, detector.detect, detector.image_size, {'tflite': opts.tflite_file})]
  if os.path.isdir(opts.checkpoint_dir):
    return eval_driver.evaluate_checkpoints(
        opts.checkpoint_dir, lambda ckpt: evaluate_checkpoint(opts, ckpt),
        eval_interval_secs=opts.eval_interval_secs,
        max_number_of_evaluations=opts.max_number_of_evaluations)
  return [evaluate_checkpoint(opts, checkpoints.resolve(opts.checkpoint_dir, 'checkpoint_dir'))]


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  for result in evaluate(options.from_flags(EvalOptions)):
    print(json.dumps(result, sort_keys=True))


def run():
  """Console-script entry point."""
  entry.run(main, EvalOptions)


if __name__ == '__main__':
  run()
