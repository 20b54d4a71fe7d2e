"""Tests for slim.quantize.graph_matcher (ports of the upstream graph_matcher_test)."""
import tensorflow as tf
import tf_slim

from slim.quantize import graph_matcher


def testConvLayer_MatchesReluOfFusedBatchNormOfConv():
  # The upstream test returned before asserting anything; this one checks the match.
  inputs = tf.compat.v1.placeholder(tf.float32, shape=[8, 5, 5, 3])
  with tf_slim.arg_scope([tf_slim.batch_norm], fused=True, is_training=True):
    output = tf_slim.conv2d(inputs, 32, [5, 5], stride=2, padding='SAME',
                            normalizer_fn=tf_slim.batch_norm, scope='test')
  input_pattern = graph_matcher.OpTypePattern('*')
  weight_pattern = graph_matcher.OpTypePattern('*')
  conv_pattern = graph_matcher.OpTypePattern('Conv2D', inputs=[input_pattern, weight_pattern])
  bn_pattern = graph_matcher.OpTypePattern(
      'FusedBatchNorm|FusedBatchNormV3', inputs=[conv_pattern, '*', '*', '*', '*'])
  relu_pattern = graph_matcher.OpTypePattern('Relu', inputs=[bn_pattern])
  matcher = graph_matcher.GraphMatcher(relu_pattern)
  matches = list(matcher.match_graph(tf.compat.v1.get_default_graph()))
  assert len(matches) == 1
  match = matches[0]
  assert match.get_op(relu_pattern) is output.op
  assert match.get_op(conv_pattern).name == 'test/Conv2D'
  assert match.get_tensor(input_pattern) is inputs
  assert match.get_op(weight_pattern).name == 'test/weights/read'


def testMultipleOutputs_BindsTheConsumedTensor():
  input_pattern = graph_matcher.OpTypePattern('*')
  sub_pattern = graph_matcher.OpTypePattern('Sub', inputs=[input_pattern, '*'])
  x = tf.compat.v1.placeholder(tf.float32, shape=[4])
  y0, y1 = tf.split(x, 2)
  z = tf.subtract(y1, y0)
  match = graph_matcher.GraphMatcher(sub_pattern).match_op(z.op)
  assert match.get_op(input_pattern) is y1.op
  assert match.get_tensor(input_pattern) is y1


def testOneofTypePattern_MatchesEachAlternative():
  x = tf.constant(1.0)
  y = tf.constant(2.0)
  z = tf.constant(3.0)
  plus = x + y
  minus = y - z
  pattern = graph_matcher.OpTypePattern('AddV2|Add|Sub', inputs=['*', '*'])
  matched = [m.get_op(pattern) for m in
             graph_matcher.GraphMatcher(pattern).match_graph(tf.compat.v1.get_default_graph())]
  assert matched == [plus.op, minus.op]


def testOneofPattern_OptionalBranchIsNone():
  reshape_pattern = graph_matcher.OpTypePattern('*', name='reshape')
  slice_pattern = graph_matcher.OpTypePattern('Slice', name='slice',
                                              inputs=[reshape_pattern, '*', '*'])
  add_pattern = graph_matcher.OpTypePattern(
      'AddV2', name='add',
      inputs=[graph_matcher.OneofPattern([slice_pattern, reshape_pattern]), '*'])
  x = tf.compat.v1.placeholder(tf.float32, [3])
  one = tf.constant(1.0)
  sliced = tf.slice(x, [0], [2])
  add_with_slice = tf.add(sliced, [one, one])
  add_plain = tf.add(x, one)
  matcher = graph_matcher.GraphMatcher(add_pattern)
  with_slice = matcher.match_op(add_with_slice.op)
  assert with_slice.get_op('slice') is sliced.op
  assert with_slice.get_op('reshape') is x.op
  plain = matcher.match_op(add_plain.op)
  assert plain.get_op('slice') is None
  assert plain.get_op('reshape') is x.op


def testOrderedPattern_RespectsInputOrderOnlyWhenOrdered():
  a = tf.constant(1.0, name='a')
  b = tf.compat.v1.placeholder(tf.float32, name='b')
  for x, y in ((a, b), (b, a)):
    sum_op = tf.add(x, y).op
    unordered = graph_matcher.OpTypePattern('AddV2', inputs=['Const', 'Placeholder'],
                                            ordered_inputs=False)
    assert graph_matcher.GraphMatcher(unordered).match_op(sum_op) is not None
  ordered = graph_matcher.OpTypePattern('AddV2', inputs=['Const', 'Placeholder'])
  assert graph_matcher.GraphMatcher(ordered).match_op(tf.add(a, b).op) is not None
  assert graph_matcher.GraphMatcher(ordered).match_op(tf.add(b, a).op) is None


def testMatchResult_DuplicateNameRaises():
  result = graph_matcher.MatchResult()
  op = tf.constant(1.0).op
  result.add(graph_matcher.OpTypePattern('*', name='x'), op, op.outputs[0])
  try:
    result.add(graph_matcher.OpTypePattern('*', name='x'), op, op.outputs[0])
  except ValueError as e:
    assert 'already bound' in str(e)
  else:
    raise AssertionError('expected ValueError')
