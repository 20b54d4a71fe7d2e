"""The report every recipe script ends with: `report.md` (a table) and `report.json`.

The contract of scripts/*_quantize.sh and local_test.sh (DESIGN.md): `report.json` holds
`{"rows": [{"label": ..., <metric keys>, "bytes", "latency_median_ms", "tflite"}], "machine":
{...}, ...}` and `report.md` the same rows as a Markdown table. A family gives its rows (dicts)
and its columns (header + formatter); both files are written atomically.

  table = report.write(rows, run_dir, [report.Column('model', 'label'),
                                       report.Column('mIoU', 'miou', '%.4f')])
"""
import dataclasses
import json
import os
import platform
from typing import Callable, Optional, Union

import tensorflow as tf

from slim import fileio

REPORT_MD = 'report.md'
REPORT_JSON = 'report.json'
MISSING = '-'


@dataclasses.dataclass(frozen=True)
class Column:
  """One table column: its header and how a row's cell is made.

  Attributes:
    header: the column header.
    key: the row key shown, or a function row -> cell text.
    fmt: %-format of the value (ignored when `key` is a function); None values show as '-'.
  """
  header: str
  key: Union[str, Callable]
  fmt: Optional[str] = '%s'

  def cell(self, row):
    if callable(self.key):
      return self.key(row)
    value = row.get(self.key)
    return MISSING if value is None else self.fmt % value


def parse_labelled(values, flag_name):
  """Parses repeated 'label=path' flag values into [(label, path)] (clear error otherwise).

  Raises:
    ValueError: a value without a label or a path, or a path that does not exist (the message
      names `--flag_name=value`).
  """
  pairs = []
  for value in values:
    label, sep, path = value.partition('=')
    if not sep or not label or not path:
      raise ValueError('--%s=%s: expected "label=path"' % (flag_name, value))
    if not os.path.exists(path):
      raise ValueError('--%s=%s: file not found: %s' % (flag_name, value, path))
    pairs.append((label, path))
  return pairs


def machine_info():
  """Where a report was measured (latencies only compare within one machine and process)."""
  return dict(platform=platform.platform(), processor=platform.processor(),
              cpus=os.cpu_count(), loadavg=list(os.getloadavg()), tensorflow=tf.__version__)


def markdown_table(rows, columns):
  """Returns the rows as a Markdown table with the given columns."""
  lines = ['| %s |' % ' | '.join(c.header for c in columns),
           '|%s' % ('---|' * len(columns))]
  lines += ['| %s |' % ' | '.join(c.cell(row) for c in columns) for row in rows]
  return '\n'.join(lines) + '\n'


def write(rows, output_dir, columns, extra=None):
  """Writes `output_dir`/report.md and report.json atomically; returns the Markdown text.

  Args:
    rows: list of dicts (JSON-serialisable), one per model.
    output_dir: the run folder.
    columns: `Column`s of the Markdown table.
    extra: more top-level keys of report.json.
  """
  table = markdown_table(rows, columns)
  fileio.atomic_write_text(os.path.join(output_dir, REPORT_MD), table)
  payload = dict(rows=rows, machine=machine_info())
  payload.update(extra or {})
  fileio.atomic_write_text(os.path.join(output_dir, REPORT_JSON), json.dumps(payload, indent=2))
  return table
