"""Writes the MobileBERT recipe's report.md / report.json from the evaluated models' results.

  python -m mobilebert.quantization_report --run_dir=/tmp/mobilebert_quantize \\
      --row="MobileBERT float (graph)=/tmp/.../float_graph.json" --row="...=..."
"""
import dataclasses
import json
from typing import List

from mobilebert import report
from slim.runtime import entry
from slim.runtime import options


@dataclasses.dataclass
class ReportOptions:
  """Flags of mobilebert_quantization_report."""
  run_dir: str = options.flag(None, 'Where report.md and report.json are written.',
                              kind='string', required=True)
  row: List[str] = options.flag([], 'LABEL=RESULTS_JSON, one per model, in table order.',
                                kind='multi_string')
  latency_threads: int = options.flag(1, 'Interpreter threads for the latency measurement.')
  latency_rounds: int = options.flag(20, 'Timed rounds (each invokes every TFLite model once).')
  max_token_id: int = options.flag(100, 'Token ids of the latency inputs stay below this.')
  extra_json: str = options.flag('{}', 'More top-level keys of report.json (a JSON object).')


def main(unused_argv):
  opts = options.from_flags(ReportOptions)
  rows = []
  for spec in opts.row:
    label, sep, path = spec.rpartition('=')
    if not sep or not label:
      raise ValueError('--row=%s: expected LABEL=RESULTS_JSON' % spec)
    rows.append(report.read_row(label, path))
  if not rows:
    raise ValueError('--row: give at least one LABEL=RESULTS_JSON')
  try:
    extra = json.loads(opts.extra_json)
  except json.JSONDecodeError as e:
    raise ValueError('--extra_json: not JSON (%s)' % e) from None
  print(report.build(rows, opts.run_dir, opts.latency_threads, opts.latency_rounds,
                     opts.max_token_id, extra))


def run():
  """Console script `mobilebert_quantization_report`."""
  entry.run(main, ReportOptions)


if __name__ == '__main__':
  run()
