"""detection/train.py on a cluster (slim.runtime.distributed, as deeplab/train.py): placement of
the train graph, the cluster flags' errors, and (slow) a loopback cluster of 1 ps + 2 workers.
"""
import json
import os

import pytest
import tensorflow as tf

from datasets import build_coco_data
from datasets import synthetic_detection
from detection import anchors
from detection import train as det_train
from slim.runtime import distributed
from tests import helpers

SIZE = 64
STEPS = 6
QUANTIZE_FROM = 3
CLUSTER_TIMEOUT_SECS = 600


def _tf_config(index, ps=2, workers=2):
  return json.dumps({'cluster': {'ps': ['localhost:%d' % (2000 + i) for i in range(ps)],
                                 'worker': ['localhost:%d' % (3000 + i) for i in range(workers)]},
                     'task': {'type': 'worker', 'index': index}})


def testTrainGraph_VariablesOnPsOpsOnTheWorker():
  # Float graph (the QAT rewrite of the whole detector takes minutes; tests/slim/runtime/
  # test_distributed.py checks that its range variables follow the same device setter).
  replica = distributed.resolve(tf_config=_tf_config(1))
  opts = det_train.TrainOptions(train_logdir='unused', dataset_dir='unused',
                                train_batch_size=1, image_size=SIZE)
  num_anchors = anchors.count(opts.spec(), SIZE)
  with tf.Graph().as_default() as graph, replica.device_scope():
    det_train.build_train_graph(
        opts, tf.zeros([1, SIZE, SIZE, 3]), tf.zeros([1, num_anchors], tf.int32),
        tf.zeros([1, num_anchors, 4]), num_classes=3, replica=replica)
  variables = graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
  assert {v.device for v in variables} == {'/job:ps/task:0', '/job:ps/task:1'}
  convs = [op for op in graph.get_operations() if op.type == 'Conv2D']
  assert convs and {op.device for op in convs} == {'/job:worker/task:1'}
  # Synchronous replicas (the default with 2 workers): gradient accumulators on the ps.
  accumulators = [op for op in graph.get_operations()
                  if op.type == 'ResourceConditionalAccumulator']
  assert accumulators and all(op.device.startswith('/job:ps/') for op in accumulators)


def testTrain_ReplicasWithoutClusterIsAnError(monkeypatch):
  monkeypatch.delenv(distributed.TF_CONFIG, raising=False)
  opts = det_train.TrainOptions(train_logdir='/tmp/x', dataset_dir='/tmp/y', num_replicas=2,
                                num_ps_tasks=1)
  with pytest.raises(distributed.ClusterError, match='--num_replicas=2 --num_ps_tasks=1 need a '
                     'cluster: set TF_CONFIG'):
    det_train.train(opts)


@pytest.mark.slow  # 3 processes, each building the QAT training graph (minutes on 2 cores).
@pytest.mark.timeout(CLUSTER_TIMEOUT_SECS + 60)
def testLoopbackCluster_SyncQatTrainsToTheLastStepAndEndsByItself(tmp_path):
  root = str(tmp_path / 'coco')
  synthetic_detection.generate(root, seed=1, num_train=4, num_val=1, size=SIZE)
  records = os.path.join(root, 'tfrecord')
  build_coco_data.build(build_coco_data.BuildOptions(
      annotations_file=synthetic_detection.annotations_path(root, 'train'),
      image_dir=synthetic_detection.images_dir(root, 'train'), output_dir=records,
      split_name='train', num_shards=1))
  logdir = str(tmp_path / 'train')
  cluster = helpers.LoopbackCluster(str(tmp_path), [
      'detection/train.py', '--train_logdir=%s' % logdir, '--dataset_dir=%s' % records,
      '--image_size=%d' % SIZE, '--train_batch_size=2', '--training_number_of_steps=%d' % STEPS,
      '--quantize_delay_step=%d' % QUANTIZE_FROM, '--log_steps=1', '--save_interval_secs=1'])
  try:
    cluster.start_all()
    codes = cluster.wait(CLUSTER_TIMEOUT_SECS)
    assert codes == {'ps0': 0, 'worker0': 0, 'worker1': 0}, cluster.tails()
    latest = tf.train.latest_checkpoint(logdir)
    assert latest and tf.train.load_variable(latest, 'global_step') == STEPS, cluster.tails()
    ranges = [n for n, _ in tf.train.list_variables(latest)
              if n.endswith(('act_quant/min', 'act_quant/max'))]
    assert ranges and any(tf.train.load_variable(latest, n) != 0 for n in ranges)
    # Synchronous: both workers trained every step, neither ran ahead.
    assert max(cluster.logged_steps('worker1')) == STEPS, cluster.tails()
    assert cluster.logged_steps('worker0'), cluster.tails()
    assert 'the chief finished the training; exiting' in cluster.log('ps0')
  finally:
    cluster.kill()
