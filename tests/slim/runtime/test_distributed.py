"""Tests of slim.runtime.distributed: the cluster from TF_CONFIG or flags, placement, and a real
loopback cluster (1 ps + 2 deeplab/train.py workers on the stand-in backbone, as subprocesses).
"""
import json
import os
import signal
import time

import pytest
import tensorflow as tf

from datasets import synthetic
from deeplab import common
from deeplab import options as deeplab_options
from deeplab import train as deeplab_train
from deeplab.core import feature_extractor
from slim.runtime import distributed
from tests import helpers

STEPS = 20
QUANTIZE_FROM = 10
# A subprocess of the cluster that outlives this is killed and the test fails.
CLUSTER_TIMEOUT_SECS = 420
TRAINER = ['-c', 'from tests import helpers; helpers.deeplab_train_with_stand_in()']


def _tf_config(job='worker', index=0, ps=1, workers=2):
  return json.dumps({'cluster': {'ps': ['localhost:%d' % (2000 + i) for i in range(ps)],
                                 'worker': ['localhost:%d' % (3000 + i) for i in range(workers)]},
                     'task': {'type': job, 'index': index}})


def testResolve_TfConfigGivesTheRoleAndCounts():
  replica = distributed.resolve(tf_config=_tf_config('worker', 1, ps=2, workers=3))
  assert (replica.job, replica.task, replica.num_replicas, replica.num_ps_tasks) == (
      'worker', 1, 3, 2)
  assert replica.sync and replica.replicas_to_aggregate == 3
  assert replica.distributed and not replica.is_chief and not replica.is_ps
  assert distributed.resolve(tf_config=_tf_config('ps', 0)).is_ps
  assert distributed.resolve(tf_config=_tf_config('worker', 0)).is_chief


def testResolve_FlagsWithoutClusterAreLocal():
  assert distributed.resolve(tf_config='') == distributed.LOCAL
  replica = distributed.resolve(master='grpc://h:1', num_replicas=2, num_ps_tasks=1, task=1,
                                sync=False, startup_delay_steps=15, tf_config='')
  assert (replica.task, replica.master, replica.sync, replica.cluster) == (
      1, 'grpc://h:1', False, None)


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_replicas=2, num_ps_tasks=1, tf_config=''),
     '--num_replicas=2 --num_ps_tasks=1 need a cluster: set TF_CONFIG'),
    (dict(master='grpc://h:1', num_replicas=2, num_ps_tasks=1, task=2, tf_config=''),
     r'--task=2 is out of range for --num_replicas=2 \(tasks 0..1\)'),
    (dict(master='grpc://h:1', num_replicas=2, tf_config=''),
     '--num_replicas=2 with no ps task: every worker would train its own copy'),
    (dict(num_ps_tasks=2, tf_config=_tf_config()),
     r'--num_ps_tasks=2 but TF_CONFIG lists 1 ps task\(s\)'),
    (dict(num_replicas=3, tf_config=_tf_config()),
     r'--num_replicas=3 but TF_CONFIG lists 2 worker\(s\)'),
    (dict(task=1, tf_config=_tf_config('worker', 0)), '--task=1 but TF_CONFIG says task worker 0'),
    (dict(tf_config=_tf_config('worker', 2)),
     r'TF_CONFIG: task index 2 is out of range for the 2 worker task\(s\)'),
    (dict(master='grpc://h:1', tf_config=_tf_config()), '--master=grpc://h:1 and TF_CONFIG are '
     'both set'),
    (dict(tf_config='{"cluster": '), 'TF_CONFIG is not JSON'),
    (dict(tf_config='{"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": '
                    '"chief", "index": 0}}'), "TF_CONFIG: job 'chief' is not supported"),
    (dict(tf_config='{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": '
                    '"evaluator", "index": 0}}'),
     "TF_CONFIG: task type 'evaluator' is not a job of the cluster"),
    (dict(num_replicas=0, tf_config=''), '--num_replicas=0: expected >= 1'),
])
def testResolve_ImpossibleCombinationsAreOneClearError(kwargs, message):
  with pytest.raises(distributed.ClusterError, match=message):
    distributed.resolve(**kwargs)


def testResolve_ErrorNamesTheTrainersFlag():
  with pytest.raises(distributed.ClusterError, match='--worker_replicas=2 --num_ps_tasks=0'):
    distributed.resolve(num_replicas=2, tf_config='', replicas_flag='worker_replicas')


def _deeplab_graph(monkeypatch, replica, quantize_delay_step=0):
  """DeepLab's train op (stand-in backbone) built under the replica's device scope."""
  for name, value in helpers.STAND_IN_PATCHES.items():
    monkeypatch.setattr(feature_extractor, name, value)
  opts = deeplab_options.TrainOptions(train_logdir='unused', dataset_dir='unused',
                                      quantize_delay_step=quantize_delay_step,
                                      optimizer='adam')
  model_options = common.ModelOptions({common.OUTPUT_TYPE: 3}, crop_size=[33, 33],
                                      output_stride=16)
  with replica.device_scope():
    samples = {common.IMAGE: tf.zeros([2, 33, 33, 3]),
               common.LABEL: tf.zeros([2, 33, 33, 1], tf.int32)}
    deeplab_train.build_train_op(opts, model_options, samples, 3, 255, replica=replica)
  return tf.compat.v1.get_default_graph()


def testDeviceScope_VariablesAndQatRangesOnPsOpsOnTheWorker(monkeypatch):
  replica = distributed.resolve(tf_config=_tf_config('worker', 1, ps=2))
  graph = _deeplab_graph(monkeypatch, replica)
  variables = tf.compat.v1.global_variables()
  ranges = [v for v in variables if v.op.name.endswith(('/min', '/max'))]
  assert ranges, 'the QAT rewrite made no range variables'
  assert {v.device for v in variables} == {'/job:ps/task:0', '/job:ps/task:1'}
  # The rewrite's moving-average range updates, the model and the gradients run on the worker.
  assert graph.get_operation_by_name('logits/semantic/Conv2D').device == '/job:worker/task:1'
  fake_quant = [op for op in graph.get_operations() if op.type == 'FakeQuantWithMinMaxVars']
  assert fake_quant and {op.device for op in fake_quant} == {'/job:worker/task:1'}
  # Synchronous replicas: gradient accumulators beside the variables, the local step here.
  accumulators = [op for op in graph.get_operations() if op.type == 'ResourceConditionalAccumulator']
  assert accumulators and all(op.device.startswith('/job:ps/') for op in accumulators)
  local_step = [v for v in tf.compat.v1.local_variables() if 'sync_rep_local_step' in v.op.name]
  assert [v.device for v in local_step] == ['/job:worker/task:1']


def testWrapOptimizer_LocalAndAsynchronousKeepTheOptimizer():
  optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.1)
  assert distributed.wrap_optimizer(optimizer, distributed.LOCAL) is optimizer
  asynchronous = distributed.resolve(tf_config=_tf_config(), sync=False)
  assert distributed.wrap_optimizer(optimizer, asynchronous) is optimizer


def testDeeplabTrain_ReplicasWithoutClusterIsAnError(monkeypatch):
  monkeypatch.delenv(distributed.TF_CONFIG, raising=False)
  opts = deeplab_options.TrainOptions(train_logdir='/tmp/x', dataset_dir='/tmp/y',
                                      num_replicas=4, num_ps_tasks=2, train_crop_size=['33', '33'])
  with pytest.raises(distributed.ClusterError, match='need a cluster'):
    deeplab_train.train(opts, common.ModelOptions({common.OUTPUT_TYPE: 3}, crop_size=[33, 33]))


# --- A loopback cluster of subprocesses (tests.helpers.LoopbackCluster) -----------------------


@pytest.fixture(scope='module')
def dataset_dir(tmp_path_factory):
  folder = str(tmp_path_factory.mktemp('synthetic'))
  synthetic.generate(folder, num_train=4, num_val=1, size=48)
  synthetic.convert(folder)
  return os.path.join(folder, 'tfrecord')


def _flags(logdir, dataset, steps=STEPS, extra=()):
  return ['--train_logdir=%s' % logdir, '--dataset=synthetic', '--dataset_dir=%s' % dataset,
          '--train_crop_size=33,33', '--train_batch_size=2', '--training_number_of_steps=%d' % steps,
          '--quantize_delay_step=%d' % QUANTIZE_FROM, '--log_steps=1', '--optimizer=adam',
          '--save_interval_secs=1'] + list(extra)


def _check_finished(cluster, logdir, steps=STEPS, overshoot=0):
  """All exited 0; the chief's last checkpoint is at `steps` (asynchronous workers may have
  added `overshoot` more) and holds moved QAT ranges; both workers trained."""
  codes = cluster.wait(CLUSTER_TIMEOUT_SECS)
  assert codes == {'ps0': 0, 'worker0': 0, 'worker1': 0}, cluster.tails()
  latest = tf.train.latest_checkpoint(logdir)
  assert latest, cluster.tails()
  step = tf.train.load_variable(latest, 'global_step')
  assert steps <= step <= steps + overshoot, cluster.tails()
  assert latest == os.path.join(logdir, 'model.ckpt-%d' % step)
  names = dict(tf.train.list_variables(latest))
  ranges = [n for n in names if n.endswith(('act_quant/min', 'act_quant/max'))]
  assert ranges, sorted(names)
  # QAT started at step QUANTIZE_FROM: the moving-average ranges moved off their initial values.
  assert any(tf.train.load_variable(latest, n) != 0 for n in ranges)
  for name in ('worker0', 'worker1'):
    assert cluster.logged_steps(name), cluster.tails()
  assert 'the ps tasks were told to exit' in cluster.log('worker0')
  assert 'the chief finished the training; exiting' in cluster.log('ps0')


@pytest.mark.timeout(CLUSTER_TIMEOUT_SECS + 60)
def testLoopbackCluster_SyncQatTrainsToTheLastStepAndEndsByItself(tmp_path, dataset_dir):
  logdir = str(tmp_path / 'train')
  cluster = helpers.LoopbackCluster(str(tmp_path), TRAINER + _flags(logdir, dataset_dir))
  try:
    cluster.start_all()
    _check_finished(cluster, logdir)
    # Synchronous: each step averages both workers' gradients, so neither runs ahead.
    assert max(cluster.logged_steps('worker1')) == STEPS
    assert 'synchronous' in cluster.log('worker1')
  finally:
    cluster.kill()


@pytest.mark.slow
@pytest.mark.timeout(2 * CLUSTER_TIMEOUT_SECS + 60)
def testLoopbackCluster_KilledWorkerRestartedRejoins(tmp_path, dataset_dir):
  logdir = str(tmp_path / 'train')
  steps = 40
  cluster = helpers.LoopbackCluster(str(tmp_path), TRAINER + _flags(logdir, dataset_dir, steps=steps))
  try:
    cluster.start_all()
    deadline = time.time() + CLUSTER_TIMEOUT_SECS
    while not any(s >= 5 for s in cluster.logged_steps('worker1')):
      assert time.time() < deadline, cluster.tails()
      time.sleep(0.5)
    killed_at = max(cluster.logged_steps('worker1'))
    cluster.procs['worker1'].send_signal(signal.SIGKILL)
    assert cluster.procs['worker1'].wait(timeout=60) == -signal.SIGKILL
    cluster.start('worker', 1)    # the same command
    _check_finished(cluster, logdir, steps)
    # The chief could not go on alone (every step needs both workers' gradients); the
    # restarted worker logged steps after the one it was killed at.
    assert max(cluster.logged_steps('worker1')) == steps
    assert cluster.log('worker1').count('Waiting for the chief') == 2
    assert killed_at < steps
  finally:
    cluster.kill()


@pytest.mark.slow
@pytest.mark.timeout(CLUSTER_TIMEOUT_SECS + 60)
def testLoopbackCluster_AsynchronousStartupDelay(tmp_path, dataset_dir):
  logdir = str(tmp_path / 'train')
  cluster = helpers.LoopbackCluster(str(tmp_path), TRAINER + _flags(logdir, dataset_dir, extra=(
      '--sync_replicas=false', '--startup_delay_steps=5')))
  try:
    cluster.start_all()
    _check_finished(cluster, logdir, overshoot=1)
    assert 'Worker 1 starts at global step 5' in cluster.log('worker1')
    assert min(cluster.logged_steps('worker1')) >= 5
  finally:
    cluster.kill()
