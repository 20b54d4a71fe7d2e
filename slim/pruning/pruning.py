"""Magnitude pruning in TF1 graph mode, compatible with `tf.contrib.model_pruning`.

Wiring (same as the original):

  from slim import pruning

  # 1. Mask the weights while building the model: explicitly ...
  masked = pruning.apply_mask(weights, scope)         # <scope>/mask, <scope>/threshold
  # ... or for any tf_slim network, with a custom getter (no change to the net's code):
  with tf.compat.v1.variable_scope('', custom_getter=pruning.masked_variable_getter()):
    logits, end_points = network_fn(images)

  # 2. After the train op, update the masks on the schedule.
  hparams = pruning.get_pruning_hparams().parse(FLAGS.pruning_hparams)
  p = pruning.Pruning(hparams, global_step=global_step)
  mask_update_op = p.conditional_mask_update_op()     # run after every train step
  p.add_pruning_summaries()

  # 3. Export: freeze, then fold mask*weight into constants (strip_pruning_vars).

Schedule: s_t = s_f + (s_i - s_f) * (1 - p)^e, p = clip((t - t_begin) / (t_end - t_begin), 0, 1)
over [sparsity_function_begin_step, sparsity_function_end_step]. Masks update when
t >= begin_pruning_step, (t <= end_pruning_step or end_pruning_step < 0) and
last_mask_update_step + pruning_frequency <= t. Each update sets the threshold from a
`nbins`-bin histogram of |w| (smoothed by `threshold_decay`) and mask = |w| > threshold.
"""
import tensorflow as tf
from tensorflow.python.ops import variables as tf_variables

from slim.pruning import hparam
from slim.pruning import names
from slim.pruning import pruning_utils

_v1 = tf.compat.v1


def get_pruning_hparams():
  """Returns the pruning hparams with the contrib defaults (google-research naming).

  name: name scope of the pruning ops and summaries.
  begin_pruning_step / end_pruning_step: global-step window of mask updates (end -1: forever).
  weight_sparsity_map: ['layer_substring:target', ...] per-layer target sparsities.
  block_dims_map: ['layer_substring:HxW', ...] per-layer block shapes (rank-2 weights only).
  threshold_decay: EMA decay of the threshold across updates (0: no smoothing).
  pruning_frequency: global steps between mask updates.
  nbins: histogram bins used to estimate the threshold.
  block_height / block_width: default block shape for weights that squeeze to rank 2.
  block_pooling_function: 'AVG' or 'MAX' pooling of |w| over a block.
  initial_sparsity / target_sparsity: s_i and s_f of the schedule.
  sparsity_function_begin_step / _end_step / _exponent: window and exponent e of the schedule.
  use_tpu: use a resource variable for the step counter.

  Returns:
    An `hparam.HParams`; override with `.parse('name=x,target_sparsity=0.8,...')`.
  """
  return hparam.HParams(
      name='model_pruning',
      begin_pruning_step=0,
      end_pruning_step=-1,
      weight_sparsity_map=[''],
      block_dims_map=[''],
      threshold_decay=0.0,
      pruning_frequency=10,
      nbins=256,
      block_height=1,
      block_width=1,
      block_pooling_function='AVG',
      initial_sparsity=0.0,
      target_sparsity=0.5,
      sparsity_function_begin_step=0,
      sparsity_function_end_step=100,
      sparsity_function_exponent=3.0,
      use_tpu=False)


def _add_to_collections(mask, threshold, masked_weights, weights):
  # A weight masked twice (shared RNN weights, reused layers) is registered once: Pruning pairs
  # the collections by index.
  graph = mask.graph
  if mask.name in {m.name for m in graph.get_collection(names.MASK_COLLECTION)}:
    return
  graph.add_to_collection(names.THRESHOLD_COLLECTION, threshold)
  graph.add_to_collection(names.MASK_COLLECTION, mask)
  graph.add_to_collection(names.MASKED_WEIGHT_COLLECTION, masked_weights)
  graph.add_to_collection(names.WEIGHT_COLLECTION, weights)


def apply_mask(x, scope=''):
  """Masks a weight: returns mask * x, creating `<scope>/mask` and `<scope>/threshold`.

  The product is the Mul op `weights/masked_weight` in the current name scope (for a weight built
  in variable scope 'conv1' that is 'conv1/weights/masked_weight'). The QAT rewriter accepts a
  Mul as a layer's weight, so `slim.quantize` puts `weights_quant` after it.

  Args:
    x: the weight variable (or tensor) to mask.
    scope: variable scope for the mask and threshold (string or VariableScope); '' (default)
      means the current variable scope.

  Returns:
    The masked weight tensor, to use in place of `x`.
  """
  mask = pruning_utils.weight_mask_variable(x, scope)
  threshold = pruning_utils.weight_threshold_variable(x, scope)
  masked_weights = tf.multiply(mask, x, names.MASKED_WEIGHT_NAME)
  _add_to_collections(mask, threshold, masked_weights, x)
  return masked_weights


def masked_variable_getter(variable_names=('weights', 'pointwise_weights')):
  """Returns a custom getter that masks every variable whose base name is in `variable_names`.

  Lets any tf_slim network be pruned without editing it: under
  `tf.compat.v1.variable_scope('', custom_getter=masked_variable_getter())`, each
  `<layer>/weights` gets `<layer>/mask` and `<layer>/threshold` (the contrib names) and the layer
  consumes the Mul `<layer>/weights/masked_weight`. Other base names get their variables under
  the weight's own name, e.g. `<layer>/pointwise_weights/{mask,threshold,masked_weight}`, so
  several masked kernels can share a layer scope. Biases, batch-norm variables and depthwise
  kernels are left alone by default (as tfmot); add 'depthwise_weights' to prune depthwise
  kernels too (as the Model Garden pruning project does).

  Args:
    variable_names: base names (last path component) of the variables to mask.

  Returns:
    A function usable as `custom_getter`.
  """
  variable_names = frozenset(variable_names)

  def getter(next_getter, name, *args, **kwargs):
    var = next_getter(name, *args, **kwargs)
    parent, _, base = name.rpartition('/')
    if base not in variable_names or not kwargs.get('trainable', True):
      return var
    # contrib naming for the standard kernel; any other kernel keeps its pruning vars apart.
    if base == names.STANDARD_KERNEL_NAME:
      prefix = parent + '/' if parent else ''
    else:
      prefix = name + '/'
    common = dict(shape=var.get_shape(), dtype=var.dtype.base_dtype, trainable=False,
                  reuse=kwargs.get('reuse'), use_resource=kwargs.get('use_resource'))
    # The raw getter takes full names: the layer's variable scope is already open here.
    mask = next_getter(prefix + names.MASK_VARIABLE, initializer=_v1.ones_initializer(), **common)
    threshold = next_getter(prefix + names.THRESHOLD_VARIABLE, initializer=_v1.zeros_initializer(),
                            **dict(common, shape=[]))
    # Keras-style layers create weights under init_scope (root name scope): name the Mul after
    # the variable explicitly.
    with _v1.name_scope(name + '/'):
      masked = tf.multiply(mask, var, names.MASKED_WEIGHT_SUFFIX)
    _add_to_collections(mask, threshold, masked, var)
    return masked

  return getter


def get_masks(graph=None):
  """Returns the `masks` collection."""
  return (graph or _v1.get_default_graph()).get_collection(names.MASK_COLLECTION)


def get_thresholds(graph=None):
  """Returns the `thresholds` collection."""
  return (graph or _v1.get_default_graph()).get_collection(names.THRESHOLD_COLLECTION)


def get_masked_weights(graph=None):
  """Returns the `masked_weights` collection (the mask * weight tensors)."""
  return (graph or _v1.get_default_graph()).get_collection(names.MASKED_WEIGHT_COLLECTION)


def get_weights(graph=None):
  """Returns the `kernel` collection (the unmasked weights)."""
  return (graph or _v1.get_default_graph()).get_collection(names.WEIGHT_COLLECTION)


def get_weight_sparsity(graph=None):
  """Returns one zero_fraction(mask) tensor per mask."""
  return [tf.nn.zero_fraction(mask) for mask in get_masks(graph)]


def get_pruning_variables(graph=None):
  """Returns the masks, thresholds and `last_mask_update_step` variables of the graph.

  Exclude these when restoring a dense (unpruned) checkpoint into a pruned graph: the
  checkpoint has no such variables.
  """
  graph = graph or _v1.get_default_graph()
  step_vars = [v for v in graph.get_collection(_v1.GraphKeys.GLOBAL_VARIABLES)
               if v.op.name.rpartition('/')[2] == names.LAST_MASK_UPDATE_STEP]
  return list(get_masks(graph)) + list(get_thresholds(graph)) + step_vars


def is_pruned_checkpoint(checkpoint_path):
  """True when the checkpoint holds pruning masks (a `<...>/mask` next to a `<...>/threshold`).

  Lets eval/export scripts rebuild the masked graph of a pruned checkpoint by themselves: the
  raw kernels of a pruned checkpoint are not zero where the mask is (weight decay and momentum
  move them), so evaluating them without the masks would be silently wrong.

  Args:
    checkpoint_path: checkpoint file prefix (e.g. `.../model.ckpt-100`).

  Returns:
    bool.
  """
  variables = _v1.train.NewCheckpointReader(checkpoint_path).get_variable_to_shape_map()
  for name in variables:
    parent, _, base = name.rpartition('/')
    if base == names.MASK_VARIABLE and (parent + '/' + names.THRESHOLD_VARIABLE) in variables:
      return True
  return False


def _parse_layer_map(entries, what, parse_value):
  """Parses ['substring:value', ...] (empty entries ignored) into a dict."""
  result = {}
  for entry in entries:
    if not entry:
      continue
    layer, sep, value = entry.rpartition(':')
    if not sep or not layer:
      raise ValueError('%s entry %r: expected "layer_name:value"' % (what, entry))
    result[layer] = parse_value(entry, value)
  return result


def _parse_sparsity(entry, value):
  try:
    sparsity = float(value)
  except ValueError:
    raise ValueError('weight_sparsity_map entry %r: sparsity %r is not a number' %
                     (entry, value)) from None
  if not 0.0 <= sparsity < 1.0:
    raise ValueError('weight_sparsity_map entry %r: sparsity must be in [0, 1)' % entry)
  return sparsity


def _parse_block_dims(entry, value):
  dims = value.lower().split('x')
  try:
    dims = [int(d) for d in dims]
  except ValueError:
    dims = []
  if len(dims) != 2 or min(dims) < 1:
    raise ValueError('block_dims_map entry %r: expected "layer_name:HxW" with H, W >= 1' % entry)
  return dims


def _lookup(layer_map, weight_name, what):
  """Value of the single map entry whose key is a substring of weight_name, or None."""
  matches = [value for key, value in layer_map.items() if key in weight_name]
  if len(matches) > 1:
    raise ValueError('Multiple matches in %s for weight %s' % (what, weight_name))
  return matches[0] if matches else None


class Pruning(object):
  """Builds the mask-update ops for every weight masked by `apply_mask` in the graph.

  Create it after the model (it reads the `masks`/`thresholds`/`kernel` collections when an
  update op is built) and run `conditional_mask_update_op()` after each training step.
  """

  def __init__(self, spec=None, global_step=None, sparsity=None):
    """Sets up the sparsity schedule and the `<name>/last_mask_update_step` variable.

    Args:
      spec: hparams from `get_pruning_hparams()` (default: those defaults).
      global_step: step tensor/variable (default: tf.train.get_global_step()).
      sparsity: optional scalar tensor replacing the schedule (per-layer targets then scale it
        by target_i / target_sparsity, as the original).

    Raises:
      ValueError: no global step; sparsity_function_begin_step >= _end_step; bad block
        pooling function or block dims; malformed weight_sparsity_map/block_dims_map.
    """
    self._spec = spec if spec is not None else get_pruning_hparams()
    if self._spec.block_pooling_function not in names.BLOCK_POOLING_FUNCTIONS:
      raise ValueError('Unknown pooling function for block sparsity: %s (expected one of %s)' %
                       (self._spec.block_pooling_function, names.BLOCK_POOLING_FUNCTIONS))
    if self._spec.block_height < 1 or self._spec.block_width < 1:
      raise ValueError('block_height and block_width must be >= 1, got %d x %d' %
                       (self._spec.block_height, self._spec.block_width))
    if self._spec.pruning_frequency < 1:
      raise ValueError('pruning_frequency must be >= 1, got %d' % self._spec.pruning_frequency)
    self._weight_sparsity_map = _parse_layer_map(
        self._spec.weight_sparsity_map, 'weight_sparsity_map', _parse_sparsity)
    self._block_dims_map = _parse_layer_map(
        self._spec.block_dims_map, 'block_dims_map', _parse_block_dims)
    self._global_step = self._setup_global_step(global_step)
    self._progress = None
    self._external_sparsity = sparsity is not None
    self._sparsity = sparsity if sparsity is not None else self._setup_sparsity()
    self._last_update_step = self._setup_last_update_step()

  @property
  def sparsity(self):
    """The scheduled (default-target) sparsity tensor."""
    return self._sparsity

  @property
  def last_mask_update_step(self):
    """The int32 `<name>/last_mask_update_step` variable."""
    return self._last_update_step

  def _setup_global_step(self, global_step):
    if global_step is None:
      global_step = _v1.train.get_global_step()
    if global_step is None:
      raise ValueError('Pruning needs a global step: pass global_step= or create one with '
                       'tf.compat.v1.train.get_or_create_global_step()')
    return tf.cast(global_step, tf.int32)

  def _schedule(self, target):
    """s_f + (s_i - s_f) * (1 - p)^e for the target s_f."""
    return tf.add((self._spec.initial_sparsity - target) *
                  tf.pow(1.0 - self._progress, self._spec.sparsity_function_exponent),
                  target)

  def _setup_sparsity(self):
    begin = self._spec.sparsity_function_begin_step
    end = self._spec.sparsity_function_end_step
    if begin >= end:
      raise ValueError('Pruning must begin before it can end. begin_step=%d, end_step=%d' %
                       (begin, end))
    with tf.name_scope(self._spec.name):
      self._progress = tf.clip_by_value(
          tf.cast(self._global_step - begin, tf.float32) / float(end - begin), 0.0, 1.0)
      return tf.identity(self._schedule(float(self._spec.target_sparsity)), names.SPARSITY_OP)

  def _setup_last_update_step(self):
    with _v1.variable_scope(self._spec.name, use_resource=self._spec.use_tpu,
                            reuse=_v1.AUTO_REUSE):
      return _v1.get_variable(names.LAST_MASK_UPDATE_STEP, [], dtype=tf.int32,
                              initializer=_v1.zeros_initializer(), trainable=False)

  def _get_sparsity(self, weight_name):
    """Target sparsity tensor for one weight (weight_sparsity_map overrides the default)."""
    target = _lookup(self._weight_sparsity_map, weight_name, 'weight_sparsity_map')
    if target is None:
      return self._sparsity
    if self._external_sparsity:
      if self._spec.target_sparsity <= 0:
        raise ValueError('weight_sparsity_map with an external sparsity tensor needs '
                         'target_sparsity > 0 to scale it')
      return self._sparsity * (target / self._spec.target_sparsity)
    # Same curve with the layer's own target (the original scaled s_t by target_i/s_f, which
    # is this curve only when initial_sparsity is 0).
    return self._schedule(target)

  def _get_block_dims(self, weight_name):
    dims = _lookup(self._block_dims_map, weight_name, 'block_dims_map')
    return dims if dims is not None else [self._spec.block_height, self._spec.block_width]

  def _update_mask(self, weights, threshold, sparsity):
    """Histogram threshold of |weights| for `sparsity`, EMA-smoothed; mask = |w| > threshold."""
    abs_weights = tf.abs(weights)
    max_value = tf.reduce_max(abs_weights)
    # An all-zero weight would give an empty histogram range.
    value_range = [0.0, tf.maximum(max_value, 1e-12)]
    cdf = pruning_utils.compute_cdf_from_histogram(abs_weights, value_range,
                                                   nbins=self._spec.nbins)
    bins_below = tf.reduce_sum(tf.cast(tf.less(cdf, sparsity), tf.float32))
    current_threshold = bins_below / float(self._spec.nbins) * max_value
    decay = self._spec.threshold_decay
    smoothed_threshold = tf.add_n([current_threshold * (1.0 - decay), threshold * decay])
    new_mask = tf.cast(tf.greater(abs_weights, smoothed_threshold), weights.dtype.base_dtype)
    return smoothed_threshold, new_mask

  def _maybe_update_block_mask(self, weights, threshold, weight_name=None):
    """Element or block mask for one weight; blocks only for weights that squeeze to rank 2."""
    weight_name = weight_name or weights.op.name
    sparsity = self._get_sparsity(weight_name)
    block_dims = self._get_block_dims(weight_name)
    with tf.name_scope(weight_name + names.PRUNING_OPS_SUFFIX):
      squeezed = tf.squeeze(weights)
      if squeezed.get_shape().ndims != 2 or block_dims == [1, 1]:
        return self._update_mask(weights, threshold, sparsity)
      pooled = pruning_utils.block_pool(tf.abs(squeezed), block_dims,
                                        self._spec.block_pooling_function,
                                        weight_name + '_pooled')
      smoothed_threshold, block_mask = self._update_mask(pooled, threshold, sparsity)
      rows, cols = squeezed.get_shape().as_list()
      mask = tf.slice(pruning_utils.expand_tensor(block_mask, block_dims), [0, 0], [rows, cols])
      return smoothed_threshold, tf.reshape(mask, tf.shape(weights))

  def _get_mask_assign_ops(self):
    masks, thresholds, weights = get_masks(), get_thresholds(), get_weights()
    if not len(masks) == len(thresholds) == len(weights):
      raise ValueError('Number of masks %d, thresholds %d and weights %d mismatch' %
                       (len(masks), len(thresholds), len(weights)))
    assign_ops = []
    for mask, threshold, weight in zip(masks, thresholds, weights):
      weight_name = weight.op.name
      if isinstance(weight, tf_variables.PartitionedVariable):
        weight = weight.as_tensor()
      elif isinstance(weight, tf.Variable):
        # A fresh read here, not the variable's `read` snapshot made at creation: inside
        # conditional_mask_update_op it runs after the predicate, so a mask update chained after
        # the optimizer step (through its global step) sees the updated weights.
        weight = weight.read_value()
      new_threshold, new_mask = self._maybe_update_block_mask(weight, threshold, weight_name)
      assign_ops.append(_v1.assign(threshold, new_threshold))
      assign_ops.append(_v1.assign(mask, new_mask))
    return assign_ops

  def mask_update_op(self):
    """Returns an op that recomputes every mask now and records the step (no gating).

    Built anew on each call, so it can be used both inside and outside a cond.
    """
    with tf.name_scope(self._spec.name):
      assign_ops = self._get_mask_assign_ops()
      with tf.control_dependencies([_v1.assign(self._last_update_step, self._global_step,
                                               name=names.LAST_MASK_UPDATE_STEP_ASSIGN)]):
        with tf.control_dependencies(assign_ops):
          return tf.no_op(names.MASK_UPDATE_OP)

  def conditional_mask_update_op(self):
    """Returns an op that updates the masks only on scheduled steps.

    Scheduled: global_step >= begin_pruning_step, (global_step <= end_pruning_step or
    end_pruning_step < 0) and last_mask_update_step + pruning_frequency <= global_step.
    """
    spec = self._spec
    with tf.name_scope(spec.name):
      in_window = tf.logical_and(
          tf.greater_equal(self._global_step, spec.begin_pruning_step),
          tf.logical_or(tf.less_equal(self._global_step, spec.end_pruning_step),
                        tf.constant(spec.end_pruning_step < 0)))
      due = tf.less_equal(self._last_update_step + spec.pruning_frequency, self._global_step)
      should_update = tf.logical_and(in_window, due)
    return _v1.cond(should_update, self.mask_update_op, tf.no_op)

  def add_pruning_summaries(self):
    """Adds scalar summaries: schedule sparsity, last update step, per-mask sparsity/threshold."""
    with tf.name_scope(self._spec.name + names.SUMMARIES_SUFFIX):
      _v1.summary.scalar('sparsity', self._sparsity)
      _v1.summary.scalar(names.LAST_MASK_UPDATE_STEP, self._last_update_step)
      for mask, threshold in zip(get_masks(), get_thresholds()):
        _v1.summary.scalar(mask.op.name + '/sparsity', tf.nn.zero_fraction(mask))
        _v1.summary.scalar(threshold.op.name + '/threshold', threshold)

  def print_hparams(self):
    """Logs the hparams as JSON."""
    _v1.logging.info(self._spec.to_json())
