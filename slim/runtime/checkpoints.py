"""Checkpoints for every trainer, evaluator and exporter: find, restore for fine-tuning, freeze.

- `resolve(path, flag)`: a checkpoint prefix, a training folder, a released tarball or its
  extracted folder -> the checkpoint prefix (errors name the flag).
- `init_fn(checkpoint, variables, ...)`: the fine-tuning restore (`--tf_initial_checkpoint`,
  `--checkpoint_path`): variables under excluded scopes are skipped, variables the checkpoint
  lacks keep their initial values (listed once in the log, or an error), a shape mismatch is
  always an error.
- `restore_for_export(sess, checkpoint)`: restores every variable of an export graph, deriving
  per-channel weight ranges that a per-tensor QAT checkpoint does not hold.
"""
import os

from absl import logging
import tensorflow as tf

from slim import checkpoint_tarball

CheckpointError = checkpoint_tarball.CheckpointError

# Weight-range variables of the QAT rewriter; per-channel ones can be derived from the weights.
_WEIGHT_RANGE_SUFFIXES = ('weights_quant/min', 'weights_quant/max')


def _flag_prefix(flag, path):
  return '--%s=%s: ' % (flag, path) if flag else ''


def resolve(path, flag=None):
  """Returns the checkpoint prefix named by `path` (see `checkpoint_tarball.resolve_checkpoint`).

  Args:
    path: a checkpoint prefix (`model.ckpt-300`), a folder holding checkpoints (the latest is
      taken), a released `.tar.gz` or its extracted folder.
    flag: the flag `path` came from; error messages start with `--flag=path: `.

  Returns:
    The checkpoint prefix.

  Raises:
    CheckpointError: naming the flag, the path and what was expected.
  """
  try:
    return checkpoint_tarball.resolve_checkpoint(path)
  except CheckpointError as e:
    if not flag:
      raise
    message = str(e)
    if message.startswith(path + ': '):
      message = message[len(path) + 2:]
    raise CheckpointError(_flag_prefix(flag, path) + message) from None


# Lines of a TF error message that say where, not what.
_CONTEXT_LINES = ('Graph execution error', 'Detected at node', 'File "', 'Node:', '[[', 'Original ')


def error_reason(error):
  """The line of a TF error message that says what went wrong (not the graph context)."""
  lines = [line.strip() for line in getattr(error, 'message', str(error)).splitlines()]
  reasons = [line for line in lines if line and not line.startswith(_CONTEXT_LINES)]
  return reasons[0] if reasons else type(error).__name__


def restore(saver, sess, checkpoint):
  """`saver.restore(sess, checkpoint)`, with a clear error when the files cannot be read.

  Raises:
    CheckpointError: naming the checkpoint, e.g. a data file truncated by a run killed while
      saving or by a partial copy.
  """
  try:
    saver.restore(sess, checkpoint)
  except tf.errors.OpError as e:
    raise CheckpointError('%s: the checkpoint cannot be read (%s): its data file is truncated '
                          'or corrupt (a partial copy, or a run killed while saving); use an '
                          'earlier checkpoint' % (checkpoint, error_reason(e))) from None


def saved_checkpoints(logdir, basename='model.ckpt'):
  """The `<basename>-<step>` checkpoints found in `logdir` (by their .index files), newest first.

  Read from the folder, not from the `checkpoint` state file, which a restarted Saver rewrites
  with only the checkpoints it wrote itself.
  """
  steps = []
  for path in tf.io.gfile.glob(os.path.join(logdir, basename + '-*.index')):
    step = path[:-len('.index')].rsplit('-', 1)[1]
    if step.isdigit():
      steps.append(int(step))
  return [os.path.join(logdir, '%s-%d' % (basename, step)) for step in sorted(steps, reverse=True)]


def in_scopes(name, scopes):
  """Whether variable/op `name` is one of `scopes` or lies under one of them."""
  return any(name == s.rstrip('/') or name.startswith(s.rstrip('/') + '/') for s in scopes)


def init_fn(checkpoint, variables, exclude_scopes=(), ignore_missing_vars=False,
            expected_missing=lambda name: False, flag=None, hint=''):
  """Returns `fn(sess)` restoring `variables` from `checkpoint` (fine-tuning), or None.

  Args:
    checkpoint: a checkpoint prefix (see `resolve`).
    variables: {checkpoint name: tf.Variable} or a list of variables (keyed by op name).
    exclude_scopes: scopes not restored (e.g. the logits when the class count differs).
    ignore_missing_vars: variables the checkpoint lacks keep their initial values (logged as
      one list) instead of raising.
    expected_missing: `f(name) -> bool` for variables a checkpoint may lack without error or
      warning (QAT ranges and pruning masks in a float checkpoint).
    flag: the flag the checkpoint came from (named in errors).
    hint: appended to the missing-variables error (e.g. which flags would help).

  Returns:
    The restore function, or None when no variable is to be restored.

  Raises:
    CheckpointError: the checkpoint shares no variable with the model, a shared variable has
      another shape, or (without ignore_missing_vars) variables are missing.
  """
  if not isinstance(variables, dict):
    variables = {v.op.name: v for v in variables}
  variables = {name: var for name, var in variables.items()
               if not in_scopes(name, exclude_scopes)}
  if not variables:
    return None
  prefix = _flag_prefix(flag, checkpoint)
  try:
    missing = checkpoint_tarball.check_compatibility(checkpoint, variables)
  except CheckpointError as e:
    raise CheckpointError(prefix + str(e)) from None
  unexpected = [name for name in missing if not expected_missing(name)]
  if unexpected and not ignore_missing_vars:
    raise CheckpointError('%s%s lacks %d model variable(s): %s%s'
                          % (prefix, checkpoint, len(unexpected), unexpected, hint))
  if unexpected:
    # One list, not one warning per variable (QAT ranges and optimizer slots are expected).
    logging.warning('%d model variables are not in %s and keep their initial values: %s',
                    len(unexpected), checkpoint, unexpected)
  missing = set(missing)
  present = {name: var for name, var in variables.items() if name not in missing}
  saver = tf.compat.v1.train.Saver(present)
  logging.info('Initializing %d variables from %s', len(present), checkpoint)
  return lambda sess: restore(saver, sess, checkpoint)


def _fake_quant_consumer(variable):
  """Returns the FakeQuant op reading `variable` as its min or max input, or None."""
  names = {variable.op.name, variable.op.name + '/read'}
  for op in variable.graph.get_operations():
    if op.type.startswith('FakeQuantWithMinMaxVars') and (
        op.inputs[1].op.name in names or op.inputs[2].op.name in names):
      return op
  return None


def restore_for_export(sess, checkpoint_path):
  """Restores `checkpoint_path` into every global variable of `sess.graph`, for freezing.

  A per-tensor QAT checkpoint holds scalar `<layer>/weights_quant/{min,max}`; a graph rewritten
  with per-channel ranges needs one value per output channel. Those are derived from the
  restored weights as the per-channel training quantizer computes them: symmetric [-a, a] with
  a = max |w| over all axes but the last (the FakeQuant input, after BN folding), so every
  channel's zero point is 0 (the TFLite int8 spec, which XNNPACK enforces).

  Args:
    sess: a session on the export graph.
    checkpoint_path: checkpoint prefix.

  Raises:
    ValueError: the checkpoint lacks (or reshapes) variables of the graph that cannot be derived.
  """
  graph = sess.graph
  shapes = tf.compat.v1.train.NewCheckpointReader(checkpoint_path).get_variable_to_shape_map()
  restore_list, derive, missing = [], [], []
  for variable in graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES):
    name = variable.op.name
    if shapes.get(name) == variable.shape.as_list():
      restore_list.append(variable)
    elif (name.endswith(_WEIGHT_RANGE_SUFFIXES) and variable.shape.rank == 1 and
          _fake_quant_consumer(variable) is not None):
      derive.append(variable)
    else:
      missing.append(name)
  if missing:
    raise ValueError('Checkpoint %s does not match the export graph: missing or reshaped '
                     'variables %s' % (checkpoint_path, sorted(missing)))
  with graph.as_default():
    restore(tf.compat.v1.train.Saver(restore_list), sess, checkpoint_path)
    assigns = []
    for variable in derive:
      weights = _fake_quant_consumer(variable).inputs[0]
      bound = tf.reduce_max(tf.abs(weights), axis=list(range(weights.shape.rank - 1)))
      value = -bound if variable.op.name.endswith('/min') else bound
      assigns.append(variable.assign(tf.reshape(value, variable.shape)))
    # One run for all: a run per variable re-extends the session's graph each time (about a
    # second each on a MOSAIC export, two minutes in all). The folded weights read only restored
    # variables, never a range, so the order of the assignments does not matter.
    if assigns:
      sess.run(assigns)
