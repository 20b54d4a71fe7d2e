"""deeplab/compare_heads.py (the MOSAIC vs DeepLab report) on hand-made rows and tiny graphs."""
import json

import pytest

from deeplab import compare_heads
from deeplab import options
from tests import helpers

# tests.helpers.tiny_quantized_graph: one 1x1 conv, 8x8 output, 3 -> 4 channels.
_TINY_MADDS = 8 * 8 * 4 * 3


def _graph(tmp_path, name):
  path = str(tmp_path / name)
  with open(path, 'wb') as f:
    f.write(helpers.tiny_quantized_graph().SerializeToString())
  return path


def _rows():
  return [dict(label='MOSAIC float + same fine-tune', miou=0.80, latency_median_ms=None),
          dict(label='MOSAIC QAT int8', miou=0.79, latency_median_ms=3.0, bytes=2048),
          dict(label='DeepLab float + same fine-tune', miou=0.70, latency_median_ms=None),
          dict(label='DeepLab QAT int8', miou=0.72, latency_median_ms=2.0, bytes=1024)]


def testAnnotate_MaddsAndPointsAgainstEachModelsControl(tmp_path):
  models = [('MOSAIC', _graph(tmp_path, 'm.pb')), ('DeepLab', _graph(tmp_path, 'd.pb'))]
  rows = compare_heads.annotate(_rows(), models, 'float + same fine-tune')
  assert [r['model'] for r in rows] == ['MOSAIC', 'MOSAIC', 'DeepLab', 'DeepLab']
  assert [r['madds'] for r in rows] == [_TINY_MADDS] * 4
  assert [round(r['miou_vs_reference'], 6) for r in rows] == [0.0, -1.0, 0.0, 2.0]


def testAnnotate_RowOfNoModelIsNamed(tmp_path):
  with pytest.raises(ValueError, match="row 'DeepLab float \\+ same fine-tune': its label starts with no "
                     r"--frozen_graph name \(MOSAIC\)"):
    compare_heads.annotate(_rows(), [('MOSAIC', _graph(tmp_path, 'm.pb'))], 'x')


def testAnnotate_MissingReferenceIsNamed(tmp_path):
  models = [('MOSAIC', _graph(tmp_path, 'm.pb')), ('DeepLab', _graph(tmp_path, 'd.pb'))]
  with pytest.raises(ValueError, match="--reference_suffix=float graph: no row is labelled "
                     "'MOSAIC float graph'"):
    compare_heads.annotate(_rows(), models, 'float graph')


def testParseModels_MissingGraphNamesTheFlag(tmp_path):
  with pytest.raises(ValueError, match='--frozen_graph=MOSAIC=.*nope.pb: expected "name=path"'):
    compare_heads.parse_models(['MOSAIC=%s' % (tmp_path / 'nope.pb')])


def testCompare_WritesReportAndPlot(tmp_path):
  report_json = tmp_path / 'in.json'
  report_json.write_text(json.dumps({'rows': _rows(), 'latency_threads': 1}))
  out = tmp_path / 'out'
  out.mkdir()
  table = compare_heads.compare(options.CompareHeadsOptions(
      report_json=str(report_json), output_dir=str(out),
      frozen_graph=['MOSAIC=' + _graph(tmp_path, 'm.pb'), 'DeepLab=' + _graph(tmp_path, 'd.pb')]))
  payload = json.loads((out / 'report.json').read_text())
  assert [r['label'] for r in payload['rows']] == [r['label'] for r in _rows()]
  assert payload['plot'] == compare_heads.PLOT_PNG and payload['latency_threads'] == 1
  assert (out / compare_heads.PLOT_PNG).read_bytes()[:4] == b'\x89PNG'
  assert '| MOSAIC QAT int8 | 0.7900 | -1.00 | 0.000B | 2.0 KB | 3.0 | - |' in table
  assert (out / 'report.md').read_text() == table


def testCompare_UnreadableReportNamesTheFlag(tmp_path):
  (tmp_path / 'in.json').write_text('{"no rows": 1}')
  with pytest.raises(ValueError, match='--report_json=.*in.json: expected a quantization_report'):
    compare_heads.compare(options.CompareHeadsOptions(report_json=str(tmp_path / 'in.json'),
                                                      output_dir=str(tmp_path)))
