"""Side by side: several DeepLab models (e.g. MOSAIC and DeepLabV3) with their quantized forms.

Reads the rows quantization_report.py measured for all models in one process (so the latencies
are interleaved and comparable), adds each model's multiply-adds (`slim.nets.stats.graph_stats`
of its float frozen export graph: the deployed network at the export size) and each row's mIoU
against its own model's reference row, and writes report.md, report.json and a plot of mIoU
against TFLite latency (mIoU_vs_latency.png). scripts/mosaic_quantize.sh runs it:

  python deeplab/compare_heads.py --report_json=RUN/tflite_report/report.json \
      --frozen_graph=MOSAIC=RUN/mosaic/export_float/frozen_inference_graph.pb \
      --frozen_graph=DeepLab=RUN/deeplab/export_float/frozen_inference_graph.pb --output_dir=RUN
"""

import io
import json
import os

import slim  # noqa: F401  pylint: disable=unused-import
from slim import fileio
from slim.nets import stats
from slim.runtime import entry
from slim.runtime import options
from slim.runtime import report
from slim.tflite import convert as tflite_convert
import tensorflow as tf

from deeplab.options import CompareHeadsOptions

PLOT_PNG = 'miou_vs_latency.png'
# Output node of the converted models (DeepLab's quantized export).
ARGMAX = 'ArgMax'


def parse_models(values):
  """Parses repeated 'name=path' --frozen_graph values into [(name, path)]."""
  models = []
  for value in values:
    name, sep, path = value.partition('=')
    if not sep or not name or not os.path.exists(path):
      raise ValueError('--frozen_graph=%s: expected "name=path" of an existing frozen graph'
                       % value)
    models.append((name, path))
  return models


def frozen_graph_madds(path, output_node=ARGMAX):
  """Multiply-adds per example of a frozen graph up to `output_node` (the converted model's
  output; the export's resize to the original image size has no static shape)."""
  graph_def = tflite_convert.load_graph_def(path, 'frozen_graph')
  if any(node.name == output_node for node in graph_def.node):
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(graph_def, [output_node])
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(graph_def, name='')
    return stats.graph_stats(graph)['madds']


def annotate(rows, models, reference_suffix):
  """Sets each row's `model`, `madds` and `miou_vs_reference` (points; None without reference).

  Raises:
    ValueError: a row that belongs to no model, or a model without its reference row.
  """
  madds = {name: frozen_graph_madds(path) for name, path in models}
  for row in rows:
    owners = [name for name, _ in models if row['label'].startswith(name + ' ')]
    if not owners:
      raise ValueError('row %r: its label starts with no --frozen_graph name (%s)'
                       % (row['label'], ', '.join(name for name, _ in models)))
    row['model'], row['madds'] = owners[0], madds[owners[0]]
  for name, _ in models:
    label = '%s %s' % (name, reference_suffix)
    reference = [row['miou'] for row in rows if row['label'] == label]
    if not reference:
      raise ValueError('--reference_suffix=%s: no row is labelled %r' % (reference_suffix, label))
    for row in rows:
      if row['model'] == name:
        row['miou_vs_reference'] = 100. * (row['miou'] - reference[0])
  return rows


def columns(reference_suffix):
  """The table's columns."""
  def size(row):
    return '%.1f KB' % (row['bytes'] / 1024.) if row.get('bytes') else report.MISSING

  return [
      report.Column('model', 'label'),
      report.Column('mIoU', 'miou', '%.4f'),
      report.Column('vs %s (points)' % reference_suffix, 'miou_vs_reference', '%+.2f'),
      report.Column('MAdds', lambda r: '%.3fB' % (r['madds'] / 1e9)),
      report.Column('file size', size),
      report.Column('latency median (ms)', 'latency_median_ms', '%.1f'),
      report.Column('quantized tensors', lambda r: report.MISSING
                    if r.get('quantized_fraction') is None
                    else '%.0f%%' % (100 * r['quantized_fraction'])),
  ]


def write_plot(rows, output_dir):
  """Writes the mIoU-vs-latency scatter of the rows with a latency; returns its file name."""
  import matplotlib  # pylint: disable=g-import-not-at-top  (plots only; a 'bench' extra)
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for model in sorted({row['model'] for row in rows}):
    timed = [row for row in rows if row['model'] == model and row.get('latency_median_ms')]
    ax.scatter([r['latency_median_ms'] for r in timed], [r['miou'] for r in timed], label=model)
    for row in timed:
      ax.annotate(row['label'][len(model) + 1:], (row['latency_median_ms'], row['miou']),
                  fontsize=7, xytext=(3, 3), textcoords='offset points')
  ax.set_xlabel('TFLite latency, median ms (one process, interleaved)')
  ax.set_ylabel('mIoU')
  ax.legend()
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png', dpi=100, bbox_inches='tight')
  plt.close(fig)
  fileio.atomic_write_bytes(os.path.join(output_dir, PLOT_PNG), buffer.getvalue())
  return PLOT_PNG


def compare(opts):
  """Writes the report of `opts` (a CompareHeadsOptions); returns the Markdown table.

  Raises:
    ValueError: unreadable --report_json, bad --frozen_graph, rows without model or reference.
  """
  models = parse_models(opts.frozen_graph)
  try:
    with open(opts.report_json) as f:
      measured = json.load(f)
    rows = measured['rows']
  except (IOError, ValueError, KeyError) as e:
    raise ValueError('--report_json=%s: expected a quantization_report.py report.json (%s)'
                     % (opts.report_json, e))
  rows = annotate(rows, models, opts.reference_suffix)
  plot = write_plot(rows, opts.output_dir)
  extra = {k: v for k, v in measured.items() if k not in ('rows', 'machine')}
  extra.update(plot=plot, reference_suffix=opts.reference_suffix)
  return report.write(rows, opts.output_dir, columns(opts.reference_suffix), extra)


def main(unused_argv):
  print(compare(options.from_flags(CompareHeadsOptions)))


def run():
  """Console-script entry point."""
  entry.run(main, CompareHeadsOptions)


if __name__ == '__main__':
  run()
