"""scripts/classification_quantize.sh end to end at a tiny size (one backbone, a few steps), and
its early errors.
"""
import json
import os

from slim import classification_model
from tests import helpers

_TINY = dict(MODELS='mobilenet_v2', PRUNE_MODELS='mobilenet_v2', SPARSITIES='0.5',
             IMAGE_SIZE='32', NUM_TRAIN='20', NUM_VALIDATION='10', BATCH_SIZE='10',
             FLOAT_STEPS='3', QAT_STEPS='2', CALIBRATION_IMAGES='4', PRUNE_STEPS='10',
             PRUNE_QAT_STEPS='2')
_HEADER = ('| Backbone | Float graph | PTQ int8 TFLite | QAT graph | QAT uint8 TFLite '
           '| QAT int8 per-channel TFLite | PTQ - float | QAT uint8 - float '
           '| float / QAT train (s) |')


def _run(run_dir, **env):
  return helpers.run_script('classification_quantize.sh', env=dict(env, RUN_DIR=str(run_dir)),
                          timeout=900)


def _table_rows(text, first_cell):
  return [line for line in text.splitlines() if line.startswith('| %s |' % first_cell)]


def testScript_TinyRunPrintsBothTablesAndSavesThem(tmp_path):
  result = _run(tmp_path, **_TINY)
  assert result.returncode == 0, result.stderr[-3000:]
  assert _HEADER in result.stdout
  rows = _table_rows(result.stdout, 'mobilenet_v2')
  # One row in the accuracy table, a dense and a 50% row in the pruning table.
  assert len(rows) == 3
  assert rows[1].startswith('| mobilenet_v2 | 0 (dense) | ')
  assert rows[2].startswith('| mobilenet_v2 | 0.5 | ')
  # The measured sparsity of the pruned uint8 model is the scheduled target (histogram bins and
  # weights that round to the zero point make it approximate).
  measured = float(rows[2].split('|')[3])
  assert abs(measured - 0.5) < 0.05
  with open(tmp_path / 'results.md') as f:
    saved = f.read()
  assert _HEADER in saved and rows[2] in saved
  # Every accuracy in the table is a real evaluation over the 10 validation images.
  for name in ('float_graph', 'ptq_tflite', 'qat_graph', 'qat_tflite', 'qat_per_channel_tflite'):
    with open(tmp_path / 'mobilenet_v2' / (name + '.json')) as f:
      top1 = json.load(f)['top1']
    assert 10 * top1 == round(10 * top1)
  # The table step's TF start-up chatter is in its log, not on the console.
  assert 'oneDNN' not in result.stdout + result.stderr
  assert os.path.exists(tmp_path / 'logs' / 'table.log')


def testScript_UnknownModelFailsBeforeTraining(tmp_path):
  result = _run(tmp_path, MODELS='mobilenet_v9')
  assert result.returncode == 1
  assert result.stderr.strip().endswith(
      "unknown MODELS ['mobilenet_v9']; registered: "
      + ', '.join(classification_model.model_names()))
  assert not os.path.exists(tmp_path / 'data')


def testScript_PruneModelNotInModelsFails(tmp_path):
  result = _run(tmp_path, MODELS='mobilenet_v2', PRUNE_MODELS='resnet_v1_50')
  assert result.returncode == 1
  assert ('PRUNE_MODELS: resnet_v1_50 is not in MODELS (mobilenet_v2): its float checkpoint is '
          'the start of pruning') in result.stderr
  assert not os.path.exists(tmp_path / 'data')
