"""ResNet-v1 50/101 (+ beta stem, multi_grid): names, shapes, atrous numerics, QAT to uint8 TFLite."""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim

import slim  # noqa: F401  (applies slim.compat)
from deeplab.core import feature_extractor
import slim.quantize as contrib_quantize
from slim.nets import nets_factory
from slim.nets import registry
from slim.nets import resnet_utils
from slim.nets import resnet_v1
from slim.tflite import convert
from slim.tflite import inspection as tflite_inspect

_BN = ('gamma', 'beta', 'moving_mean', 'moving_variance')
# (base depth, units) per block, from the ResNet paper's table 1; the bottleneck outputs 4x base.
_STAGES = {
    50: [(64, 3), (128, 4), (256, 6), (512, 3)],
    101: [(64, 3), (128, 4), (256, 23), (512, 3)],
}
# Stems: (conv scope, kernel, output depth).
_STEM = [('conv1', 7, 64)]
_BETA_STEM = [('conv1_1', 3, 64), ('conv1_2', 3, 64), ('conv1_3', 3, 128)]
# Registry records of this family.
_RECORDS = ('resnet_v1_50', 'resnet_v1_101', 'resnet_v1_50_beta', 'resnet_v1_101_beta')


def _expected_variables(scope, stages, stem=_STEM, num_classes=None):
  """[(name, shape)] of a ResNet-v1 classifier, written from the paper's table."""
  expected = []

  def conv(prefix, shape):
    expected.append(('%s/%s/weights' % (scope, prefix), shape))
    expected.extend(('%s/%s/BatchNorm/%s' % (scope, prefix, v), [shape[-1]]) for v in _BN)

  in_depth = 3
  for name, kernel, depth in stem:
    conv(name, [kernel, kernel, in_depth, depth])
    in_depth = depth
  for b, (base, units) in enumerate(stages):
    for u in range(units):
      prefix = 'block%d/unit_%d/bottleneck_v1' % (b + 1, u + 1)
      if in_depth != 4 * base:
        conv(prefix + '/shortcut', [1, 1, in_depth, 4 * base])
      conv(prefix + '/conv1', [1, 1, in_depth, base])
      conv(prefix + '/conv2', [3, 3, base, base])
      conv(prefix + '/conv3', [1, 1, base, 4 * base])
      in_depth = 4 * base
  if num_classes:
    expected.append(('%s/logits/weights' % scope, [1, 1, in_depth, num_classes]))
    expected.append(('%s/logits/biases' % scope, [num_classes]))
  return expected


def _variables(collection=tf.compat.v1.GraphKeys.GLOBAL_VARIABLES):
  return {v.op.name: v.shape.as_list() for v in tf.compat.v1.get_collection(collection)}


def _build(fn, size, **kwargs):
  images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3], name='input')
  with tf_slim.arg_scope(resnet_utils.resnet_arg_scope()):
    return fn(images, **kwargs)


def _ops_of_type(op_type):
  return [op for op in tf.compat.v1.get_default_graph().get_operations() if op.type == op_type]


def testResnetV1_50_ClassifierHasTheSlimCheckpointVariables():
  network_fn = nets_factory.get_network_fn('resnet_v1_50', 1000)
  assert network_fn.default_image_size == 224
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3])
  logits, end_points = network_fn(images)
  expected = _expected_variables('resnet_v1_50', _STAGES[50], num_classes=1000)
  assert _variables() == dict(expected)
  trainable = _variables(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)
  assert len(trainable) == 161
  # The 25.6M parameters of ResNet-50 (conv weights, BN gamma/beta, 1000-way logits).
  assert sum(int(np.prod(s)) for s in trainable.values()) == 25557032
  assert logits.shape.as_list() == [1, 1000]
  assert logits.op.name == 'resnet_v1_50/SpatialSqueeze'
  assert end_points['Logits'] is logits
  assert end_points['resnet_v1_50/logits'].shape.as_list() == [1, 1, 1, 1000]
  assert end_points['resnet_v1_50/spatial_squeeze'] is logits
  assert end_points['global_pool'].shape.as_list() == [1, 1, 1, 2048]
  assert end_points['Predictions'] is end_points['predictions']
  # tf_slim.softmax flattens to 2-D, applies Softmax and reshapes back.
  assert end_points['predictions'].op.inputs[0].op.type == 'Softmax'
  input_op = tf.compat.v1.get_default_graph().get_operation_by_name(
      registry.get('resnet_v1_50').classifier_input_node)
  assert input_op.name == 'resnet_v1_50/input' and input_op.inputs[0] is images
  assert resnet_v1.resnet_v1_50.default_image_size == 224
  # One Conv2D per conv: stem, 3 per unit, 4 projection shortcuts, logits.
  assert len(_ops_of_type('Conv2D')) == 1 + 3 * 16 + 4 + 1


@pytest.mark.slow
def testResnetV1_101_ClassifierTotals():
  _build(resnet_v1.resnet_v1_101, 33, num_classes=1000, is_training=False)
  expected = _expected_variables('resnet_v1_101', _STAGES[101], num_classes=1000)
  assert _variables() == dict(expected)
  trainable = _variables(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)
  assert len(trainable) == 314
  assert sum(int(np.prod(s)) for s in trainable.values()) == 44549160
  assert len(_ops_of_type('Conv2D')) == 1 + 3 * 33 + 4 + 1


def testExtractFeatures_Resnet50BetaStemIsThreeConvsUnderTheNonBetaScope():
  images = tf.compat.v1.placeholder(tf.float32, [1, 65, 65, 3])
  features, end_points = feature_extractor.extract_features(images, output_stride=16,
                                                            model_variant='resnet_v1_50_beta')
  assert features.shape.as_list() == [1, 5, 5, 2048]
  expected = _expected_variables('resnet_v1_50', _STAGES[50], stem=_BETA_STEM)
  variables = _variables()
  assert variables == dict(expected)
  assert 'resnet_v1_50/conv1/weights' not in variables
  assert variables['resnet_v1_50/block1/unit_1/bottleneck_v1/shortcut/weights'] == [1, 1, 128,
                                                                                    256]
  graph = tf.compat.v1.get_default_graph()
  # Only the strided stem conv pads explicitly (then 'VALID'); the others are 'SAME'.
  assert graph.get_operation_by_name('resnet_v1_50/conv1_1/Conv2D').get_attr('padding') == b'VALID'
  assert graph.get_operation_by_name('resnet_v1_50/conv1_2/Conv2D').get_attr('padding') == b'SAME'
  assert graph.get_operation_by_name('resnet_v1_50/Pad').type == 'Pad'
  # DeepLab's decoder end points (bare and under the scope), at strides 4, 8 and 16.
  record = registry.get('resnet_v1_50_beta')
  assert dict(record.decoder_endpoints) == {4: 'block1/unit_2/bottleneck_v1/conv3',
                                            8: 'block2/unit_3/bottleneck_v1/conv3',
                                            16: 'block3/unit_5/bottleneck_v1/conv3'}
  for stride, size in ((4, 17), (8, 9), (16, 5)):
    end_point = end_points[record.decoder_endpoints[stride]]
    assert end_point.shape.as_list() == [1, size, size, 256 * min(stride, 16) // 4]
    assert end_points['resnet_v1_50/' + record.decoder_endpoints[stride]] is end_point
  # The beta variant scales inputs to [-1, 1] before the backbone's input identity.
  input_op = graph.get_operation_by_name(record.quant_input_node)
  assert record.quant_input_node == 'resnet_v1_50/resnet_v1_50/input'
  assert input_op.inputs[0].op.name == 'sub'
  assert graph.get_operation_by_name('resnet_v1_50/conv1_1/Conv2D').inputs[0].op.inputs[
      0].op is input_op
  assert registry.mean_pixel('resnet_v1_50_beta') == [127.5] * 3
  assert record.default_bn_decay == 0.95


def testResnetRecords_PreprocessingAndMeanPixelAsDeepLab():
  images = tf.constant([[[[123.15, 115.90, 103.06], [127.5, 127.5, 127.5]]]])
  with tf.compat.v1.Session() as sess:
    for name in _RECORDS:
      record = registry.get(name)
      out = sess.run(record.preprocess_fn(images, tf.float32))
      if name.endswith('_beta'):
        assert record.mean_pixel == (127.5,) * 3 and record.preprocessing_name == 'inception'
        np.testing.assert_allclose(out[0, 0, 1], [0.0, 0.0, 0.0], atol=1e-6)
      else:
        # ImageNet mean subtraction: DeepLab's padding value becomes exactly 0.
        assert record.mean_pixel == registry.MEAN_RGB and record.preprocessing_name == 'vgg'
        np.testing.assert_allclose(out[0, 0, 0], [0.0, 0.0, 0.0], atol=1e-5)
        assert registry.mean_pixel(name) == list(registry.MEAN_RGB)
      assert record.scope == name.replace('_beta', '')
      assert record.classifier_input_node == record.scope + '/input'
      assert record.default_image_size == 224 and record.depth_multiplier == 1.0


@pytest.mark.slow
@pytest.mark.parametrize('name', _RECORDS)
def testExtractFeatures_ResnetRecordsBuildDecoderEndpoints(name):
  images = tf.compat.v1.placeholder(tf.float32, [1, 65, 65, 3])
  features, end_points = feature_extractor.extract_features(images, output_stride=16,
                                                            model_variant=name)
  record = registry.get(name)
  assert features.shape.as_list() == [1, 5, 5, 2048]
  for stride, size in ((4, 17), (8, 9), (16, 5)):
    assert end_points[record.decoder_endpoints[stride]].shape.as_list()[1:3] == [size, size]


# {output_stride: {end point suffix: spatial size}} at 65x65.
_OS_SIZES = {
    8: {'conv1': 33, 'block1': 9, 'block2': 9, 'block3': 9, 'block4': 9,
        'block1/unit_2/bottleneck_v1/conv3': 17, 'block2/unit_3/bottleneck_v1/conv3': 9,
        'block3/unit_5/bottleneck_v1/conv3': 9},
    16: {'conv1': 33, 'block1': 9, 'block2': 5, 'block3': 5, 'block4': 5,
         'block1/unit_2/bottleneck_v1/conv3': 17, 'block2/unit_3/bottleneck_v1/conv3': 9,
         'block3/unit_5/bottleneck_v1/conv3': 5},
    32: {'conv1': 33, 'block1': 9, 'block2': 5, 'block3': 3, 'block4': 3,
         'block1/unit_2/bottleneck_v1/conv3': 17, 'block2/unit_3/bottleneck_v1/conv3': 9,
         'block3/unit_5/bottleneck_v1/conv3': 5},
}


def _rate(block, unit):
  """Atrous rate of a unit's conv2: graph-mode TF dilates Conv2D through SpaceToBatchND."""
  name = 'resnet_v1_50/%s/unit_%d/bottleneck_v1/conv2/Conv2D/SpaceToBatchND/block_shape' % (
      block, unit)
  try:
    const = tf.compat.v1.get_default_graph().get_operation_by_name(name)
  except KeyError:
    return 1
  rate = tf.make_ndarray(const.get_attr('value')).tolist()
  assert rate[0] == rate[1]
  return rate[0]


@pytest.mark.parametrize('output_stride,block3_rate,block4_rate', [
    (8, 2, 4), pytest.param(16, 1, 2, marks=pytest.mark.slow),
    pytest.param(32, 1, 1, marks=pytest.mark.slow)])
def testResnetV1_50_MultiGridRatesDilateConv2(output_stride, block3_rate, block4_rate):
  net, end_points = _build(resnet_v1.resnet_v1_50, 65, is_training=False, global_pool=False,
                           output_stride=output_stride, multi_grid=(1, 2, 4))
  assert [_rate('block3', u) for u in (1, 6)] == [block3_rate] * 2
  assert [_rate('block4', u) for u in (1, 2, 3)] == [block4_rate * r for r in (1, 2, 4)]
  # Only the 3x3 convs are dilated.
  assert {op.name.split('/')[-3] for op in _ops_of_type('SpaceToBatchND')} <= {'conv2'}
  # End point shapes are those of the nominal network up to the output stride.
  size = _OS_SIZES[output_stride]['block4']
  assert net.shape.as_list() == [1, size, size, 2048]
  for suffix, size in _OS_SIZES[output_stride].items():
    assert end_points['resnet_v1_50/' + suffix].shape.as_list()[1:3] == [size, size], suffix
  assert end_points['resnet_v1_50/block1/unit_2/bottleneck_v1/conv3'].shape.as_list()[3] == 256
  assert 'global_pool' not in end_points and 'predictions' not in end_points


def testResnetV1_BadArgumentsRaise():
  images = tf.zeros([1, 33, 33, 3])
  with pytest.raises(ValueError,
                     match=r'^The output_stride needs to be a multiple of 4\. \(got 6\)$'):
    resnet_v1.resnet_v1_50(images, output_stride=6)
  with pytest.raises(ValueError,
                     match=r'^Expect multi_grid to have length 3\. \(got \[1, 2\]\)$'):
    resnet_v1.resnet_v1_50(images, multi_grid=[1, 2])
  with pytest.raises(ValueError, match=r"Unknown ResNet-v1 variant 'resnet_v1_18'; valid names: "
                                       r'resnet_v1_101, resnet_v1_101_beta, resnet_v1_152, '
                                       r'resnet_v1_200, resnet_v1_50, resnet_v1_50_beta$'):
    resnet_v1.build_variant('resnet_v1_18', images)
  with pytest.raises(ValueError, match=r'^The target output_stride cannot be reached\. '
                                       r'\(output_stride=4\)$'):
    resnet_utils.stack_blocks_dense(images, resnet_v1.resnet_v1_blocks(
        (('block1', 2, 1, 2), ('block2', 2, 1, 1))), output_stride=4)


def testConv2dSame_StridedMatchesSubsampledSameConv():
  # Even input: TF's own 'SAME' stride 2 would centre its windows one pixel off.
  x = tf.reshape(tf.range(16, dtype=tf.float32), [1, 4, 4, 1])
  w = tf.compat.v1.constant_initializer(np.arange(9, dtype=np.float32).reshape(3, 3, 1, 1))
  with tf_slim.arg_scope([tf_slim.conv2d], weights_initializer=w, activation_fn=None,
                         biases_initializer=None):
    dense = tf_slim.conv2d(x, 1, 3, stride=1, scope='Conv')
    same = resnet_utils.conv2d_same(x, 1, 3, stride=2, scope='Conv_1')
    tf_same = tf_slim.conv2d(x, 1, 3, stride=2, scope='Conv_2')
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    dense, same, tf_same = sess.run([dense, same, tf_same])
  np.testing.assert_allclose(same, dense[:, ::2, ::2])
  assert not np.allclose(tf_same, dense[:, ::2, ::2])


def testStackBlocksDense_AtrousMatchesSubsampledNominal():
  # Toy bottleneck blocks with nominal stride 8: any output stride gives the nominal features
  # at the positions of the nominal grid.
  blocks = resnet_v1.resnet_v1_blocks((('block1', 1, 2, 2), ('block2', 2, 2, 2),
                                       ('block3', 4, 2, 2), ('block4', 8, 2, 1)))
  images = tf.compat.v1.random_normal([1, 33, 33, 3], seed=1)
  outputs = {}
  with tf_slim.arg_scope(resnet_utils.resnet_arg_scope()), \
      tf_slim.arg_scope([tf_slim.batch_norm], is_training=False):
    for output_stride in (None, 1, 4):
      with tf.compat.v1.variable_scope('toy', reuse=output_stride is not None):
        net = resnet_utils.stack_blocks_dense(images, blocks, output_stride)
      outputs[output_stride] = resnet_utils.subsample(net, 8 // (output_stride or 8))
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    values = sess.run(outputs)
  assert values[None].shape == (1, 5, 5, 32)
  for output_stride in (1, 4):
    np.testing.assert_allclose(values[output_stride], values[None], rtol=1e-4, atol=1e-4)


def qat_to_uint8(build_fn, size, num_classes=3, batch=2):
  """Builds, QAT-rewrites, trains one step, eval-rewrites, freezes and converts to uint8 TFLite.

  Args:
    build_fn: `f(images, num_classes, is_training) -> logits [N, num_classes]`.
    size: Input height and width.
    num_classes: Logits depth.
    batch: Training batch size.

  Returns:
    (tflite model bytes, output of one interpreter invoke on a uint8 input).
  """
  rng = np.random.default_rng(0)
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [batch, size, size, 3])
    labels = tf.compat.v1.placeholder(tf.int32, [batch])
    logits = build_fn(images, num_classes, True)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    contrib_quantize.create_training_graph(quant_delay=0)
    with tf.control_dependencies(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)):
      train_op = tf.compat.v1.train.GradientDescentOptimizer(0.01).minimize(loss)
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      value = sess.run([train_op, loss], {images: rng.uniform(-1, 1, [batch, size, size, 3]),
                                          labels: np.arange(batch) % num_classes})[1]
      assert np.isfinite(value)
      weights = {v.op.name: v for v in tf.compat.v1.global_variables()}
      values = sess.run(weights)
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3], name='input')
    tf.identity(build_fn(images, num_classes, False), name='output')
    contrib_quantize.create_eval_graph()
    with tf.compat.v1.Session() as sess:
      for v in tf.compat.v1.global_variables():
        v.load(values[v.op.name], sess)
      frozen = convert.freeze_session(sess, ['output'])
  model = convert.convert_uint8(frozen, ['input'], ['output'], [[1, size, size, 3]],
                                allow_float_ops=True)
  assert tflite_inspect.float_ops(model) == []
  interpreter = tf.lite.Interpreter(model_content=model)
  interpreter.allocate_tensors()
  interpreter.set_tensor(interpreter.get_input_details()[0]['index'],
                         rng.integers(0, 256, [1, size, size, 3]).astype(np.uint8))
  interpreter.invoke()
  return model, interpreter.get_tensor(interpreter.get_output_details()[0]['index'])


# Ops an activation passes through unchanged between its FakeQuant and the conv reading it.
_PASS_THROUGH = ('Pad', 'SpaceToBatchND', 'Identity')


def unquantized_conv_inputs(output_tensor):
  """Names of the convs feeding `output_tensor` whose input or weights skip a FakeQuant.

  After an eval rewrite, every Conv2D/DepthwiseConv2dNative on the inference path must read
  fake-quantized activations (possibly through Pad/SpaceToBatchND), or the model input
  placeholder, and fake-quantized weights;
  otherwise the TFLite converter keeps it in float.

  Args:
    output_tensor: The inference output.

  Returns:
    A sorted list of '<conv op name>:<input index>' for each unquantized conv input.
  """
  missing = []
  seen = set()
  stack = [output_tensor.op]
  while stack:
    op = stack.pop()
    if op.name in seen:
      continue
    seen.add(op.name)
    stack.extend(t.op for t in op.inputs)
    if op.type not in ('Conv2D', 'DepthwiseConv2dNative'):
      continue
    for index, tensor in enumerate(op.inputs[:2]):
      producer = tensor.op
      while producer.type in _PASS_THROUGH:
        producer = producer.inputs[0].op
      # The converter quantizes the model input itself (quantized_input_stats).
      if producer.type != 'Placeholder' and not producer.type.startswith(
          'FakeQuantWithMinMaxVars'):
        missing.append('%s:%d' % (op.name, index))
  return sorted(missing)


def _tiny_resnet(images, num_classes, is_training):
  """Beta stem + two 2-unit blocks at OS8 with multi_grid: every op kind of the full nets."""
  blocks = resnet_v1.resnet_v1_blocks((('block1', 4, 2, 2), ('block2', 8, 2, 1)),
                                      multi_grid=(1, 2))
  with tf_slim.arg_scope(resnet_utils.resnet_arg_scope()):
    return resnet_v1.resnet_v1(images, blocks, root_block=resnet_v1.ROOT_BLOCK_BETA,
                               num_classes=num_classes, is_training=is_training,
                               output_stride=8, scope='resnet_v1_tiny')[0]


def testResnetV1_Tiny_EvalRewriteQuantizesEveryConvInput():
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3], name='input')
  logits = _tiny_resnet(images, 3, False)
  contrib_quantize.create_eval_graph()
  assert unquantized_conv_inputs(logits) == []
  assert len(_ops_of_type('FakeQuantWithMinMaxVars')) > 2 * 18


def testResnetV1_Tiny_QatConvertsToFullyQuantizedUint8():
  model, output = qat_to_uint8(_tiny_resnet, 33)
  assert output.dtype == np.uint8 and output.shape == (1, 3)
  histogram = tflite_inspect.op_histogram(model)
  # 3 stem convs, 4 units x 3, 2 projection shortcuts, logits.
  assert histogram['CONV_2D'] == 3 + 12 + 2 + 1
  # The 4 residual adds (fused with their ReLU) are uint8 ADDs.
  residual_adds = [row for row in tflite_inspect.tensor_table(model)
                   if row['name'].endswith('bottleneck_v1/add')]
  assert len(residual_adds) == 4
  assert {row['dtype'] for row in residual_adds} == {'uint8'}


@pytest.mark.slow
@pytest.mark.parametrize('name', _RECORDS)
def testResnetRecords_QatConvertsToFullyQuantizedUint8(name):
  def build(images, num_classes, is_training):
    return registry.get(name).classifier_fn(images, num_classes, is_training=is_training)[0]
  _, output = qat_to_uint8(build, 33)
  assert output.shape == (1, 3)
