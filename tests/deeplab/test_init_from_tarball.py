"""`--tf_initial_checkpoint` from a released-layout tarball (train_utils.get_model_init_fn).

A tiny DeepLab MobileNetV2 (33x33 crop, depth 0.25) is trained for zero steps, saved, frozen and
packaged with slim.checkpoint_tarball.package; a second graph (as train.py builds it) is then
initialized from the `.tar.gz`, its extracted folder or the checkpoint prefix.
"""

import logging as py_logging
import os

import numpy as np
import pytest
import tensorflow as tf


from deeplab import common  # noqa: E402
from deeplab import model  # noqa: E402
from deeplab.utils import train_utils  # noqa: E402
from slim import checkpoint_tarball  # noqa: E402
from slim.tflite import convert  # noqa: E402

_CROP = 33
_NAME = 'deeplabv3_mnv2_tiny'
_BACKBONE_VAR = 'MobilenetV2/Conv/weights'
_LOGITS_VARS = ['logits/semantic/biases', 'logits/semantic/weights']


def _build(num_classes, depth_multiplier=0.25):
  """Builds the DeepLab training-style graph in the default graph; returns the logits dict."""
  images = tf.random.uniform([1, _CROP, _CROP, 3], -1.0, 1.0, seed=1)
  options = common.ModelOptions({common.OUTPUT_TYPE: num_classes}, crop_size=[_CROP, _CROP],
                                output_stride=16, depth_multiplier=depth_multiplier)
  tf.compat.v1.train.get_or_create_global_step()
  return model.multi_scale_logits(images, options, image_pyramid=None, is_training=True)


@pytest.fixture(scope='module')
def released(tmp_path_factory):
  """Writes a tiny checkpoint + frozen graph and packages them; returns (tarball, prefix, values)."""
  root = tmp_path_factory.mktemp('released')
  with tf.Graph().as_default():
    tf.compat.v1.train.get_or_create_global_step()
    model.predict_labels(
        tf.compat.v1.placeholder(tf.float32, [1, _CROP, _CROP, 3], name='input'),
        common.ModelOptions({common.OUTPUT_TYPE: 21}, crop_size=[_CROP, _CROP],
                            output_stride=16, depth_multiplier=0.25))
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      prefix = tf.compat.v1.train.Saver().save(sess, str(root / 'train' / 'model.ckpt'),
                                                global_step=7)
      values = {name: sess.run(name + ':0') for name in [_BACKBONE_VAR] + _LOGITS_VARS}
      frozen = convert.freeze_session(sess, ['ArgMax'])
  frozen_path = root / 'frozen_inference_graph.pb'
  frozen_path.write_bytes(frozen.SerializeToString())
  tarball = checkpoint_tarball.package(_NAME, prefix, str(frozen_path), str(root / 'out'),
                                       eval_results={'miou': 0.5})
  return tarball, prefix, values


def _restore_and_read(init_fn, names):
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    init_fn(sess)
    return {name: sess.run(name + ':0') for name in names}


def testModelInitFn_RestoresBackboneFromTarballAndSkipsLastLayers(released, tmp_path):
  tarball, _, values = released
  _build(num_classes=5)  # A new task: 5 classes, so the logits cannot be restored.
  init_fn = train_utils.get_model_init_fn(
      str(tmp_path / 'logdir'), tarball, initialize_last_layer=False,
      last_layers=model.get_extra_layer_scopes(), ignore_missing_vars=True)
  assert init_fn is not None
  got = _restore_and_read(init_fn, [_BACKBONE_VAR, 'logits/semantic/weights'])
  np.testing.assert_array_equal(got[_BACKBONE_VAR], values[_BACKBONE_VAR])
  assert got['logits/semantic/weights'].shape == (1, 1, 256, 5)
  extracted = tarball[:-len('.tar.gz')] + '_extracted'
  assert os.path.isfile(os.path.join(extracted, _NAME, 'model.ckpt.index'))


def testModelInitFn_AcceptsExtractedFolderAndPrefix(released):
  tarball, prefix, values = released
  folder = os.path.dirname(checkpoint_tarball.resolve_checkpoint(tarball))
  _build(num_classes=21)
  for location in (folder, prefix):
    init_fn = train_utils.get_model_init_fn(None, location, True, model.get_extra_layer_scopes())
    got = _restore_and_read(init_fn, [_BACKBONE_VAR] + _LOGITS_VARS)
    for name, value in values.items():
      np.testing.assert_array_equal(got[name], value)


def testModelInitFn_WrongShapesRaiseOneErrorListingThem(released):
  tarball, _, _ = released
  _build(num_classes=5)
  with pytest.raises(checkpoint_tarball.CheckpointError) as error:
    train_utils.get_model_init_fn(None, tarball, initialize_last_layer=True,
                                  last_layers=model.get_extra_layer_scopes(),
                                  ignore_missing_vars=True)
  message = str(error.value)
  assert 'has variables with the wrong shape' in message
  assert 'logits/semantic/weights: model [1, 1, 256, 5] vs checkpoint [1, 1, 256, 21]' in message
  assert 'logits/semantic/biases: model [5] vs checkpoint [21]' in message
  assert message.count(' vs checkpoint ') == 2


def testModelInitFn_NoSharedVariableRaises(released):
  tarball, _, _ = released
  with tf.compat.v1.variable_scope('resnet_v1_50'):
    tf.compat.v1.get_variable('conv1/weights', [7, 7, 3, 64])
  with pytest.raises(checkpoint_tarball.CheckpointError, match='shares no variable with the model'):
    train_utils.get_model_init_fn(None, tarball, True, [], ignore_missing_vars=True)


def testModelInitFn_LogsMissingVariablesAsOneList(released, caplog):
  tarball, _, values = released
  _build(num_classes=21)
  with tf.compat.v1.variable_scope('aspp1'):
    tf.compat.v1.get_variable('weights', [1, 1, 64, 256])
    tf.compat.v1.get_variable('BatchNorm/gamma', [256])
  with caplog.at_level(py_logging.WARNING, logger='absl'):
    init_fn = train_utils.get_model_init_fn(None, tarball, True, model.get_extra_layer_scopes(),
                                            ignore_missing_vars=True)
  records = [r.getMessage() for r in caplog.records if 'keep their initial values' in r.getMessage()]
  assert len(records) == 1
  assert records[0].startswith('2 model variables are not in ')
  assert "['aspp1/BatchNorm/gamma', 'aspp1/weights']" in records[0]
  got = _restore_and_read(init_fn, [_BACKBONE_VAR])
  np.testing.assert_array_equal(got[_BACKBONE_VAR], values[_BACKBONE_VAR])


def testModelInitFn_MissingVariablesRaiseUnlessIgnored(released):
  tarball, _, _ = released
  _build(num_classes=21)
  tf.compat.v1.get_variable('aspp1/weights', [1, 1, 64, 256])
  with pytest.raises(checkpoint_tarball.CheckpointError,
                     match=r"lacks 1 model variable\(s\): \['aspp1/weights'\]"):
    train_utils.get_model_init_fn(None, tarball, True, model.get_extra_layer_scopes())
