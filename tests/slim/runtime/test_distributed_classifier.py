"""The classifier trainer (slim/train_image_classifier.py) on slim.runtime.distributed: the
original --worker_replicas/--sync_replicas/--replicas_to_aggregate flags and TF_CONFIG."""
import json
import os

import pytest
import tensorflow as tf

from datasets import synthetic_classification
from slim import train_image_classifier
from slim.runtime import distributed
from tests import helpers

IMAGE_SIZE = 32
MODEL = 'mobilenet_v2_035'
CLUSTER = {'ps': ['localhost:2000'], 'worker': ['localhost:3000', 'localhost:3001']}


@pytest.fixture(scope='module')
def dataset_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('synthetic_classification'))
  synthetic_classification.generate(root, seed=0, num_train=10, num_validation=10,
                                    size=IMAGE_SIZE)
  return synthetic_classification.convert(root, num_shards=1)


def _options(dataset_dir, train_dir, steps, **kwargs):
  return train_image_classifier.TrainOptions(
      train_dir=train_dir, dataset_dir=dataset_dir, model_name=MODEL,
      train_image_size=IMAGE_SIZE, batch_size=2, max_number_of_steps=steps, optimizer='sgd',
      learning_rate=0.01, learning_rate_decay_type='fixed', batch_norm_decay=0.9, seed=0,
      **kwargs)


def testBuildTrainGraph_SyncReplicasOnPs(dataset_dir, tmp_path):
  replica = distributed.resolve(
      num_replicas=2, sync=True, replicas_to_aggregate=2, replicas_flag='worker_replicas',
      tf_config=json.dumps({'cluster': CLUSTER, 'task': {'type': 'worker', 'index': 1}}))
  with replica.device_scope():
    train_image_classifier.build_train_graph(
        _options(dataset_dir, str(tmp_path), 10, quantize_delay=0, sync_replicas=True,
                 replicas_to_aggregate=2), replica)
  variables = tf.compat.v1.global_variables()
  assert any(v.op.name.endswith('act_quant/min') for v in variables)
  assert {v.device for v in variables} == {'/job:ps/task:0'}
  graph = tf.compat.v1.get_default_graph()
  assert [op for op in graph.get_operations() if op.type == 'ResourceConditionalAccumulator']


def testTrain_WorkerReplicasWithoutClusterIsAnError(dataset_dir, tmp_path, monkeypatch):
  monkeypatch.delenv(distributed.TF_CONFIG, raising=False)
  with pytest.raises(distributed.ClusterError,
                     match='--worker_replicas=2 --num_ps_tasks=1 need a cluster'):
    train_image_classifier.train(_options(dataset_dir, str(tmp_path), 1, worker_replicas=2,
                                          num_ps_tasks=1))


@pytest.mark.slow
@pytest.mark.timeout(600)
def testLoopbackCluster_ClassifierSyncQat(dataset_dir, tmp_path):
  train_dir = str(tmp_path / 'train')
  steps = 10
  cluster = helpers.LoopbackCluster(str(tmp_path), [
      '-m', 'slim.train_image_classifier', '--train_dir=%s' % train_dir,
      '--dataset_dir=%s' % dataset_dir, '--model_name=%s' % MODEL,
      '--train_image_size=%d' % IMAGE_SIZE, '--batch_size=2', '--optimizer=sgd',
      '--learning_rate_decay_type=fixed', '--max_number_of_steps=%d' % steps,
      '--quantize_delay=5', '--sync_replicas', '--replicas_to_aggregate=2',
      '--log_every_n_steps=1'])
  try:
    cluster.start_all()
    codes = cluster.wait(540)
    assert codes == {'ps0': 0, 'worker0': 0, 'worker1': 0}, cluster.tails()
    latest = tf.train.latest_checkpoint(train_dir)
    assert latest == os.path.join(train_dir, 'model.ckpt-%d' % steps), cluster.tails()
    assert any(n.endswith('act_quant/max') for n, _ in tf.train.list_variables(latest))
    assert max(cluster.logged_steps('worker1')) == steps
  finally:
    cluster.kill()
