"""slim.nets.nets_factory: names from the registry, network_fn contract, MobileNetV2 head."""

import pytest
import tensorflow as tf

import slim  # noqa: F401  (applies slim.compat)
from slim.nets import nets_factory
from slim.nets import registry

_SIZE = 33


def testNames_AreTheRegistryNames():
  assert nets_factory.names() == registry.names()


def testGetNetworkFn_UnknownNameListsTheValidNames():
  with pytest.raises(ValueError, match=r"Unknown model variant 'inception_v3'; valid names: .*"
                                       r"mobilenet_v2, mobilenet_v2_035, mobilenet_v2_140"):
    nets_factory.get_network_fn('inception_v3', num_classes=10)


@pytest.mark.parametrize('name', nets_factory.names())
def testGetNetworkFn_DefaultImageSizeIsTheRecords(name):
  network_fn = nets_factory.get_network_fn(name, num_classes=10)
  assert network_fn.default_image_size == registry.get(name).default_image_size
  assert network_fn.record is registry.get(name)


def testNetworkFn_MobilenetV2HeadAsTheOriginal():
  network_fn = nets_factory.get_network_fn('mobilenet_v2', num_classes=10, weight_decay=4e-5)
  images = tf.compat.v1.placeholder(tf.float32, [2, _SIZE, _SIZE, 3])
  logits, end_points = network_fn(images)
  graph = tf.compat.v1.get_default_graph()
  assert logits.shape.as_list() == [2, 10]
  assert end_points['Logits'] is logits
  assert logits.op.name == 'MobilenetV2/Logits/output'
  assert end_points['Predictions'].op.name == 'MobilenetV2/Predictions/Reshape_1'
  assert end_points['global_pool'].shape.as_list() == [2, 1, 1, 1280]
  assert end_points['layer_19'].shape.as_list() == [2, 2, 2, 1280]
  variables = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
  assert variables['MobilenetV2/Conv_1/weights'] == [1, 1, 320, 1280]
  assert variables['MobilenetV2/Logits/Conv2d_1c_1x1/weights'] == [1, 1, 1280, 10]
  assert variables['MobilenetV2/Logits/Conv2d_1c_1x1/biases'] == [10]
  assert 'MobilenetV2/Conv_1/biases' not in variables
  # Inference: dropout is an identity and BN uses the moving statistics.
  assert not any(op.type == 'RandomUniform' for op in graph.get_operations())
  assert graph.get_operation_by_name('MobilenetV2/input').type == 'Identity'
  # weight_decay regularizes the conv2d weights only: Conv, 16 expand, 17 project, Conv_1,
  # logits (never the depthwise weights).
  losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)
  assert len(losses) == 1 + 16 + 17 + 1 + 1
  assert not any('depthwise' in loss.op.name for loss in losses)


def testNetworkFn_TrainingAddsDropoutAndMultiplierVariants():
  network_fn = nets_factory.get_network_fn('mobilenet_v2_035', num_classes=5, is_training=True)
  images = tf.compat.v1.placeholder(tf.float32, [1, _SIZE, _SIZE, 3])
  network_fn(images)
  graph = tf.compat.v1.get_default_graph()
  assert any(op.name.startswith('MobilenetV2/Logits/Dropout/') and op.type == 'RandomUniform'
             for op in graph.get_operations())
  variables = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
  # 0.35: channels scaled and rounded to 8 (160 -> 56, x6 = 336; 320 -> 112), but the
  # finegrain head keeps 1280.
  assert variables['MobilenetV2/Conv/weights'] == [3, 3, 3, 16]
  assert variables['MobilenetV2/expanded_conv_16/project/weights'] == [1, 1, 336, 112]
  assert variables['MobilenetV2/Conv_1/weights'] == [1, 1, 112, 1280]
  # Training-mode BN adds moving-average updates.
  assert tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
