"""Tests for slim.pruning.pruning: masks, schedule, gate, thresholds, blocks, per-layer targets."""
import numpy as np
import pytest
import tensorflow as tf
import tf_slim

from slim import pruning

_v1 = tf.compat.v1


def _schedule(step, s_i, s_f, begin, end, exponent):
  p = min(1.0, max(0.0, (step - begin) / float(end - begin)))
  return s_f + (s_i - s_f) * (1 - p) ** exponent


def _histogram_threshold(weights, sparsity, nbins):
  """Numpy version of the contrib histogram threshold (bins over [0, max|w|])."""
  abs_w = np.abs(weights).ravel()
  max_value = abs_w.max()
  bins = np.minimum((abs_w / max_value * nbins).astype(np.int64), nbins - 1)
  cdf = np.cumsum(np.bincount(bins, minlength=nbins)) / float(abs_w.size)
  return np.sum(cdf < sparsity) / float(nbins) * max_value


def _op(name):
  return _v1.get_default_graph().get_operation_by_name(name)


def testApplyMask_CreatesMaskThresholdAndMaskedWeightOp():
  with _v1.variable_scope('conv1'):
    weights = _v1.get_variable('weights', [3, 3, 2, 4])
    masked = pruning.apply_mask(weights)
  assert masked.op.name == 'conv1/weights/masked_weight'
  assert masked.op.type == 'Mul'
  assert [t.op.name for t in masked.op.inputs] == ['conv1/mask/read', 'conv1/weights/read']
  (mask,), (threshold,) = pruning.get_masks(), pruning.get_thresholds()
  assert mask.op.name == 'conv1/mask' and mask.shape.as_list() == [3, 3, 2, 4]
  assert threshold.op.name == 'conv1/threshold' and threshold.shape.as_list() == []
  assert mask not in _v1.trainable_variables() and threshold not in _v1.trainable_variables()
  assert [t.name for t in pruning.get_masked_weights()] == [masked.name]
  assert [w.name for w in pruning.get_weights()] == [weights.name]
  with _v1.Session() as sess:
    sess.run(_v1.global_variables_initializer())
    mask_value, threshold_value = sess.run([mask, threshold])
  np.testing.assert_array_equal(mask_value, np.ones([3, 3, 2, 4]))
  assert threshold_value == 0.0


def testApplyMask_ScopeArgumentAsStringOrVariableScope():
  weights = _v1.get_variable('weights', [4, 4])
  pruning.apply_mask(weights, 'layer1')
  with _v1.variable_scope('layer2') as scope:
    pass
  pruning.apply_mask(weights, scope)
  assert [m.op.name for m in pruning.get_masks()] == ['layer1/mask', 'layer2/mask']


def testApplyMask_SameMaskTwice_RegisteredOnce():
  with _v1.variable_scope('rnn', reuse=_v1.AUTO_REUSE):
    weights = _v1.get_variable('weights', [4, 4])
    first = pruning.apply_mask(weights)
    second = pruning.apply_mask(weights)
  assert first.op.name == 'rnn/weights/masked_weight'
  assert second.op.name == 'rnn/weights/masked_weight_1'
  assert len(pruning.get_masks()) == len(pruning.get_masked_weights()) == 1


def _tiny_net(images, variable_names=('weights', 'pointwise_weights')):
  with _v1.variable_scope('', custom_getter=pruning.masked_variable_getter(variable_names)):
    net = tf_slim.conv2d(images, 8, 3, normalizer_fn=tf_slim.batch_norm, scope='conv1')
    net = tf_slim.separable_conv2d(net, 8, 3, depth_multiplier=1, scope='sep')
    net = tf.reduce_mean(net, [1, 2])
    return tf_slim.fully_connected(net, 5, activation_fn=None, scope='logits')


def testMaskedVariableGetter_MasksSlimWeightsOnly():
  _tiny_net(_v1.placeholder(tf.float32, [1, 9, 9, 3]))
  assert [m.op.name for m in pruning.get_masks()] == [
      'conv1/mask', 'sep/pointwise_weights/mask', 'logits/mask']
  assert [t.op.name for t in pruning.get_thresholds()] == [
      'conv1/threshold', 'sep/pointwise_weights/threshold', 'logits/threshold']
  assert _op('conv1/Conv2D').inputs[1].op.name == 'conv1/weights/masked_weight'
  assert _op('logits/MatMul').inputs[1].op.name == 'logits/weights/masked_weight'
  # The pointwise kernel of the separable conv is masked, its depthwise kernel is not.
  assert _op('sep/separable_conv2d').inputs[1].op.name == 'sep/pointwise_weights/masked_weight'
  assert _op('sep/separable_conv2d/depthwise').inputs[1].op.name == 'sep/depthwise_weights/read'
  # Trainable set unchanged: masks and thresholds are not trained.
  assert sorted(v.op.name for v in _v1.trainable_variables()) == [
      'conv1/BatchNorm/beta', 'conv1/weights', 'logits/biases', 'logits/weights', 'sep/biases',
      'sep/depthwise_weights', 'sep/pointwise_weights']


def testMaskedVariableGetter_DepthwiseOptIn():
  _tiny_net(_v1.placeholder(tf.float32, [1, 9, 9, 3]),
            ('weights', 'pointwise_weights', 'depthwise_weights'))
  assert _op('sep/separable_conv2d/depthwise').inputs[1].op.name == (
      'sep/depthwise_weights/masked_weight')
  assert [m.op.name for m in pruning.get_masks()] == [
      'conv1/mask', 'sep/depthwise_weights/mask', 'sep/pointwise_weights/mask', 'logits/mask']


def testSparsity_FollowsPolynomialSchedule():
  step = _v1.placeholder(tf.int64, [])
  hparams = pruning.get_pruning_hparams().parse(
      'initial_sparsity=0.1,target_sparsity=0.9,sparsity_function_begin_step=10,'
      'sparsity_function_end_step=50,sparsity_function_exponent=2')
  p = pruning.Pruning(hparams, global_step=step)
  assert p.sparsity.op.name == 'model_pruning/sparsity'
  with _v1.Session() as sess:
    for t in (0, 10, 20, 30, 49, 50, 80):
      got = sess.run(p.sparsity, {step: t})
      assert got == pytest.approx(_schedule(t, 0.1, 0.9, 10, 50, 2), abs=1e-6), t


def _gate_steps(hparams_text, steps):
  """Steps at which conditional_mask_update_op updated the masks."""
  pruning.apply_mask(_v1.get_variable('weights', [8, 8]), 'layer')
  step = _v1.placeholder(tf.int32, [])
  p = pruning.Pruning(pruning.get_pruning_hparams().parse(hparams_text), global_step=step)
  update = p.conditional_mask_update_op()
  updated = []
  with _v1.Session() as sess:
    sess.run(_v1.global_variables_initializer())
    for t in steps:
      before = sess.run(p.last_mask_update_step)
      sess.run(update, {step: t})
      if sess.run(p.last_mask_update_step) != before:
        updated.append(t)
  return updated


def testConditionalMaskUpdate_RespectsBeginEndAndFrequency():
  assert _gate_steps('begin_pruning_step=5,end_pruning_step=25,pruning_frequency=4',
                     range(41)) == [5, 9, 13, 17, 21, 25]


def testConditionalMaskUpdate_NegativeEndPrunesForever():
  assert _gate_steps('begin_pruning_step=0,end_pruning_step=-1,pruning_frequency=10',
                     range(0, 1001, 5)) == list(range(10, 1001, 10))


def testConditionalMaskUpdate_StepVariableName():
  _v1.get_variable('weights', [2, 2])
  p = pruning.Pruning(global_step=_v1.train.get_or_create_global_step())
  assert p.last_mask_update_step.op.name == 'model_pruning/last_mask_update_step'
  assert p.last_mask_update_step.dtype.base_dtype == tf.int32
  assert [v.op.name for v in pruning.get_pruning_variables()] == [
      'model_pruning/last_mask_update_step']


def testMasks_ReachScheduledSparsityAtUpdateSteps():
  rng = np.random.RandomState(0)
  with _v1.variable_scope('fc'):
    weights = _v1.get_variable('weights', initializer=rng.randn(64, 64).astype(np.float32))
    pruning.apply_mask(weights)
  global_step = _v1.train.get_or_create_global_step()
  hparams = pruning.get_pruning_hparams().parse(
      'target_sparsity=0.8,sparsity_function_end_step=40,pruning_frequency=10')
  p = pruning.Pruning(hparams, global_step=global_step)
  update = p.conditional_mask_update_op()
  increment = _v1.assign_add(global_step, 1)
  mask = pruning.get_masks()[0]
  with _v1.Session() as sess:
    sess.run(_v1.global_variables_initializer())
    for t in range(60):
      sess.run(update)
      sparsity = 1.0 - np.count_nonzero(sess.run(mask)) / mask.shape.num_elements()
      # Masks change only at update steps 10, 20, ...: between them they hold the last value.
      expected = _schedule(t - t % 10, 0.0, 0.8, 0, 40, 3)
      assert sparsity == pytest.approx(expected, abs=0.01), t
      sess.run(increment)


def testMaskUpdate_HistogramThresholdWithDecay():
  rng = np.random.RandomState(1)
  values = rng.randn(32, 16).astype(np.float32)
  weights = _v1.get_variable('weights', initializer=values)
  masked = pruning.apply_mask(weights, 'layer')
  sparsity = _v1.placeholder(tf.float32, [])
  hparams = pruning.get_pruning_hparams().parse('threshold_decay=0.5,nbins=64')
  p = pruning.Pruning(hparams, global_step=_v1.train.get_or_create_global_step(),
                      sparsity=sparsity)
  update = p.mask_update_op()
  threshold = pruning.get_thresholds()[0]
  with _v1.Session() as sess:
    sess.run(_v1.global_variables_initializer())
    sess.run(update, {sparsity: 0.3})
    first = 0.5 * _histogram_threshold(values, 0.3, 64)
    assert sess.run(threshold) == pytest.approx(first, rel=1e-5)
    sess.run(update, {sparsity: 0.6})
    second = 0.5 * first + 0.5 * _histogram_threshold(values, 0.6, 64)
    assert sess.run(threshold) == pytest.approx(second, rel=1e-5)
    # mask = |w| > threshold (strict), and the masked weight is mask * w.
    np.testing.assert_array_equal(sess.run(pruning.get_masks()[0]),
                                  (np.abs(values) > second).astype(np.float32))
    np.testing.assert_array_equal(sess.run(masked), values * (np.abs(values) > second))


def _prune_once(weight_shapes, hparams_text, sparsity_value):
  """Creates weights 'layerN/weights' of the given shapes, runs one mask update."""
  rng = np.random.RandomState(2)
  for i, shape in enumerate(weight_shapes):
    with _v1.variable_scope('layer%d' % i):
      pruning.apply_mask(_v1.get_variable(
          'weights', initializer=rng.randn(*shape).astype(np.float32)))
  hparams = pruning.get_pruning_hparams().parse(hparams_text)
  p = pruning.Pruning(hparams, global_step=_v1.train.get_or_create_global_step(),
                      sparsity=None if sparsity_value is None else tf.constant(sparsity_value))
  update = p.mask_update_op()
  with _v1.Session() as sess:
    sess.run(_v1.global_variables_initializer())
    sess.run(update)
    return sess.run(pruning.get_masks())


def testWeightSparsityMap_PerLayerTargets():
  # At the end of the schedule each layer reaches its own target.
  _v1.train.get_or_create_global_step()
  masks = _prune_once(
      [(40, 40), (40, 40)],
      'target_sparsity=0.5,sparsity_function_begin_step=-100,sparsity_function_end_step=0,'
      'weight_sparsity_map=[layer1/:0.8]', None)
  assert 1 - masks[0].mean() == pytest.approx(0.5, abs=0.01)
  assert 1 - masks[1].mean() == pytest.approx(0.8, abs=0.01)


@pytest.mark.parametrize('text, message', [
    ('weight_sparsity_map=[layer:1.0]', "entry 'layer:1.0': sparsity must be in [0, 1)"),
    ('weight_sparsity_map=[layer:x]', "entry 'layer:x': sparsity 'x' is not a number"),
    ('weight_sparsity_map=[layer]', "weight_sparsity_map entry 'layer': expected"),
    ('block_dims_map=[layer:4]', "block_dims_map entry 'layer:4': expected"),
    ('block_pooling_function=MIN', 'Unknown pooling function for block sparsity: MIN'),
    ('sparsity_function_begin_step=100', 'Pruning must begin before it can end. '
     'begin_step=100, end_step=100'),
    ('pruning_frequency=0', 'pruning_frequency must be >= 1, got 0'),
])
def testPruning_BadSpecRaises(text, message):
  with pytest.raises(ValueError) as e:
    pruning.Pruning(pruning.get_pruning_hparams().parse(text),
                    global_step=_v1.train.get_or_create_global_step())
  assert message in str(e.value)


def testPruning_WithoutGlobalStepRaises():
  with pytest.raises(ValueError, match='Pruning needs a global step'):
    pruning.Pruning()


def testWeightSparsityMap_AmbiguousMatchRaises():
  with pytest.raises(ValueError, match='Multiple matches in weight_sparsity_map for weight '
                     'layer0/weights'):
    _prune_once([(4, 4)], 'weight_sparsity_map=[layer:0.5,layer0:0.6]', 0.5)


def _assert_blockwise(mask, block):
  rows, cols = mask.shape
  for r in range(0, rows, block[0]):
    for c in range(0, cols, block[1]):
      tile = mask[r:r + block[0], c:c + block[1]]
      assert tile.min() == tile.max(), (r, c)


@pytest.mark.parametrize('pooling', ['AVG', 'MAX'])
def testBlockSparsity_MasksWholeBlocksOfRank2Weights(pooling):
  # 18x20 with 4x4 blocks: the last row of blocks is partial (SAME pooling, then cropped).
  masks = _prune_once([(18, 20), (3, 3, 4, 4), (1, 1, 16, 8)],
                      'block_height=4,block_width=4,block_pooling_function=%s' % pooling, 0.6)
  assert masks[0].shape == (18, 20)
  _assert_blockwise(masks[0], (4, 4))
  # 5 x 5 = 25 blocks, about 60% of them pruned: the histogram estimate keeps a bin's values
  # together, coarse with only 25 (clustered, for MAX) pooled magnitudes.
  assert 1 - masks[0][::4, ::4].mean() == pytest.approx(0.6, abs=0.1)
  # A 3x3 conv kernel is not rank 2: element-wise mask.
  assert 1 - masks[1].mean() == pytest.approx(0.6, abs=0.03)
  # A 1x1 conv kernel squeezes to rank 2: block mask, original shape.
  assert masks[2].shape == (1, 1, 16, 8)
  _assert_blockwise(masks[2][0, 0], (4, 4))


def testBlockDimsMap_PerLayerBlocks():
  masks = _prune_once([(16, 16), (16, 16)], 'block_dims_map=[layer1/:2x8]', 0.5)
  _assert_blockwise(masks[1], (2, 8))
  # layer0 keeps 1x1 blocks: some 2x8 tile mixes kept and pruned weights.
  assert any(masks[0][r:r + 2, c:c + 8].min() != masks[0][r:r + 2, c:c + 8].max()
             for r in range(0, 16, 2) for c in range(0, 16, 8))


def testAddPruningSummaries_NamesAsOriginal():
  with _v1.variable_scope('conv1'):
    pruning.apply_mask(_v1.get_variable('weights', [3, 3, 1, 2]))
  pruning.Pruning(global_step=_v1.train.get_or_create_global_step()).add_pruning_summaries()
  tags = sorted(op.name for op in _v1.get_default_graph().get_operations()
                if op.type == 'ScalarSummary')
  assert tags == ['model_pruning_summaries/conv1/mask/sparsity',
                  'model_pruning_summaries/conv1/threshold/threshold',
                  'model_pruning_summaries/last_mask_update_step',
                  'model_pruning_summaries/sparsity']


def testPrunedWeights_StayZeroWhileTraining():
  """A tiny conv net trained with SGD: masked weights stay zero between and after updates."""
  rng = np.random.RandomState(3)
  images = tf.constant(rng.rand(4, 9, 9, 3).astype(np.float32))
  labels = tf.constant(rng.randint(0, 5, size=[4]))
  logits = _tiny_net(images)
  loss = _v1.losses.sparse_softmax_cross_entropy(labels, logits)
  global_step = _v1.train.get_or_create_global_step()
  train_op = _v1.train.GradientDescentOptimizer(0.5).minimize(loss, global_step=global_step)
  hparams = pruning.get_pruning_hparams().parse(
      'target_sparsity=0.7,sparsity_function_end_step=6,pruning_frequency=2,end_pruning_step=6')
  p = pruning.Pruning(hparams, global_step=global_step)
  # As in the contrib recipe: the mask update runs after the train op.
  with tf.control_dependencies([train_op]):
    step_op = p.conditional_mask_update_op()
  masks, masked = pruning.get_masks(), pruning.get_masked_weights()
  with _v1.Session() as sess:
    sess.run(_v1.global_variables_initializer())
    frozen_masks, first_loss = None, sess.run(loss)
    for t in range(12):
      sess.run(step_op)
      mask_values, weight_values = sess.run([masks, masked])
      for m, w in zip(mask_values, weight_values):
        assert np.all(w[m == 0] == 0), t
      if t >= 6:  # After end_pruning_step the masks no longer change.
        frozen_masks = frozen_masks or mask_values
        for before, now in zip(frozen_masks, mask_values):
          np.testing.assert_array_equal(before, now)
    assert sess.run(loss) < first_loss  # It did train.
    report = pruning.sparsity_report(sess)
  assert [r.name for r in report] == [t.op.name for t in masked]
  for r in report:
    assert r.sparsity == pytest.approx(0.7, abs=0.1), r
