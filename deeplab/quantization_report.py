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

from absl import flags
import slim  # noqa: F401  pylint: disable=unused-import
from slim.runtime import entry
from slim.runtime import options
from slim.runtime import report
from slim.tflite import inspection
from slim.tflite import latency

from deeplab import common  # noqa: F401  (defines --model_variant)
from deeplab.options import ReportOptions
from deeplab.utils import tflite_utils

FLOAT_TFLITE_LABEL = 'TFLite float'
REPORT_MD = report.REPORT_MD
REPORT_JSON = report.REPORT_JSON


# Kept importable from here (tests and users call quantization_report.parse_labelled).
parse_labelled = report.parse_labelled


def build_rows(graph_results, tflite_models, dataset_fn, latency_rounds=10, latency_threads=1,
               eval_threads=1, model_variant='mobilenet_v2'):
  """Evaluates the models and returns the report rows (dicts).

  Args:
    graph_results: [(label, path of an eval.py results JSON)].
    tflite_models: [(label, path of a .tflite)].
    dataset_fn: f(crop_size) -> a non-repeating datasets.data_generator.Dataset (batch 1).
    latency_rounds: timed rounds (each invokes every TFLite model once).
    latency_threads: interpreter threads for latency.
    eval_threads: interpreter threads for the mIoU pass.
    model_variant: the record whose input statistics a float model's input takes.

  Returns:
    A list of dicts with keys label, miou, bytes, latency_min_ms, latency_median_ms,
    quantized_fraction, speedup_vs_float, eval_crop_size, tflite (the model's path; None
    where it does not apply).
  """
  rows = []
  for label, path in graph_results:
    with open(path) as f:
      result = json.load(f)
    rows.append(dict(label=label, miou=result['miou'], bytes=None, latency_min_ms=None,
                     latency_median_ms=None, quantized_fraction=None, speedup_vs_float=None,
                     eval_crop_size=result.get('eval_crop_size'), tflite=None))
  models = {}
  for label, path in tflite_models:
    segmenter = tflite_utils.TFLiteSegmenter(path, eval_threads,
                                             tflite_utils.input_stats(model_variant))
    _, miou, _ = tflite_utils.evaluate(segmenter, dataset_fn(segmenter.input_size))
    with open(path, 'rb') as f:
      model = f.read()
    rows.append(dict(label=label, miou=miou, bytes=len(model), latency_min_ms=None,
                     latency_median_ms=None,
                     quantized_fraction=inspection.quantized_fraction(model),
                     speedup_vs_float=None, eval_crop_size=segmenter.input_size,
                     tflite=os.path.abspath(path)))
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


def _columns(latency_threads, reference_label):
  """The table's columns (the mIoU delta column only with a reference row)."""
  def size(row):
    return '%.1f KB' % (row['bytes'] / 1024.) if row['bytes'] else report.MISSING

  def timing(row):
    if not row['latency_median_ms']:
      return report.MISSING
    return '%.1f / %.1f ms' % (row['latency_median_ms'], row['latency_min_ms'])

  columns = [report.Column('model', 'label'), report.Column('mIoU', 'miou', '%.4f')]
  if reference_label:
    columns.append(report.Column('mIoU vs %s (points)' % reference_label, 'miou_vs_reference',
                                 '%+.2f'))
  return columns + [
      report.Column('file size', size),
      report.Column('latency, %d thread (median / min)' % latency_threads, timing),
      report.Column('speed vs float', 'speedup_vs_float', '%.2fx'),
      report.Column('quantized tensors', lambda r: report.MISSING
                    if r['quantized_fraction'] is None
                    else '%.0f%%' % (100 * r['quantized_fraction'])),
  ]


def write_report(rows, output_dir, latency_threads=1, extra=None, reference_label=None):
  """Writes report.md and report.json atomically; returns the Markdown text."""
  if reference_label:
    add_miou_deltas(rows, reference_label)
  payload = dict(latency_threads=latency_threads, reference_row=reference_label)
  payload.update(extra or {})
  return report.write(rows, output_dir, _columns(latency_threads, reference_label), payload)


def main(unused_argv):
  opts = options.from_flags(ReportOptions, model_variant=flags.FLAGS.model_variant)
  graph_results = parse_labelled(opts.graph_result, 'graph_result')
  tflite_models = parse_labelled(opts.tflite, 'tflite')
  labels = [label for label, _ in graph_results + tflite_models]
  if opts.reference_row and opts.reference_row not in labels:  # Before minutes of evaluation.
    raise ValueError('--reference_row=%s: no --graph_result or --tflite has this label (%s)'
                     % (opts.reference_row, ', '.join(labels)))

  def dataset_fn(crop_size):
    return tflite_utils.eval_dataset(opts.dataset, opts.eval_split, opts.dataset_dir, crop_size,
                                     opts.model_variant)

  rows = build_rows(graph_results, tflite_models, dataset_fn, opts.latency_rounds,
                    opts.latency_threads, opts.eval_threads, opts.model_variant)
  print(write_report(rows, opts.output_dir, opts.latency_threads,
                     reference_label=opts.reference_row))


def run():
  """Console-script entry point."""
  entry.run(main, ReportOptions)


if __name__ == '__main__':
  run()
