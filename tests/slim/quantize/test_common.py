"""Tests for slim.quantize.common and slim.quantize.input_to_ops."""
import tensorflow as tf
import tf_slim

from slim.quantize import common
from slim.quantize import input_to_ops


def _RunCounter(use_resource):
  with tf.compat.v1.variable_scope('', use_resource=use_resource):
    step = common.CreateOrGetQuantizationStep()
  ops_before = len(tf.compat.v1.get_default_graph().get_operations())
  with tf.compat.v1.variable_scope('', use_resource=use_resource):
    assert common.CreateOrGetQuantizationStep() is step
  assert len(tf.compat.v1.get_default_graph().get_operations()) == ops_before
  assert step.name == 'fake_quantization_step/Identity:0'
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    assert sess.run(step) == 1
    # One increment per run even when fetched several times.
    assert sess.run([step, step]) == [2, 2]


def testCreateOrGetQuantizationStep_RefVariable():
  _RunCounter(use_resource=False)


def testCreateOrGetQuantizationStep_ResourceVariable():
  _RunCounter(use_resource=True)


def testCreateOrGetQuantizationStep_CreatedAtRootInsideScopes():
  with tf.compat.v1.variable_scope('outer'), tf.name_scope('inner'):
    step = common.CreateOrGetQuantizationStep()
  assert step.name == 'fake_quantization_step/Identity:0'
  (var,) = tf.compat.v1.global_variables()
  assert var.op.name == 'fake_quantization_step'
  assert not tf.compat.v1.trainable_variables()


def testRerouteTensor_OnlyChangesAllowedConsumers():
  a = tf.constant(1, name='a')
  b = tf.constant(2, name='b')
  c = tf.constant(3, name='c')
  d = tf.add(a, c, name='d')
  e = tf.add(a, c, name='e')
  assert common.RerouteTensor(b, a, can_modify=[d.op]) == 1
  assert d.op.inputs[0] is b
  assert e.op.inputs[0] is a


def testBatchNormGroups_TopLevelScopeIsEmptyString():
  x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3])
  tf_slim.conv2d(x, 4, 3, normalizer_fn=tf_slim.batch_norm,
                 normalizer_params={'fused': False, 'is_training': True}, scope='')
  # scope '' puts the BN at the root: its group prefix is '' (as in the upstream test).
  assert common.BatchNormGroups(tf.compat.v1.get_default_graph()) == ['']


def testBatchNormGroups_NestedScope():
  x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3])
  with tf.compat.v1.variable_scope('test'):
    tf_slim.batch_norm(x, fused=False, is_training=True)
  assert common.BatchNormGroups(tf.compat.v1.get_default_graph()) == ['test/']


def testFollowedByFakeQuant_LooksThroughReshapeAndIdentity():
  x = tf.compat.v1.placeholder(tf.float32, [2, 2])
  y = tf.identity(tf.reshape(x, [4]))
  assert not common.FollowedByFakeQuant(x)
  tf.quantization.fake_quant_with_min_max_args(y)
  assert common.FollowedByFakeQuant(x)


def testConsumerOperations_NoneOneSeveral():
  x = tf.compat.v1.placeholder(tf.float32, [2], name='x')
  lonely = tf.identity(x, name='lonely')
  relu6 = tf.nn.relu6(x)
  add = tf.add(relu6, 1.0)
  mul = tf.multiply(relu6, 2.0)
  tf.add(x, 1.0, name='gradients/ignored')
  mapping = input_to_ops.InputToOps(tf.compat.v1.get_default_graph())
  assert mapping.ConsumerOperations(lonely.op) == set()
  assert mapping.ConsumerOperations(relu6.op) == {add.op, mul.op}
  assert mapping.ConsumerOperations(x.op) == {lonely.op, relu6.op}
