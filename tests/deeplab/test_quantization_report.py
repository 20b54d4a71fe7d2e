"""deeplab/quantization_report.py: flag parsing, interleaved timing, table and files."""

import contextlib
import json

import numpy as np
import pytest
import tensorflow as tf

from deeplab import common
from deeplab import quantization_report as report
from deeplab.utils import tflite_utils
from tests import helpers


def testParseLabelled_RejectsMissingLabelOrFile(tmp_path):
  path = tmp_path / 'm.tflite'
  path.write_bytes(b'x')
  assert report.parse_labelled(['a b=%s' % path], 'tflite') == [('a b', str(path))]
  with pytest.raises(ValueError, match=r'--tflite=nolabel: expected "label=path"'):
    report.parse_labelled(['nolabel'], 'tflite')
  with pytest.raises(ValueError, match=r'--tflite=x=/nope.tflite: file not found'):
    report.parse_labelled(['x=/nope.tflite'], 'tflite')


def testWriteReport_TableAndJson(tmp_path):
  rows = [
      dict(label='float graph', miou=0.81234, bytes=None, latency_min_ms=None,
           latency_median_ms=None, quantized_fraction=None, speedup_vs_float=None),
      dict(label='TFLite float', miou=0.8, bytes=2048, latency_min_ms=9.0,
           latency_median_ms=10.0, quantized_fraction=0.0, speedup_vs_float=1.0),
      dict(label='TFLite int8', miou=0.79, bytes=1024, latency_min_ms=4.0,
           latency_median_ms=5.0, quantized_fraction=0.98, speedup_vs_float=2.0),
  ]
  table = report.write_report(rows, str(tmp_path), latency_threads=1)
  lines = table.splitlines()
  assert lines[2] == '| float graph | 0.8123 | - | - | - | - |'
  assert lines[4] == '| TFLite int8 | 0.7900 | 1.0 KB | 5.0 / 4.0 ms | 2.00x | 98% |'
  assert (tmp_path / report.REPORT_MD).read_text() == table
  payload = json.loads((tmp_path / report.REPORT_JSON).read_text())
  assert [r['label'] for r in payload['rows']] == ['float graph', 'TFLite float', 'TFLite int8']
  assert payload['machine']['cpus'] >= 1
  assert sorted(p.name for p in tmp_path.iterdir()) == [report.REPORT_JSON, report.REPORT_MD]


def testWriteReport_DeltaColumnAgainstTheReferenceRow(tmp_path):
  rows = [dict(label='float graph', miou=0.80, bytes=None, latency_min_ms=None,
               latency_median_ms=None, quantized_fraction=None, speedup_vs_float=None),
          dict(label='TFLite uint8', miou=0.7925, bytes=1024, latency_min_ms=4.0,
               latency_median_ms=5.0, quantized_fraction=1.0, speedup_vs_float=0.8)]
  lines = report.write_report(rows, str(tmp_path), reference_label='float graph').splitlines()
  assert lines[0].startswith('| model | mIoU | mIoU vs float graph (points) | file size |')
  assert lines[1] == '|---|---|---|---|---|---|---|'
  assert lines[2] == '| float graph | 0.8000 | +0.00 | - | - | - | - |'
  assert lines[3] == '| TFLite uint8 | 0.7925 | -0.75 | 1.0 KB | 5.0 / 4.0 ms | 0.80x | 100% |'
  payload = json.loads((tmp_path / report.REPORT_JSON).read_text())
  assert payload['reference_row'] == 'float graph'
  assert payload['rows'][1]['miou_vs_reference'] == pytest.approx(-0.75)
  with pytest.raises(ValueError, match=r'--reference_row=QAT graph: no row has this label '
                     r'\(rows: float graph, TFLite uint8\)'):
    report.add_miou_deltas(rows, 'QAT graph')


class _TinyDataset(object):
  """Two 8x8 images with labels, in the interface tflite_utils.evaluate reads."""
  num_of_classes = 4
  ignore_label = 255

  def explained_errors(self, crop_flag=None):
    del crop_flag
    return contextlib.nullcontext()

  def get_one_shot_iterator(self):
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, [2, 1, 8, 8, 3]).astype(np.float32)
    labels = rng.randint(0, 4, [2, 1, 8, 8, 1]).astype(np.int32)
    data = tf.compat.v1.data.Dataset.from_tensor_slices(
        {common.IMAGE: images, common.LABEL: labels})
    return tf.compat.v1.data.make_one_shot_iterator(data)


def testBuildRows_GraphAndTFLiteRowsWithSpeedRatios(tmp_path):
  graph_def = helpers.tiny_quantized_graph()
  uint8 = tmp_path / 'uint8.tflite'
  uint8.write_bytes(tflite_utils.convert(graph_def, 'input:0', 'ArgMax:0'))
  result = tmp_path / 'eval.json'
  result.write_text(json.dumps({'miou': 0.5, 'eval_crop_size': [8, 8]}))
  rows = report.build_rows([('float graph', str(result))],
                           [(report.FLOAT_TFLITE_LABEL, str(uint8)), ('TFLite uint8', str(uint8))],
                           lambda crop_size: _TinyDataset(), latency_rounds=2)
  assert [r['label'] for r in rows] == ['float graph', report.FLOAT_TFLITE_LABEL, 'TFLite uint8']
  assert rows[0]['miou'] == 0.5 and rows[0]['bytes'] is None
  assert rows[1]['miou'] == rows[2]['miou']  # The same model twice.
  assert rows[2]['bytes'] == uint8.stat().st_size and rows[2]['quantized_fraction'] > 0.5
  assert rows[1]['speedup_vs_float'] == 1.0 and rows[2]['latency_median_ms'] > 0
