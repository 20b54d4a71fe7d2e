"""Which layers can take quantization: quantize one layer group at a time, evaluate, rank.

For a trained FLOAT checkpoint and each layer group G (a scope regex), the model is rewritten
with a scheme that quantizes G only (every other layer float, `Scheme` with a float default and
one rule), its ranges are calibrated on a few batches (the training rewrite of the inference
model: EMA/last-value ranges, no optimizer), and the eval rewrite of the same scheme is
evaluated with those ranges. The drop of the metric against the float model, per group, says
where quantization hurts; groups with the largest drops are candidates for `quantize: false` or
more bits in a scheme. A row "all groups" quantizes the whole model (the plain rewrite).

The model and its metric come from a `Task` (family code implements it; the library knows no
model): `build()` builds the float inference graph with its inputs, `calibrate(sess, handle)`
runs calibration batches, `evaluate(sess, handle)` returns the metric (higher is better).

CLI (`--task` names a factory `module:function` returning a Task; `--task_arg=key=value` are its
string keyword arguments):

  python -m slim.quantize.sensitivity --task=deeplab.sensitivity:make_task \\
      --checkpoint=train_float/model.ckpt-700 --output_dir=OUT \\
      --task_arg=dataset_dir=DATA --group='stem=^MobilenetV2/(Conv|expanded_conv)/' ...

writes OUT/report.md and OUT/report.json (rows: group, regex, metric, drop) and, when matplotlib
is installed (the `bench` extra), OUT/sensitivity.png, a bar plot of the drops.
"""
import dataclasses
import importlib
import os
import re
import tempfile
from typing import List, Optional

from absl import logging
import tensorflow as tf

from slim.quantize import quantize_graph
from slim.quantize import tflite_target
from slim.quantize.scheme import LayerConfig
from slim.quantize.scheme import Rule
from slim.quantize.scheme import Scheme
from slim.runtime import checkpoints
from slim.runtime import entry
from slim.runtime import options
from slim.runtime import report

FLOAT_LABEL = 'float'
ALL_LABEL = 'all groups'
PLOT_NAME = 'sensitivity.png'
COLUMNS = [report.Column('group', 'label'), report.Column('scope regex', 'regex'),
           report.Column('metric', 'metric', '%.4f'), report.Column('drop vs float', 'drop',
                                                                    '%+.4f')]


class Task(object):
  """A model and its metric, for `run`. Subclass it in family code."""

  def build(self):
    """Builds the float inference model (and its inputs) in the default graph.

    Returns:
      A handle (anything) that `calibrate` and `evaluate` receive.
    """
    raise NotImplementedError

  def calibrate(self, sess, handle):
    """Runs calibration batches through the model (the range updates run with them)."""
    raise NotImplementedError

  def evaluate(self, sess, handle):
    """Returns the metric of the model in `sess` (higher is better)."""
    raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Group:
  """A layer group: its label and the regex of its op names."""
  label: str
  regex: str


def layer_groups(graph, depth=2):
  """The layer groups of `graph`: scopes of its layer ops cut to `depth` name components.

  Args:
    graph: a `tf.Graph` holding the float model.
    depth: name components kept ('MobilenetV2/expanded_conv_3/depthwise' -> depth 2:
      'MobilenetV2/expanded_conv_3').

  Returns:
    `Group`s in graph order, regex '^<scope>/'.
  """
  scopes = []
  for op in graph.get_operations():
    if tflite_target.is_layer(op) and '/' in op.name:
      scope = '/'.join(op.name.rpartition('/')[0].split('/')[:depth])
      if scope not in scopes:
        scopes.append(scope)
  return [Group(s, '^%s/' % re.escape(s)) for s in scopes]


def group_scheme(group, weight_bits=8, activation_bits=8, per_channel=False):
  """The scheme that quantizes `group` only (float default, one rule)."""
  return Scheme(default=LayerConfig(quantize=False), rules=(Rule(group.regex, LayerConfig(
      quantize=True, weight_bits=weight_bits, activation_bits=activation_bits,
      per_channel=per_channel)),))


def _restore_float(sess, checkpoint):
  """Initializes every variable, then restores those the float checkpoint has."""
  sess.run(tf.compat.v1.global_variables_initializer())
  stored = dict(tf.compat.v1.train.list_variables(checkpoint))
  present = [v for v in tf.compat.v1.global_variables() if v.op.name in stored]
  tf.compat.v1.train.Saver(present).restore(sess, checkpoint)


def evaluate_scheme(task, checkpoint, scheme, work_dir):
  """Metric of `checkpoint` under `scheme` (None: float), ranges calibrated by the task.

  Args:
    task: a `Task`.
    checkpoint: float checkpoint prefix.
    scheme: a `Scheme`, or None for the float model.
    work_dir: where the calibrated checkpoint is written.

  Returns:
    The task's metric.
  """
  if scheme is None:
    with tf.Graph().as_default():
      handle = task.build()
      with tf.compat.v1.Session() as sess:
        _restore_float(sess, checkpoint)
        return task.evaluate(sess, handle)
  calibrated = os.path.join(work_dir, 'calibrated')
  with tf.Graph().as_default() as graph:
    handle = task.build()
    quantize_graph.experimental_create_training_graph(graph, quant_delay=0, scheme=scheme)
    with tf.compat.v1.Session() as sess:
      _restore_float(sess, checkpoint)
      task.calibrate(sess, handle)
      calibrated = tf.compat.v1.train.Saver().save(sess, calibrated)
  with tf.Graph().as_default() as graph:
    handle = task.build()
    quantize_graph.experimental_create_eval_graph(graph, scheme=scheme)
    with tf.compat.v1.Session() as sess:
      _restore_float(sess, calibrated)
      return task.evaluate(sess, handle)


def run(task, checkpoint, groups=None, depth=2, weight_bits=8, activation_bits=8,
        per_channel=False):
  """Evaluates the float model, the fully quantized one and each group quantized alone.

  Args:
    task: a `Task`.
    checkpoint: float checkpoint prefix.
    groups: `Group`s; None: `layer_groups` of the task's graph at `depth`.
    depth: see `layer_groups`.
    weight_bits, activation_bits, per_channel: how the quantized group is quantized.

  Returns:
    Rows {'label', 'regex', 'metric', 'drop'}: float first, then all groups, then each group.
  """
  if groups is None:
    with tf.Graph().as_default() as graph:
      task.build()
      groups = layer_groups(graph, depth)
  bits = dict(weight_bits=weight_bits, activation_bits=activation_bits, per_channel=per_channel)
  with tempfile.TemporaryDirectory() as work_dir:
    reference = evaluate_scheme(task, checkpoint, None, work_dir)
    rows = [dict(label=FLOAT_LABEL, regex=None, metric=reference, drop=0.0)]
    everything = Scheme(default=LayerConfig(quantize=True, **bits))
    for group, scheme in [(Group(ALL_LABEL, None), everything)] + [
        (g, group_scheme(g, **bits)) for g in groups]:
      metric = evaluate_scheme(task, checkpoint, scheme, work_dir)
      rows.append(dict(label=group.label, regex=group.regex, metric=metric,
                       drop=reference - metric))
      logging.info('sensitivity: %s: %.4f (drop %+.4f)', group.label, metric, reference - metric)
  return rows


def write(rows, output_dir, metric_name='metric'):
  """Writes report.md / report.json and, with matplotlib, the bar plot; returns the table.

  Args:
    rows: `run`'s rows.
    output_dir: the folder (created).
    metric_name: the metric's name (column header and plot axis).
  """
  tf.io.gfile.makedirs(output_dir)
  columns = [c if c.key != 'metric' else dataclasses.replace(c, header=metric_name)
             for c in COLUMNS]
  table = report.write(rows, output_dir, columns)
  plot(rows, os.path.join(output_dir, PLOT_NAME), metric_name)
  return table


def plot(rows, path, metric_name='metric'):
  """Bar plot of the drop per group (rows after the float one); False without matplotlib."""
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top  (optional: the bench extra)
    matplotlib.use('Agg')
    from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  except ImportError:
    logging.warning('matplotlib is not installed (pip install -e .[bench]): no %s', path)
    return False
  bars = [r for r in rows if r['label'] != FLOAT_LABEL]
  figure, axes = pyplot.subplots(figsize=(max(4.0, 0.5 * len(bars) + 2), 4))
  axes.bar(range(len(bars)), [r['drop'] for r in bars])
  axes.set_xticks(range(len(bars)))
  axes.set_xticklabels([r['label'] for r in bars], rotation=60, ha='right', fontsize=8)
  axes.set_ylabel('%s drop vs float' % metric_name)
  axes.set_title('Quantizing one group at a time')
  figure.tight_layout()
  fd, tmp = tempfile.mkstemp(suffix='.png', dir=os.path.dirname(path) or '.')
  os.close(fd)
  figure.savefig(tmp)
  pyplot.close(figure)
  os.replace(tmp, path)
  return True


@dataclasses.dataclass
class SensitivityOptions:
  """python -m slim.quantize.sensitivity."""
  task: Optional[str] = options.flag(None, 'Factory of the model and its metric, '
                                     '"package.module:function" returning a '
                                     'slim.quantize.sensitivity.Task.', kind='string',
                                     required=True)
  task_arg: List[str] = options.flag([], '"key=value" keyword argument (a string) of the task '
                                     'factory; repeat for more.', kind='multi_string')
  checkpoint: Optional[str] = options.flag(None, 'Float checkpoint prefix.', kind='string',
                                           required=True)
  output_dir: Optional[str] = options.flag(None, 'Where report.md, report.json and '
                                           'sensitivity.png go.', kind='string', required=True)
  group: List[str] = options.flag([], '"label=regex" of a layer group; repeat. None: every '
                                  'layer scope cut to --group_depth.', kind='multi_string')
  group_depth: int = options.flag(2, 'Name components of the automatic groups.')
  weight_bits: int = options.flag(8, 'Weight bits of the quantized group.')
  activation_bits: int = options.flag(8, 'Activation bits of the quantized group.')
  per_channel: bool = options.flag(False, 'Per-channel weight ranges in the quantized group.')


def _pairs(values, flag):
  pairs = []
  for value in values:
    key, sep, rest = value.partition('=')
    if not sep or not key:
      raise ValueError('--%s=%s: expected "key=value"' % (flag, value))
    pairs.append((key, rest))
  return pairs


def _load_task(name, kwargs):
  module_name, sep, factory_name = name.partition(':')
  if not sep or not module_name or not factory_name:
    raise ValueError('--task=%s: expected "package.module:function"' % name)
  try:
    factory = getattr(importlib.import_module(module_name), factory_name)
  except (ImportError, AttributeError) as e:
    raise ValueError('--task=%s: cannot import it (%s)' % (name, e)) from None
  try:
    task = factory(**kwargs)
  except TypeError as e:
    raise ValueError('--task=%s with --task_arg %s: %s' % (name, sorted(kwargs), e)) from None
  if not isinstance(task, Task):
    raise ValueError('--task=%s returned %r, not a slim.quantize.sensitivity.Task' % (name, task))
  return task


def main(unused_argv):
  opts = options.from_flags(SensitivityOptions)
  task = _load_task(opts.task, dict(_pairs(opts.task_arg, 'task_arg')))
  for regex in [r for _, r in _pairs(opts.group, 'group')]:
    try:
      re.compile(regex)
    except re.error as e:
      raise ValueError('--group: bad regular expression %r (%s)' % (regex, e)) from None
  groups = [Group(label, regex) for label, regex in _pairs(opts.group, 'group')] or None
  checkpoint = checkpoints.resolve(opts.checkpoint, 'checkpoint')
  rows = run(task, checkpoint, groups, opts.group_depth, opts.weight_bits,
             opts.activation_bits, opts.per_channel)
  print(write(rows, opts.output_dir, getattr(task, 'metric_name', 'metric')))


if __name__ == '__main__':
  entry.run(main, SensitivityOptions)
