"""Evaluates a classifier on one split: top-1 / top-5 of a checkpoint or of a .tflite model.

Checkpoint (slim's eval_image_classifier flags; `--quantize` applies
`slim.quantize.create_eval_graph()` so a QAT checkpoint is evaluated with its fake quantization):

  python slim/eval_image_classifier.py --checkpoint_path=/tmp/qat --eval_dir=/tmp/qat/eval \
      --dataset_name=synthetic_classification --dataset_split_name=validation \
      --dataset_dir=DIR --model_name=mobilenet_v2 --eval_image_size=64 --quantize

TFLite model (float, PTQ or QAT; inputs are quantized with the model's own scale/zero point):

  python slim/eval_image_classifier.py --tflite_file=model.tflite --dataset_dir=DIR \
      --dataset_split_name=validation --model_name=mobilenet_v2

A pruned checkpoint (one holding `.../mask` variables, from `--pruning_hparams` training) is
detected and evaluated through its masks.

Both write a summary to --eval_dir (checkpoint mode) and, with --results_file, a JSON
{"top1": ..., "top5": ..., "num_images": ...} (written atomically).
"""
import dataclasses
import json
from typing import Optional

from absl import logging
import numpy as np

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

from slim import classification_data
from slim import classification_model
from slim import fileio
from slim import pruning
from slim.preprocessing import preprocessing_factory
from slim.runtime import checkpoints
from slim.runtime import entry
from slim.runtime import options
from slim.tflite import ptq

flag = options.flag
TOP_K = 5


@dataclasses.dataclass
class EvalOptions:
  """Options of `evaluate` / `evaluate_tflite`: the original flags (same names) and new ones."""
  dataset_dir: Optional[str] = flag(None, 'Directory of the dataset TFRecords and labels.txt.',
                                    kind='string', required=True)
  checkpoint_path: Optional[str] = flag(None, 'Checkpoint file prefix or folder (latest).',
                                        kind='string')
  eval_dir: Optional[str] = flag(None, 'Directory for the eval summary.', kind='string')
  tflite_file: Optional[str] = flag(None, 'Evaluate this .tflite model instead of a checkpoint.',
                                    kind='string')
  model_name: str = flag('mobilenet_v2', 'Architecture (%s).'
                         % ', '.join(classification_model.model_names()))
  dataset_name: str = flag('synthetic_classification', 'Dataset name (%s).'
                           % ', '.join(classification_data.dataset_names()))
  dataset_split_name: str = flag('validation', 'Split to evaluate.')
  labels_offset: int = flag(0, 'Offset subtracted from the labels.')
  preprocessing_name: Optional[str] = flag(None, "Preprocessing; None uses the model's.",
                                           kind='string')
  eval_image_size: Optional[int] = flag(None, 'Eval image size; None uses the model default.',
                                        kind='integer')
  batch_size: int = flag(100, 'Samples per batch.')
  max_num_batches: Optional[int] = flag(None, 'Stop after this many batches.', kind='integer')
  moving_average_decay: Optional[float] = flag(None, "Evaluate the weights' moving averages.",
                                               kind='float')
  quantize: bool = flag(False, 'Apply create_eval_graph (QAT checkpoints).')
  quantize_scheme: Optional[str] = flag(None, classification_model.QUANTIZE_SCHEME_HELP +
                                        ' Needs --quantize.', kind='string')
  results_file: Optional[str] = flag(None, 'Also write the results as JSON here.',
                                     kind='string')


def _topk_counts(scores, labels, k):
  """Returns (#top-1 hits, #top-k hits)."""
  top1 = np.argmax(scores, axis=-1) == labels
  k = min(k, scores.shape[-1])
  topk = np.any(np.argsort(-scores, axis=-1)[:, :k] == labels[:, None], axis=-1)
  return int(top1.sum()), int(topk.sum())


def _setup(opts):
  descriptor = classification_data.get_dataset(opts.dataset_name, opts.dataset_split_name,
                                               opts.dataset_dir)
  image_size = opts.eval_image_size or classification_model.default_image_size(opts.model_name)
  preprocessing = opts.preprocessing_name or classification_model.preprocessing_name(
      opts.model_name)
  return descriptor, image_size, preprocessing_factory.get_preprocessing(preprocessing)


def _write_results(opts, results):
  if opts.results_file:
    fileio.atomic_write_text(opts.results_file, json.dumps(results, indent=2, sort_keys=True))
  logging.info('Eval %s on %s: top-1 %.4f, top-5 %.4f (%d images)',
               opts.tflite_file or opts.checkpoint_path, opts.dataset_split_name,
               results['top1'], results['top5'], results['num_images'])
  return results


def evaluate(opts):
  """Top-1/top-5 of a checkpoint over one pass of the split.

  Returns:
    {'top1', 'top5', 'num_images', 'global_step', 'checkpoint'}.

  Raises:
    ValueError: bad dataset, model name or checkpoint (the message names the flag).
  """
  if not opts.checkpoint_path:
    raise ValueError('--checkpoint_path (or --tflite_file) is required')
  checkpoint = checkpoints.resolve(opts.checkpoint_path, 'checkpoint_path')
  descriptor, image_size, preprocess_fn = _setup(opts)
  num_classes = descriptor.num_classes - opts.labels_offset
  graph = tf.Graph()
  with graph.as_default():
    images, labels = classification_data.make_batches(
        descriptor, opts.batch_size, preprocess_fn, image_size, is_training=False,
        labels_offset=opts.labels_offset).get_next()
    network_fn = classification_model.get_network_fn(opts.model_name, num_classes,
                                                     is_training=False)
    # A pruned checkpoint's kernels are only meaningful through their masks.
    logits, _ = classification_model.build_network(
        network_fn, images, masked=pruning.is_pruned_checkpoint(checkpoint))
    if opts.quantize:
      classification_model.quantize_graph(False, scheme_path=opts.quantize_scheme)
    elif opts.quantize_scheme:
      raise ValueError('--quantize_scheme=%s needs --quantize' % opts.quantize_scheme)
    global_step = tf.compat.v1.train.get_or_create_global_step()
    if opts.moving_average_decay:
      ema = tf.train.ExponentialMovingAverage(opts.moving_average_decay, global_step)
      variables = ema.variables_to_restore()
    else:
      variables = tf.compat.v1.global_variables()
    saver = tf.compat.v1.train.Saver(variables)
    hits1 = hitsk = total = 0
    with tf.compat.v1.Session(graph=graph) as sess:
      checkpoints.restore(saver, sess, checkpoint)
      step = int(sess.run(global_step))
      batches = 0
      while opts.max_num_batches is None or batches < opts.max_num_batches:
        try:
          scores, truth = sess.run([logits, labels])
        except tf.errors.OutOfRangeError:
          break
        h1, hk = _topk_counts(scores, truth, TOP_K)
        hits1, hitsk, total, batches = hits1 + h1, hitsk + hk, total + len(truth), batches + 1
    if not total:
      raise ValueError('--dataset_split_name=%s: no image evaluated' % opts.dataset_split_name)
    results = {'top1': hits1 / total, 'top5': hitsk / total, 'num_images': total,
               'global_step': step, 'checkpoint': checkpoint}
    if opts.eval_dir:
      writer = tf.compat.v1.summary.FileWriter(opts.eval_dir)
      writer.add_summary(tf.compat.v1.Summary(value=[
          tf.compat.v1.Summary.Value(tag='eval/Accuracy', simple_value=results['top1']),
          tf.compat.v1.Summary.Value(tag='eval/Recall_5', simple_value=results['top5'])]), step)
      writer.close()
  return _write_results(opts, results)


def evaluate_tflite(opts, num_threads=1):
  """Top-1/top-5 of a .tflite classifier over one pass of the split.

  Returns:
    {'top1', 'top5', 'num_images', 'tflite_file'}.
  """
  descriptor, image_size, preprocess_fn = _setup(opts)
  classifier = ptq.TFLiteClassifier(opts.tflite_file, num_threads=num_threads)
  hits1 = hitsk = total = 0
  max_images = opts.max_num_batches * opts.batch_size if opts.max_num_batches else None
  for images, labels in classification_data.iterate_numpy(
      descriptor, preprocess_fn, image_size, opts.batch_size, max_images=max_images,
      labels_offset=opts.labels_offset):
    h1, hk = _topk_counts(classifier.scores(images), labels, TOP_K)
    hits1, hitsk, total = hits1 + h1, hitsk + hk, total + len(labels)
  if not total:
    raise ValueError('--dataset_split_name=%s: no image evaluated' % opts.dataset_split_name)
  return _write_results(opts, {'top1': hits1 / total, 'top5': hitsk / total,
                               'num_images': total, 'tflite_file': opts.tflite_file})


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  opts = options.from_flags(EvalOptions)
  results = evaluate_tflite(opts) if opts.tflite_file else evaluate(opts)
  print(json.dumps(results, sort_keys=True))


def run():
  """Console-script entry point."""
  entry.run(main, EvalOptions)


if __name__ == '__main__':
  run()
