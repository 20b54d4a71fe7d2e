"""What quantization cost a detector: COCO AP / AP50, file size and latency in one table.

Rows come from eval.py's results JSON files (the float and QAT graphs) and from .tflite models,
which this script evaluates itself (detection.evaluation, boxes drawn for the first images of
each into <output_dir>/vis/<label>/). TFLite latencies are measured interleaved in this one
process (slim.tflite.latency, the first TFLite model the reference of `speedup`), so machine
noise affects every model alike. Writes <output_dir>/report.md and report.json (rows: label,
ap, ap50, bytes, latency_median_ms, speedup, tflite).

  python detection/quantization_report.py --dataset_dir=DIR/tfrecord --output_dir=RUN \
      --graph_result="float graph=RUN/float_graph.json" \
      --tflite="float TFLite=RUN/float.tflite" --tflite="PTQ int8 TFLite=RUN/ptq_int8.tflite" \
      --tflite="QAT uint8 TFLite=RUN/qat_uint8.tflite"
"""
import dataclasses
import json
import os
import re
from typing import List, Optional

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)

from datasets import build_coco_data
from detection import data
from detection import evaluation
from detection import options as det_options
from slim import fileio
from slim.runtime import entry
from slim.runtime import options
from slim.runtime import report
from slim.tflite import latency

flag = options.flag
VIS_DIR = 'vis'
COLUMNS = [
    report.Column('model', 'label'),
    report.Column('COCO AP', 'ap', '%.4f'),
    report.Column('AP50', 'ap50', '%.4f'),
    report.Column('size (bytes)', 'bytes', '%d'),
    report.Column('latency median (ms)', 'latency_median_ms', '%.2f'),
    report.Column('speedup', 'speedup', '%.2f'),
]


@dataclasses.dataclass
class ReportOptions(det_options.DatasetFlags):
  """Flags of the report."""
  output_dir: Optional[str] = flag(None, 'Where report.md / report.json / vis/ go.',
                                   kind='string', required=True)
  graph_result: List[str] = flag([], '"label=path" of an eval.py results JSON (repeatable).',
                                 kind='multi_string')
  tflite: List[str] = flag([], '"label=path" of a .tflite detector (repeatable).',
                           kind='multi_string')
  eval_split: str = flag('val', 'Split the TFLite models are evaluated on.')
  num_vis_images: int = flag(4, 'Images drawn per TFLite model.')
  latency_rounds: int = flag(10, 'Timed invocations per model (interleaved).')
  latency_threads: int = flag(1, 'Interpreter threads of the latency figure.')


def _slug(label):
  return re.sub(r'[^A-Za-z0-9]+', '_', label).strip('_').lower()


def build_rows(opts):
  """Evaluates the TFLite models, reads the graph results; returns the report rows."""
  labels = build_coco_data.read_labels(opts.dataset_dir)
  files = data.split_files(opts.dataset_dir, opts.eval_split)
  rows = []
  for label, path in report.parse_labelled(opts.graph_result, 'graph_result'):
    with open(path) as f:
      result = json.load(f)
    rows.append(dict(label=label, ap=result['ap'], ap50=result['ap50'], bytes=None,
                     latency_median_ms=None, speedup=None, tflite=None))
  models = {}
  for label, path in report.parse_labelled(opts.tflite, 'tflite'):
    detector = evaluation.TFLiteDetector(path)
    vis = os.path.join(opts.output_dir, VIS_DIR, _slug(label))

    def on_image(index, image, detections, vis=vis):
      if index < opts.num_vis_images:
        with fileio.atomic_write(os.path.join(vis, '%03d.png' % index)) as f:
          evaluation.draw(image, detections, labels).save(f, format='PNG')

    metrics = evaluation.coco_metrics(data.eval_examples(files, detector.image_size),
                                      detector.detect, sorted(labels), on_image=on_image)
    with open(path, 'rb') as f:
      models[label] = f.read()
    rows.append(dict(label=label, ap=metrics['ap'], ap50=metrics['ap50'],
                     bytes=len(models[label]), latency_median_ms=None, speedup=None,
                     tflite=os.path.abspath(path)))
  if models:
    timing = latency.interleaved_latency(models, opts.latency_threads, runs=opts.latency_rounds)
    for row in rows:
      t = timing.get(row['label'])
      if t and 'error' not in t:
        row['latency_median_ms'] = t['median_ms']
        row['speedup'] = t['speedup_median']
  return rows


def main(unused_argv):
  opts = options.from_flags(ReportOptions)
  rows = build_rows(opts)
  print(report.write(rows, opts.output_dir, COLUMNS,
                     extra={'latency_threads': opts.latency_threads}))


def run():
  """Console-script entry point."""
  entry.run(main, ReportOptions)


if __name__ == '__main__':
  run()
