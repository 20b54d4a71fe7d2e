"""Helpers shared by the tests (one module): shell scripts, a stand-in DeepLab backbone, a tiny
hand-quantized frozen graph.

- `run_script`: the project's shell scripts as a subprocess, with SKIP_SETUP_ENV=1 (the scripts
  use the test's .venv instead of refreshing it), output captured as text.
- `fake_extract_features`: a tiny backbone for DeepLab head tests (see the `stand_in_backbone`
  fixture in tests/deeplab/conftest.py), so they do not depend on slim.nets. It reproduces only
  what model.py consumes: a [N, ceil(h/OS), ceil(w/OS), 320] feature map and the MobilenetV2
  decoder end point at output stride 4.
- `STAND_IN_PATCHES` / `deeplab_train_with_stand_in`: the feature_extractor attributes the
  stand-in replaces, and deeplab/train.py's entry point with them patched in (subprocess tests
  that launch trainers, e.g. a loopback cluster, run `python -c` on it).
- `LoopbackCluster`: 1 ps + N trainer subprocesses on free loopback ports (TF_CONFIG each),
  one log file per task, a deadline after which all are killed.
- `tiny_quantized_graph`: ImageTensor uint8 [1, 8, 8, 3] -> FakeQuant input `input` -> 1x1 conv
  (quantized weights) + bias -> Relu6 (ranged) -> `ArgMax`, frozen: converts fully integer.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf
import tf_slim

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SCRIPTS = os.path.join(_ROOT, 'scripts')


def run_script(name, args=(), env=None, timeout=300):
  """Runs `bash scripts/<name> args...` with os.environ plus `env`; returns the CompletedProcess."""
  full_env = dict(os.environ, SKIP_SETUP_ENV='1')
  full_env.update(env or {})
  return subprocess.run(['bash', os.path.join(_SCRIPTS, name)] + list(args), env=full_env,
                        capture_output=True, text=True, timeout=timeout)


# The stand-in backbone's scope and output depth (MobileNetV2's).
STAND_IN_SCOPE = 'MobilenetV2'
STAND_IN_DEPTH = 320


def fake_extract_features(images, output_stride=8, reuse=None, **unused_kwargs):
  """feature_extractor.extract_features stand-in: two strided convs under STAND_IN_SCOPE."""
  with tf.compat.v1.variable_scope(STAND_IN_SCOPE, reuse=reuse):
    net = tf_slim.conv2d(images, 24, 3, stride=4, scope='stem')
    end_points = {STAND_IN_SCOPE + '/layer_4/depthwise_output': net}
    net = tf_slim.conv2d(net, STAND_IN_DEPTH, 3, stride=output_stride // 4, scope='body')
  return net, end_points


# feature_extractor attribute -> its stand-in (the `stand_in_backbone` fixture patches these).
STAND_IN_PATCHES = {
    'extract_features': fake_extract_features,
    'decoder_end_points': lambda variant: {4: 'layer_4/depthwise_output'},
    'name_scope': lambda variant: STAND_IN_SCOPE,
}


def deeplab_train_with_stand_in():
  """Runs deeplab/train.py's entry point (flags from sys.argv) on the stand-in backbone."""
  from deeplab import train  # pylint: disable=g-import-not-at-top
  from deeplab.core import feature_extractor  # pylint: disable=g-import-not-at-top
  for name, value in STAND_IN_PATCHES.items():
    setattr(feature_extractor, name, value)
  train.run()


def free_ports(count):
  """Ports the OS gives to sockets bound to port 0 (all bound at once, so distinct)."""
  sockets = [socket.socket() for _ in range(count)]
  try:
    for s in sockets:
      s.bind(('localhost', 0))
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


class LoopbackCluster(object):
  """1 ps + `num_workers` tasks of `python <args>` on loopback, each with its TF_CONFIG.

  Logs go to `<folder>/<job><index>.log` (appended: a restarted task keeps its first log).
  """

  def __init__(self, folder, args, num_workers=2):
    ports = free_ports(1 + num_workers)
    self.spec = {'ps': ['localhost:%d' % ports[0]],
                 'worker': ['localhost:%d' % p for p in ports[1:]]}
    self.folder = folder
    self.args = list(args)
    self.procs = {}

  def start(self, job, index):
    """Starts (or restarts, with the same command) one task."""
    name = '%s%d' % (job, index)
    env = dict(os.environ, TF_CONFIG=json.dumps(
        {'cluster': self.spec, 'task': {'type': job, 'index': index}}))
    with open(self.log_path(name), 'a') as log:
      self.procs[name] = subprocess.Popen([sys.executable] + self.args, cwd=_ROOT, env=env,
                                          stdout=log, stderr=subprocess.STDOUT)

  def start_all(self):
    self.start('ps', 0)
    for i in range(len(self.spec['worker'])):
      self.start('worker', i)

  def log_path(self, name):
    return os.path.join(self.folder, name + '.log')

  def log(self, name):
    with open(self.log_path(name), errors='replace') as f:
      return f.read()

  def logged_steps(self, name):
    """The global steps of the train loop's progress lines in a task's log."""
    return [int(s) for s in re.findall(r'global step (\d+): loss', self.log(name))]

  def wait(self, timeout):
    """Exit codes by task once all exited; after `timeout` s kills all and fails."""
    deadline = time.time() + timeout
    codes = {}
    for name, proc in self.procs.items():
      try:
        codes[name] = proc.wait(timeout=max(1, deadline - time.time()))
      except subprocess.TimeoutExpired:
        self.kill()
        raise AssertionError('%s still running after %d s; logs:\n%s'
                             % (name, timeout, self.tails())) from None
    return codes

  def tails(self):
    return '\n'.join('--- %s\n%s' % (n, self.log(n)[-3000:]) for n in sorted(self.procs))

  def kill(self):
    """Kills the tasks still running (the tests' cleanup)."""
    for proc in self.procs.values():
      if proc.poll() is None:
        proc.kill()
        proc.wait()


def tiny_quantized_graph():
  """The frozen GraphDef described in the module docstring."""
  with tf.Graph().as_default() as graph:
    image = tf.compat.v1.placeholder(tf.uint8, [1, 8, 8, 3], name='ImageTensor')
    x = tf.cast(image, tf.float32) * (2.0 / 255) - 1.0
    x = tf.quantization.fake_quant_with_min_max_args(x, -1.0, 1.0, name='input')
    w = np.random.RandomState(0).uniform(-1, 1, [1, 1, 3, 4]).astype(np.float32)
    wq = tf.quantization.fake_quant_with_min_max_args(tf.constant(w), -1.0, 1.0,
                                                      narrow_range=True)
    y = tf.nn.relu6(tf.nn.conv2d(x, wq, 1, 'SAME') + tf.constant([0.1, 0.2, 0.3, 0.4]))
    y = tf.quantization.fake_quant_with_min_max_args(y, 0.0, 6.0)
    tf.argmax(y, 3, name='ArgMax')
    return graph.as_graph_def()


def randomize_bn_variables(sess):
  """Loads reproducible random values into every global variable (BN scales and moving
  variances in [0.5, 2], the rest N(0, 0.5)): the same values in every session of a graph, so
  a graph can be compared with itself after a rewrite in a fresh session."""
  rng = np.random.RandomState(0)
  for v in tf.compat.v1.global_variables():
    shape = v.shape.as_list()
    if 'moving_variance' in v.op.name or 'gamma' in v.op.name:
      value = rng.uniform(0.5, 2.0, shape)
    else:
      value = rng.normal(0.0, 0.5, shape)
    v.load(value.astype(v.dtype.as_numpy_dtype), sess)
