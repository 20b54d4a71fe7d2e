"""Multi-worker training on TensorFlow's own distributed runtime (between-graph replication).

Every process of a cluster runs the same trainer command; its role comes from the standard
`TF_CONFIG` variable or from the original flags (`--master`, `--num_replicas`, `--num_ps_tasks`,
`--task`, `--startup_delay_steps`):

  TF_CONFIG='{"cluster": {"ps": ["h0:2222"], "worker": ["h1:2222", "h2:2222"]},
              "task": {"type": "worker", "index": 0}}'

- a `ps` task starts its `tf.distribute.Server` and holds the variables until the chief says the
  training is over, then returns (exit 0);
- a `worker` task builds the whole graph under `replica.device_scope()`
  (`replica_device_setter`: variables, the QAT min/max and EMA variables included, go to the ps
  tasks round-robin, every other op stays on this worker) and trains through
  `slim.runtime.train_loop.train(..., replica=replica)`;
- worker 0 is the chief: it alone initialises the variables, restores `--tf_initial_checkpoint`
  (or resumes from the log dir), writes checkpoints and summaries, and at the last step tells
  the other workers and the ps tasks to exit.

Synchronous replicas (`replica.sync`): the trainer wraps its optimizer with `wrap_optimizer`
(`tf.compat.v1.train.SyncReplicasOptimizer`): each step averages `replicas_to_aggregate`
gradients on the ps, the chief's queue runner applies them and hands every worker a token to go
on. Asynchronous replicas apply their own gradients; worker t starts only once the global step
reached `t * startup_delay_steps` (the original's staggered start).

Ending by itself: the chief, once at the last step and saved, puts a release token for every
worker into the sync token queue (a worker waiting for a token then sees the final global step),
waits up to `FINISH_WAIT_SECS` for each other worker to report in a queue on ps 0, and then puts
one item into a queue on every ps task, which the ps process was waiting on.

  replica = distributed.resolve(master=..., num_replicas=..., num_ps_tasks=..., task=...,
                                sync=True, startup_delay_steps=...)
  if replica.is_ps:
    return distributed.serve_ps(replica)
  with tf.Graph().as_default():
    with replica.device_scope():
      ... model, loss, QAT rewrite ...
      optimizer = distributed.wrap_optimizer(optimizer, replica)
      ... train_op ...
    train_loop.train(train_op, global_step, loop_options, replica=replica)
"""
import contextlib
import dataclasses
import json
import os
import time
from typing import Optional
import weakref

from absl import logging
import tensorflow as tf

TF_CONFIG = 'TF_CONFIG'
PS = 'ps'
WORKER = 'worker'
# Shared names of the end-of-training queues (the same in every process's graph).
PS_DONE_QUEUE = 'slim_runtime_ps_done_%d'
WORKERS_DONE_QUEUE = 'slim_runtime_workers_done'
# How long the chief waits at the end for the other workers before releasing the ps tasks.
FINISH_WAIT_SECS = 120
# Polling period of a worker waiting for the chief (initialisation) or the startup delay.
POLL_SECS = 1.0


class ClusterError(ValueError):
  """An impossible cluster configuration (flags or TF_CONFIG); the message names them."""


@dataclasses.dataclass(frozen=True)
class Replica:
  """The role of this process in a cluster (`resolve` builds it; `LOCAL` is one machine).

  Attributes:
    job: 'worker' or 'ps'.
    task: index of this task in its job.
    num_replicas: number of worker tasks.
    num_ps_tasks: number of ps tasks (0: variables stay on the worker).
    replicas_to_aggregate: gradients averaged per synchronous step.
    sync: synchronous replicas (SyncReplicasOptimizer).
    startup_delay_steps: asynchronous worker t starts at global step t * startup_delay_steps.
    master: session target of this worker; empty with `cluster` (its own server's target).
    cluster: {'ps': [...], 'worker': [...]} from TF_CONFIG: this process starts its own server.
  """
  job: str = WORKER
  task: int = 0
  num_replicas: int = 1
  num_ps_tasks: int = 0
  replicas_to_aggregate: int = 1
  sync: bool = False
  startup_delay_steps: int = 0
  master: str = ''
  cluster: Optional[dict] = None

  @property
  def is_ps(self):
    return self.job == PS

  @property
  def is_chief(self):
    return self.job == WORKER and self.task == 0

  @property
  def distributed(self):
    """Whether this process is part of a cluster (otherwise the single-machine loop)."""
    return self.num_replicas > 1 or self.num_ps_tasks > 0

  @property
  def worker_device(self):
    return '/job:%s/task:%d' % (WORKER, self.task)

  def device_scope(self):
    """Context placing variables on the ps tasks and the other ops on this worker."""
    if not self.distributed:
      return contextlib.nullcontext()
    return tf.compat.v1.device(tf.compat.v1.train.replica_device_setter(
        ps_tasks=self.num_ps_tasks, worker_device=self.worker_device, merge_devices=True))

  def session_config(self):
    """Session config seeing only the ps tasks and this task (other workers may be down)."""
    if self.is_ps:
      filters = ['/job:%s/task:%d' % (PS, self.task)]
    else:
      filters = ['/job:%s' % PS, self.worker_device]
    return tf.compat.v1.ConfigProto(device_filters=filters)


LOCAL = Replica()


def _parse_tf_config(text):
  """TF_CONFIG's cluster dict, task type and index (ClusterError naming what is wrong)."""
  try:
    config = json.loads(text)
  except ValueError as e:
    raise ClusterError('%s is not JSON (%s): expected {"cluster": {"ps": [...], "worker": '
                       '[...]}, "task": {"type": "worker", "index": 0}}' % (TF_CONFIG, e)) from None
  cluster = config.get('cluster') if isinstance(config, dict) else None
  task = config.get('task') if isinstance(config, dict) else None
  if not isinstance(cluster, dict) or not isinstance(task, dict):
    raise ClusterError('%s=%s: expected "cluster" and "task" objects' % (TF_CONFIG, text))
  unknown = sorted(set(cluster) - {PS, WORKER})
  if unknown:
    raise ClusterError('%s: job %s is not supported: list the chief as worker 0 and run '
                       'evaluators outside the cluster (jobs: ps, worker)'
                       % (TF_CONFIG, ', '.join(map(repr, unknown))))
  for job, addresses in cluster.items():
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
      raise ClusterError('%s: cluster["%s"] must be a list of "host:port" strings, got %r'
                         % (TF_CONFIG, job, addresses))
  if not cluster.get(WORKER):
    raise ClusterError('%s: the cluster has no worker tasks' % TF_CONFIG)
  job, index = task.get('type'), task.get('index', 0)
  if job not in cluster:
    raise ClusterError('%s: task type %r is not a job of the cluster (%s)'
                       % (TF_CONFIG, job, ', '.join(sorted(cluster))))
  if not isinstance(index, int) or not 0 <= index < len(cluster[job]):
    raise ClusterError('%s: task index %r is out of range for the %d %s task(s)'
                       % (TF_CONFIG, index, len(cluster[job]), job))
  return {k: list(v) for k, v in cluster.items()}, job, index


def _check_counts(num_replicas, num_ps_tasks, task, replicas_flag):
  if num_replicas < 1:
    raise ClusterError('--%s=%d: expected >= 1' % (replicas_flag, num_replicas))
  if num_ps_tasks < 0:
    raise ClusterError('--num_ps_tasks=%d: expected >= 0' % num_ps_tasks)
  if not 0 <= task < num_replicas:
    raise ClusterError('--task=%d is out of range for --%s=%d (tasks 0..%d)'
                       % (task, replicas_flag, num_replicas, num_replicas - 1))


def resolve(master='', num_replicas=1, num_ps_tasks=0, task=0, sync=True,
            replicas_to_aggregate=None, startup_delay_steps=0, tf_config=None,
            replicas_flag='num_replicas'):
  """This process's `Replica` from TF_CONFIG or the original flags (one clear error otherwise).

  With TF_CONFIG, the cluster and this task come from it; the flags at their defaults take the
  cluster's values, and a flag set otherwise must agree with it. Without it, the flags describe
  a cluster whose servers run already, and `--master` is this worker's server.

  Args:
    master: --master, the session target.
    num_replicas: --num_replicas (the classifier's --worker_replicas).
    num_ps_tasks: --num_ps_tasks.
    task: --task.
    sync: synchronous replicas when there are several workers.
    replicas_to_aggregate: gradients per synchronous step; None: num_replicas.
    startup_delay_steps: --startup_delay_steps (asynchronous replicas only).
    tf_config: the TF_CONFIG text; None reads the environment variable.
    replicas_flag: the name of the replica-count flag in messages.

  Returns:
    A `Replica` (`LOCAL`-like when there is no cluster).

  Raises:
    ClusterError: malformed TF_CONFIG, counts that disagree with it, a task index out of range,
      replicas without a cluster or without ps tasks.
  """
  if tf_config is None:
    tf_config = os.environ.get(TF_CONFIG, '')
  cluster = None
  job = WORKER
  if tf_config.strip():
    if master:
      raise ClusterError('--master=%s and %s are both set: with %s this task starts its own '
                         'server; drop --master' % (master, TF_CONFIG, TF_CONFIG))
    cluster, job, index = _parse_tf_config(tf_config)
    workers, ps_tasks = len(cluster[WORKER]), len(cluster.get(PS, []))
    if num_replicas not in (1, workers):
      raise ClusterError('--%s=%d but %s lists %d worker(s)'
                         % (replicas_flag, num_replicas, TF_CONFIG, workers))
    if num_ps_tasks not in (0, ps_tasks):
      raise ClusterError('--num_ps_tasks=%d but %s lists %d ps task(s)'
                         % (num_ps_tasks, TF_CONFIG, ps_tasks))
    if task and (job != WORKER or task != index):
      raise ClusterError('--task=%d but %s says task %s %d' % (task, TF_CONFIG, job, index))
    num_replicas, num_ps_tasks, task = workers, ps_tasks, index
  else:
    _check_counts(num_replicas, num_ps_tasks, task, replicas_flag)
    if (num_replicas > 1 or num_ps_tasks > 0) and not master:
      raise ClusterError('--%s=%d --num_ps_tasks=%d need a cluster: set %s (%s) or --master to '
                         "this worker's running server" % (
                             replicas_flag, num_replicas, num_ps_tasks, TF_CONFIG,
                             '{"cluster": {"ps": [...], "worker": [...]}, "task": {"type": '
                             '"worker", "index": N}}'))
  if num_replicas > 1 and num_ps_tasks == 0:
    raise ClusterError('--%s=%d with no ps task: every worker would train its own copy of the '
                       'variables; give --num_ps_tasks >= 1 (a "ps" job in %s)'
                       % (replicas_flag, num_replicas, TF_CONFIG))
  replicas_to_aggregate = num_replicas if replicas_to_aggregate is None else replicas_to_aggregate
  if replicas_to_aggregate < 1:
    raise ClusterError('--replicas_to_aggregate=%d: expected >= 1' % replicas_to_aggregate)
  if startup_delay_steps < 0:
    raise ClusterError('--startup_delay_steps=%d: expected >= 0' % startup_delay_steps)
  return Replica(job=job, task=task, num_replicas=num_replicas, num_ps_tasks=num_ps_tasks,
                 replicas_to_aggregate=replicas_to_aggregate,
                 sync=bool(sync) and num_replicas > 1, startup_delay_steps=startup_delay_steps,
                 master=master, cluster=cluster)


# The SyncReplicasOptimizer of each graph of a synchronous trainer (the loop needs its hook;
# keyed here, so the trainer's code stays one wrap_optimizer call; not a graph collection, which
# the saver's meta graph cannot serialize).
_SYNC_OPTIMIZERS = weakref.WeakKeyDictionary()
# Servers of this process, kept alive for its lifetime (a collected Server stops).
_SERVERS = {}


def target(replica, default=''):
  """The session target of `replica`: its own server (TF_CONFIG, started once) or --master."""
  if replica.cluster is None:
    return replica.master or default
  key = (replica.job, replica.task)
  if key not in _SERVERS:
    logging.info('Starting the server of %s task %d (%s)', replica.job, replica.task,
                 replica.cluster[replica.job][replica.task])
    _SERVERS[key] = tf.distribute.Server(
        tf.train.ClusterSpec(replica.cluster), job_name=replica.job, task_index=replica.task,
        config=replica.session_config(), start=True)
  return _SERVERS[key].target


def _ps_done_queue(ps_task, capacity):
  with tf.compat.v1.device('/job:%s/task:%d' % (PS, ps_task)):
    return tf.queue.FIFOQueue(capacity, tf.int32, shapes=[()],
                              shared_name=PS_DONE_QUEUE % ps_task,
                              name='ps_done_queue_%d' % ps_task)


def _workers_done_queue(num_replicas):
  with tf.compat.v1.device('/job:%s/task:0' % PS):
    return tf.queue.FIFOQueue(num_replicas, tf.int32, shapes=[()],
                              shared_name=WORKERS_DONE_QUEUE, name='workers_done_queue')


def serve_ps(replica):
  """Runs a ps task until the chief finishes the training; returns 0 (the exit status)."""
  server_target = target(replica)
  with tf.Graph().as_default():
    done = _ps_done_queue(replica.task, replica.num_replicas).dequeue()
    with tf.compat.v1.Session(server_target, config=replica.session_config()) as sess:
      logging.info('ps task %d serving; it ends when the chief finishes the training',
                   replica.task)
      sess.run(done)
  logging.info('ps task %d: the chief finished the training; exiting', replica.task)
  return 0


def wrap_optimizer(optimizer, replica):
  """`optimizer`, wrapped in a SyncReplicasOptimizer when `replica.sync` (else unchanged).

  Call it where the trainer makes its optimizer, inside `replica.device_scope()`, and use the
  result for `compute_gradients` / `apply_gradients(..., global_step=...)`.
  """
  if not (replica.distributed and replica.sync):
    return optimizer
  sync = tf.compat.v1.train.SyncReplicasOptimizer(
      optimizer, replicas_to_aggregate=replica.replicas_to_aggregate,
      total_num_replicas=replica.num_replicas)
  _SYNC_OPTIMIZERS.setdefault(tf.compat.v1.get_default_graph(), []).append(sync)
  return sync


class Worker(object):
  """What the train loop does differently on a cluster worker (no-ops on one machine).

  Build it after the graph (before the session): it adds the end-of-training ops and the
  synchronous optimizer's initialisation ops to the default graph.
  """

  def __init__(self, replica, global_step, default_master=''):
    self.replica = replica
    self.is_chief = replica.is_chief
    self._global_step = global_step
    self._default_master = default_master
    self._sync_hook = None
    self._release_tokens = None
    self._coord = None
    if not replica.distributed:
      return
    if replica.sync:
      found = _SYNC_OPTIMIZERS.get(tf.compat.v1.get_default_graph(), [])
      if len(found) != 1:
        raise ValueError('replica.sync: the trainer must wrap its one optimizer with '
                         'slim.runtime.distributed.wrap_optimizer (found %d)' % len(found))
      # No head start: a worker's first gradients wait for the others' (only when fewer
      # workers than gradients per step exist do tokens have to be there at the start).
      self._sync_hook = found[0].make_session_run_hook(
          self.is_chief, num_tokens=max(0, replica.replicas_to_aggregate - replica.num_replicas))
      self._sync_hook.begin()
      if self.is_chief:
        self._release_tokens = found[0].get_init_tokens_op(replica.num_replicas)
    with tf.compat.v1.device(None):
      self._workers_done = _workers_done_queue(replica.num_replicas)
      if self.is_chief:
        self._ps_done = [_ps_done_queue(i, replica.num_replicas).enqueue(0)
                         for i in range(replica.num_ps_tasks)]
        self._wait_workers = (self._workers_done.dequeue_many(replica.num_replicas - 1)
                              if replica.num_replicas > 1 else None)
      else:
        self._report_done = self._workers_done.enqueue(replica.task)
        self._ready_op = tf.compat.v1.report_uninitialized_variables()
        self._ready_for_local_init = tf.compat.v1.report_uninitialized_variables(
            tf.compat.v1.global_variables())
        self._local_init = tf.group(tf.compat.v1.local_variables_initializer(),
                                    tf.compat.v1.tables_initializer())

  def session(self, graph):
    """A session on this worker: the chief's (or one machine's) at once; another worker's once
    the chief initialised the variables."""
    replica = self.replica
    master = target(replica, self._default_master)
    if not replica.distributed:
      return tf.compat.v1.Session(master, graph=graph)
    logging.info('Worker %d of %d (%s, %s) on %s', replica.task, replica.num_replicas,
                 'chief' if self.is_chief else 'non-chief',
                 'synchronous' if replica.sync else 'asynchronous', master)
    if self.is_chief:
      return tf.compat.v1.Session(master, graph=graph, config=replica.session_config())
    manager = tf.compat.v1.train.SessionManager(
        local_init_op=self._local_init, ready_op=self._ready_op,
        ready_for_local_init_op=self._ready_for_local_init, graph=graph,
        recovery_wait_secs=POLL_SECS)
    logging.info('Waiting for the chief to initialise the variables')
    return manager.wait_for_session(master, config=replica.session_config())

  def start(self, sess):
    """After the variables are ready: the synchronous optimizer's initialisation (and, on the
    chief, its queue runner), then an asynchronous worker's startup delay."""
    if self._sync_hook is not None:
      self._coord = tf.train.Coordinator()
      self._sync_hook.after_create_session(sess, self._coord)
    replica = self.replica
    if replica.sync and replica.task and replica.startup_delay_steps:
      logging.info('--startup_delay_steps is not used by synchronous replicas (every step '
                   'needs all of them)')
    elif replica.distributed and replica.task and replica.startup_delay_steps:
      start_step = replica.task * replica.startup_delay_steps
      logging.info('Worker %d starts at global step %d', replica.task, start_step)
      while int(sess.run(self._global_step)) < start_step:
        time.sleep(POLL_SECS)

  def check(self):
    """Raises the chief queue runner's error, if it failed."""
    if self._coord is not None and self._coord.should_stop():
      self._coord.raise_requested_exception()

  def finish(self, sess, completed):
    """End of this worker's loop; `completed`: the last step was reached (not a signal).

    The chief then releases the other workers, waits for them, and tells the ps tasks to
    exit; another worker reports that it is done.
    """
    if not self.replica.distributed or not completed:
      return
    if not self.is_chief:
      sess.run(self._report_done)
      return
    if self._release_tokens is not None:
      sess.run(self._release_tokens)
    if self._wait_workers is not None:
      try:
        sess.run(self._wait_workers,
                 options=tf.compat.v1.RunOptions(timeout_in_ms=FINISH_WAIT_SECS * 1000))
      except tf.errors.DeadlineExceededError:
        logging.warning('Not every worker finished within %d s; ending the ps tasks anyway',
                        FINISH_WAIT_SECS)
    for op in self._ps_done:
      sess.run(op)
    logging.info('Training finished: the ps tasks were told to exit')

  def close(self):
    """Stops the chief's queue runner thread (it is cancelled when the session closes)."""
    if self._coord is not None:
      self._coord.request_stop()
