"""run_squad.py end to end on a tiny config, its one-line errors, and the recipe script (slow)."""
import dataclasses
import json
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from mobilebert import modeling
from mobilebert import run_squad
from mobilebert import squad_data
from mobilebert import squad_runner
from mobilebert import synthetic_squad
from mobilebert import tokenization
from slim.runtime import distributed
from tests import helpers
from tests.mobilebert import test_modeling


def _run_squad(*args):
  return subprocess.run([sys.executable, '-m', 'mobilebert.run_squad'] + list(args),
                        capture_output=True, text=True, timeout=600)


@pytest.fixture(name='setup')
def _setup(tmp_path):
  data = synthetic_squad.write(str(tmp_path / 'data'), num_train=48, num_dev=8)
  config = test_modeling.tiny_config(vocab_size=len(synthetic_squad.vocab_tokens()),
                                     max_position_embeddings=64)
  config_file = tmp_path / 'config.json'
  config_file.write_text(config.to_json_string())
  flags = ['--bert_config_file=%s' % config_file, '--vocab_file=%s' % data['vocab.txt'],
           '--train_file=%s' % data['train-v1.1.json'],
           '--predict_file=%s' % data['dev-v1.1.json'], '--max_seq_length=64',
           '--doc_stride=32', '--max_query_length=16', '--train_batch_size=8']
  return tmp_path, flags


def testRunSquad_TrainPredictExportFloatAndPtq(setup):
  tmp_path, flags = setup
  out, export_dir = tmp_path / 'float', tmp_path / 'float' / 'export'
  result = _run_squad(*flags, '--output_dir=%s' % out, '--do_train', '--num_train_steps=3',
                      '--do_predict', '--results_file=%s' % (out / 'graph.json'),
                      '--export_dir=%s' % export_dir, '--use_post_quantization',
                      '--activation_quantization', '--predict_exported')
  assert result.returncode == 0, result.stderr[-3000:]
  graph = json.loads((out / 'graph.json').read_text())
  assert graph['total'] == 8 and 0 <= graph['f1'] <= 100 and graph['tflite'] is None
  for name in ('model_float.tflite', 'model_quant.tflite'):
    tflite = json.loads((export_dir / (name + '.results.json')).read_text())
    assert tflite['tflite'] == str(export_dir / name)
    assert tflite['bytes'] == os.path.getsize(export_dir / name)
  assert (export_dir / 'frozen_inference_graph.pb').is_file()
  assert (out / 'predictions.json').is_file()


def testRunSquad_UserErrorIsOneLine(setup):
  tmp_path, flags = setup
  result = _run_squad(*flags, '--output_dir=%s' % (tmp_path / 'o'), '--do_train',
                      '--vocab_file=/nonexistent/vocab.txt')
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      'ERROR: --vocab_file=/nonexistent/vocab.txt: file not found')


def _options(flags, **overrides):
  """SquadOptions from the fixture's flag list (in-process: no TF start-up per case)."""
  fields = {f.name: f.default for f in dataclasses.fields(run_squad.SquadOptions)}
  fields.update((k.lstrip('-'), v) for k, v in (f.split('=', 1) for f in flags))
  for name in ('max_seq_length', 'doc_stride', 'max_query_length', 'train_batch_size'):
    fields[name] = int(fields[name])
  fields.update(overrides)
  return run_squad.SquadOptions(**fields)


@pytest.mark.parametrize('overrides,message', [
    (dict(train_file='/nonexistent/train.json'), 'SQuAD file /nonexistent/train.json: file not '
     'found'),
    (dict(init_checkpoint='/nonexistent/ckpt'), '--init_checkpoint=/nonexistent/ckpt'),
])
def testTrain_InputErrorsNamed(setup, overrides, message):
  tmp_path, flags = setup
  opts = _options(flags, output_dir=str(tmp_path / 'o'), do_train=True, num_train_steps=1,
                  **overrides)
  with pytest.raises(ValueError, match=re.escape(message)):
    squad_runner.train(opts)


def testValidate_PositiveScoreFloorIsAnError(setup):
  tmp_path, flags = setup
  with pytest.raises(ValueError, match=re.escape(
      '--rewriter_score_floor=1.0: expected a value <= 0 (0: plain EMA ranges)')):
    opts = _options(flags, output_dir=str(tmp_path), do_train=True, rewriter_score_floor=1.0)
    run_squad._validate(opts)  # pylint: disable=protected-access


def testValidate_NothingToDoIsAnError(setup):
  tmp_path, flags = setup
  with pytest.raises(ValueError, match='At least one of --do_train, --do_predict or '
                     '--export_dir must be given'):
    run_squad._validate(_options(flags, output_dir=str(tmp_path)))  # pylint: disable=protected-access


CLUSTER = {'ps': ['localhost:2000'], 'worker': ['localhost:3000', 'localhost:3001']}


def testTrainGraph_SyncReplicasOnPs_RewriterRangesIncluded(setup):
  tmp_path, flags = setup
  opts = _options(flags, output_dir=str(tmp_path / 'o'), use_quantized_training=True,
                  quantizer='rewriter', num_replicas=2)
  replica = distributed.resolve(
      num_replicas=2, sync=True,
      tf_config=json.dumps({'cluster': CLUSTER, 'task': {'type': 'worker', 'index': 1}}))
  tokenizer = tokenization.FullTokenizer(opts.vocab_file)
  config = modeling.BertConfig.from_json_file(opts.bert_config_file)
  features = squad_data.convert_examples_to_features(
      squad_data.read_squad_examples(opts.train_file, True), tokenizer, opts.max_seq_length,
      opts.doc_stride, opts.max_query_length, True)
  with tf.Graph().as_default() as graph, replica.device_scope():
    squad_runner._train_graph(  # pylint: disable=protected-access
        opts, config, squad_data.feature_arrays(features), 10, 'rewriter', replica)
  variables = graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
  assert any(v.op.name.endswith('act_quant/max') for v in variables)
  assert {v.device for v in variables} == {'/job:ps/task:0'}
  assert [op for op in graph.get_operations() if op.type == 'ResourceConditionalAccumulator']
  matmuls = [op for op in graph.get_operations() if op.type == 'MatMul']
  assert matmuls and all(op.device == '/job:worker/task:1' for op in matmuls)


def testRunSquad_ReplicasWithoutClusterIsOneLineError(setup, monkeypatch):
  tmp_path, flags = setup
  monkeypatch.delenv(distributed.TF_CONFIG, raising=False)
  result = _run_squad(*flags, '--output_dir=%s' % (tmp_path / 'o'), '--do_train',
                      '--num_replicas=2', '--num_ps_tasks=1')
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      'ERROR: --num_replicas=2 --num_ps_tasks=1 need a cluster')


@pytest.mark.slow
@pytest.mark.timeout(1260)
def testLoopbackCluster_SyncQatRewriter(setup):
  tmp_path, flags = setup
  out = str(tmp_path / 'train')
  steps = 6
  cluster = helpers.LoopbackCluster(str(tmp_path), [
      '-m', 'mobilebert.run_squad', *flags, '--output_dir=%s' % out, '--do_train',
      '--num_train_steps=%d' % steps, '--use_quantized_training', '--quantizer=rewriter',
      '--log_steps=1'])
  try:
    cluster.start_all()
    codes = cluster.wait(1200)
    assert codes == {'ps0': 0, 'worker0': 0, 'worker1': 0}, cluster.tails()
    latest = tf.train.latest_checkpoint(out)
    assert latest == os.path.join(out, 'model.ckpt-%d' % steps), cluster.tails()
    assert any(n.endswith('act_quant/max') for n, _ in tf.train.list_variables(latest))
    assert max(cluster.logged_steps('worker1')) == steps
  finally:
    cluster.kill()


@pytest.mark.slow
def testRecipe_QuickReportHasEveryRow(tmp_path):
  result = helpers.run_script('mobilebert_quantize.sh', [str(tmp_path)],
                              env={'QUICK': '1', 'FLOAT_STEPS': '300', 'QAT_STEPS': '30',
                                   'NUM_TRAIN': '600', 'NUM_DEV': '60'}, timeout=1800)
  assert result.returncode == 0, result.stderr[-3000:]
  rows = json.loads((tmp_path / 'report.json').read_text())['rows']
  labels = [r['label'] for r in rows]
  assert len(labels) == 7 and sum('int8 TFLite' in l for l in labels) == 3
  for row in rows:
    assert 0 <= row['f1'] <= 100 and 0 <= row['exact_match'] <= 100
    if row['tflite']:
      assert os.path.isfile(row['tflite']) and row['latency_median_ms'] > 0
  assert 'QAT hand int8 TFLite' in (tmp_path / 'report.md').read_text()
