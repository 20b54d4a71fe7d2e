"""What quantization cost: one table of mIoU, file size and latency for a DeepLab run.

Rows come from two sources: eval.py's `--eval_results_json` files (the float and QAT graphs) and
.tflite models, which this script evaluates itself over a dataset split (resize/pad outside the
model, as the recipe says; see evaluate_tflite.py). TFLite latencies are measured interleaved in
this one process (slim.tflite.latency), so machine noise affects every model alike; the speed
column is the median over rounds of (float time / model time) when there is a `TFLite float` row.

Usage (scripts/local_test.sh runs it):
  python deeplab/quantization_report.py --dataset=synthetic --dataset_dir=DIR/tfrecord \
      --graph_result="float graph=RUN/eval_float.json" --graph_result="QAT graph=RUN/eval_qat.json" \
      --tflite="TFLite float=RUN/float.tflite" --tflite="TFLite uint8=RUN/uint8.tflite" \
      --output_dir=RUN
"""

import json
import os
import platform
import sys

if __name__ == '__main__' and __package__ in (None, ''):
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import slim  # noqa: E402,F401  pylint: disable=unused-import
from slim import fileio  # noqa: E402
from slim.tflite import inspect as tflite_inspect  # noqa: E402
from slim.tflite import latency  # noqa: E402
import tensorflow as tf  # noqa: E402

from deeplab import evaluate_tflite  # noqa: E402

# allow_override: tests and tools import several entry scripts into one process.
flags.DEFINE_multi_string('graph_result', [], '"label=path" of an eval.py --eval_results_json '
                          'file (a graph row: mIoU only).', allow_override=True)
flags.DEFINE_multi_string('tflite', [], '"label=path" of a .tflite model (evaluated here).',
                          allow_override=True)
flags.DEFINE_string('dataset', 'pascal_voc_seg', 'Name of the segmentation dataset.',
                    allow_override=True)
flags.DEFINE_string('dataset_dir', None, 'Where the dataset reside.', allow_override=True)
flags.DEFINE_string('eval_split', 'val', 'Split to evaluate the TFLite models on.',
                    allow_override=True)
flags.DEFINE_integer('latency_rounds', 10, 'Timed invocations per model (interleaved).',
                     allow_override=True)
flags.DEFINE_integer('latency_threads', 1, 'TFLite interpreter threads for the latency figure.',
                     allow_override=True)
flags.DEFINE_integer('eval_threads', os.cpu_count() or 1, 'TFLite interpreter threads for the '
                     'mIoU pass (the class ids do not depend on it; the latency figure uses '
                     '--latency_threads).', allow_override=True)
flags.DEFINE_string('output_dir', None, 'Where report.md and report.json are written.',
                    allow_override=True)
flags.DEFINE_string('reference_row', None, 'Label of the row the "mIoU vs" column compares '
                    'every row to (in points); none: no such column.', allow_override=True)

FLAGS = flags.FLAGS

FLOAT_TFLITE_LABEL = 'TFLite float'
REPORT_MD = 'report.md'
REPORT_JSON = 'report.json'


def parse_labelled(values, flag_name):
  """Parses repeated 'label=path' flag values into [(label, path)] (clear error otherwise)."""
  pairs = []
  for value in values:
    label, sep, path = value.partition('=')
    if not sep or not label or not path:
      raise ValueError('--%s=%s: expected "label=path"' % (flag_name, value))
    if not os.path.exists(path):
      raise ValueError('--%s=%s: file not found: %s' % (flag_name, value, path))
    pairs.append((label, path))
  return pairs


def build_rows(graph_results, tflite_models, dataset_fn, latency_rounds=10, latency_threads=1,
               eval_threads=1):
  """Evaluates the models and returns the report rows (dicts).

  Args:
    graph_results: [(label, path of an eval.py results JSON)].
    tflite_models: [(label, path of a .tflite)].
    dataset_fn: f(crop_size) -> a non-repeating datasets.data_generator.Dataset (batch 1).
    latency_rounds: timed rounds (each invokes every TFLite model once).
    latency_threads: interpreter threads for latency.
    eval_threads: interpreter threads for the mIoU pass.

  Returns:
    A list of dicts with keys label, miou, bytes, latency_min_ms, latency_median_ms,
    quantized_fraction, speedup_vs_float (None where it does not apply).
  """
  rows = []
  for label, path in graph_results:
    with open(path) as f:
      result = json.load(f)
    rows.append(dict(label=label, miou=result['miou'], bytes=None, latency_min_ms=None,
                     latency_median_ms=None, quantized_fraction=None, speedup_vs_float=None,
                     eval_crop_size=result.get('eval_crop_size')))
  models = {}
  for label, path in tflite_models:
    segmenter = evaluate_tflite.TFLiteSegmenter(path, num_threads=eval_threads)
    _, miou, _ = evaluate_tflite.evaluate(segmenter, dataset_fn(segmenter.input_size))
    with open(path, 'rb') as f:
      model = f.read()
    rows.append(dict(label=label, miou=miou, bytes=len(model), latency_min_ms=None,
                     latency_median_ms=None,
                     quantized_fraction=tflite_inspect.quantized_fraction(model),
                     speedup_vs_float=None, eval_crop_size=segmenter.input_size))
    models[label] = model
  if FLOAT_TFLITE_LABEL in models:  # The first model is the reference of the speed ratios.
    models = dict([(FLOAT_TFLITE_LABEL, models.pop(FLOAT_TFLITE_LABEL))] + list(models.items()))
  latencies = (latency.interleaved_latency(models, latency_threads, runs=latency_rounds)
               if models else {})
  for row in rows:
    timing = latencies.get(row['label'])
    if timing and 'error' not in timing:
      row['latency_min_ms'], row['latency_median_ms'] = timing['min_ms'], timing['median_ms']
      if FLOAT_TFLITE_LABEL in models:
        row['speedup_vs_float'] = timing['speedup_median']
  return rows


def add_miou_deltas(rows, reference_label):
  """Sets row['miou_vs_reference'] = 100 * (mIoU - reference mIoU), in points.

  Raises:
    ValueError: no row has the reference label.
  """
  reference = [row['miou'] for row in rows if row['label'] == reference_label]
  if not reference:
    raise ValueError('--reference_row=%s: no row has this label (rows: %s)'
                     % (reference_label, ', '.join(row['label'] for row in rows)))
  for row in rows:
    row['miou_vs_reference'] = 100. * (row['miou'] - reference[0])
  return rows


def markdown_table(rows, latency_threads=1, reference_label=None):
  """Renders the rows as a Markdown table (with an mIoU delta column given a reference)."""
  delta_head = ' mIoU vs %s (points) |' % reference_label if reference_label else ''
  lines = ['| model | mIoU |%s file size | latency, %d thread (median / min) | speed vs float |'
           ' quantized tensors |' % (delta_head, latency_threads),
           '|---|---|%s---|---|---|---|' % ('---|' if reference_label else '')]
  for row in rows:
    size = '%.1f KB' % (row['bytes'] / 1024.) if row['bytes'] else '-'
    timing = ('%.1f / %.1f ms' % (row['latency_median_ms'], row['latency_min_ms'])
              if row['latency_median_ms'] else '-')
    speed = '%.2fx' % row['speedup_vs_float'] if row['speedup_vs_float'] else '-'
    quantized = ('%.0f%%' % (100 * row['quantized_fraction'])
                 if row['quantized_fraction'] is not None else '-')
    delta = ' %+.2f |' % row['miou_vs_reference'] if reference_label else ''
    lines.append('| %s | %.4f |%s %s | %s | %s | %s |' % (row['label'], row['miou'], delta, size,
                                                           timing, speed, quantized))
  return '\n'.join(lines) + '\n'


def write_report(rows, output_dir, latency_threads=1, extra=None, reference_label=None):
  """Writes report.md and report.json atomically; returns the Markdown text."""
  if reference_label:
    add_miou_deltas(rows, reference_label)
  table = markdown_table(rows, latency_threads, reference_label)
  fileio.atomic_write_text(os.path.join(output_dir, REPORT_MD), table)
  machine = dict(platform=platform.platform(), processor=platform.processor(),
                 cpus=os.cpu_count(), loadavg=list(os.getloadavg()), tensorflow=tf.__version__)
  payload = dict(rows=rows, latency_threads=latency_threads, reference_row=reference_label,
                 machine=machine)
  payload.update(extra or {})
  fileio.atomic_write_text(os.path.join(output_dir, REPORT_JSON), json.dumps(payload, indent=2))
  return table


def main(unused_argv):
  from datasets import data_generator  # pylint: disable=g-import-not-at-top
  if not FLAGS.output_dir:
    raise ValueError('--output_dir is required')
  graph_results = parse_labelled(FLAGS.graph_result, 'graph_result')
  tflite_models = parse_labelled(FLAGS.tflite, 'tflite')
  labels = [label for label, _ in graph_results + tflite_models]
  if FLAGS.reference_row and FLAGS.reference_row not in labels:  # Before minutes of evaluation.
    raise ValueError('--reference_row=%s: no --graph_result or --tflite has this label (%s)'
                     % (FLAGS.reference_row, ', '.join(labels)))

  def dataset_fn(crop_size):
    return data_generator.Dataset(
        dataset_name=FLAGS.dataset, split_name=FLAGS.eval_split, dataset_dir=FLAGS.dataset_dir,
        batch_size=1, crop_size=crop_size, model_variant=FLAGS.model_variant,
        is_training=False, should_shuffle=False, should_repeat=False)

  rows = build_rows(graph_results, tflite_models, dataset_fn, FLAGS.latency_rounds,
                    FLAGS.latency_threads, FLAGS.eval_threads)
  print(write_report(rows, FLAGS.output_dir, FLAGS.latency_threads,
                     reference_label=FLAGS.reference_row))


if __name__ == '__main__':
  flags.mark_flag_as_required('dataset_dir')
  app.run(main)
