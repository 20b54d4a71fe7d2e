"""The Dense Prediction Cell: the released config as data, variable names, rates, errors, the
`--dense_prediction_cell_json` path through model.py, and a fully integer TFLite conversion.

Released Cityscapes cell (rates at output stride 16):
  features -> branch0 (3x3 sep, rate 1x6) -> branch1 (18x15) -> branch2 (6x3)
                      branch0 -> branch3 (1x1)   branch0 -> branch4 (6x21)
  concat(branch0..4) -> concat_projection_dropout -> concat_projection
"""
import json

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from deeplab import common
from deeplab import model
from deeplab.core import dense_prediction_cell
from deeplab.utils import inference
from deeplab.utils import tflite_utils
from slim.tflite import inspection as tflite_inspect

_RELEASED_RATES = [[1, 6], [18, 15], [6, 3], [1, 1], [6, 21]]
_RELEASED_INPUTS = [-1, 0, 1, 0, 0]


def _released_config():
  with open(dense_prediction_cell.RELEASED_CONFIG_PATH) as f:
    return json.load(f)


def _variables(prefix='meta_architecture/'):
  return {v.op.name[len(prefix):]: v.shape.as_list() for v in tf.compat.v1.global_variables()
          if v.op.name.startswith(prefix)}


def _depthwise_dilations(branch):
  """The (height, width) dilation of a branch's depthwise conv, however TF expressed it."""
  graph = tf.compat.v1.get_default_graph()
  scope = 'meta_architecture/%s_depthwise/' % branch
  ops = [op for op in graph.get_operations() if op.name.startswith(scope)]
  (depthwise,) = [op for op in ops if op.type == 'DepthwiseConv2dNative']
  dilations = depthwise.get_attr('dilations')[1:3]
  space_to_batch = [op for op in ops if op.type == 'SpaceToBatchND']
  if space_to_batch:  # atrous conv written as space-to-batch + VALID conv
    block = tf.get_static_value(space_to_batch[0].inputs[1])
    return list(block) if block is not None else None
  return list(dilations)


def testReleasedConfig_IsTheSearchedCityscapesCell():
  config = _released_config()
  assert [op['op'] for op in config] == ['conv'] * 5
  assert [op['kernel'] for op in config] == [3] * 5
  assert [op['rate'] for op in config] == _RELEASED_RATES
  assert [op['input'] for op in config] == _RELEASED_INPUTS


@pytest.mark.parametrize('output_stride,multiplier', [(16, 1), (8, 2)])
def testBuildCell_ReleasedConfigVariablesAndRates(output_stride, multiplier):
  features = tf.zeros([1, 9, 9, 32])
  cell = dense_prediction_cell.DensePredictionCell(
      _released_config(), hparams={'conv_rate_multiplier': multiplier})
  out = cell.build_cell(features, output_stride=output_stride, crop_size=[129, 129])
  assert out.shape.as_list() == [1, 9, 9, 256]
  names = _variables()
  assert names['branch0_depthwise/depthwise_weights'] == [3, 3, 32, 1]
  assert names['branch0_pointwise/weights'] == [1, 1, 32, 256]
  for i in range(1, 5):
    assert names['branch%d_depthwise/depthwise_weights' % i] == [3, 3, 256, 1]
    assert names['branch%d_pointwise/BatchNorm/gamma' % i] == [256]
  assert names['concat_projection/weights'] == [1, 1, 5 * 256, 256]
  # Depthwise convs carry no L2 (as split_separable_conv2d), pointwise ones do.
  losses = [t.op.name for t in tf.compat.v1.get_collection(
      tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)]
  assert not [n for n in losses if '_depthwise' in n]
  assert len(losses) == 5 + 1
  for i, rate in enumerate(_RELEASED_RATES):
    if rate != [1, 1]:
      assert _depthwise_dilations('branch%d' % i) == [r * multiplier for r in rate]
  graph = tf.compat.v1.get_default_graph()
  assert graph.get_operation_by_name('meta_architecture/concat').type == 'ConcatV2'


def testBuildCell_PyramidPoolingAndOneByOne():
  config = [{'op': 'pyramid_pooling', 'grid_size': [1, 1], 'input': -1},
            {'op': 'conv', 'kernel': 1, 'input': -1},
            {'op': 'conv', 'kernel': [3, 3], 'rate': [2, 2], 'input': 1}]
  cell = dense_prediction_cell.DensePredictionCell(
      config, hparams={'reduction_size': 16, 'concat_channels': 8})
  out = cell.build_cell(tf.zeros([2, 9, 9, 4]), output_stride=16, crop_size=[129, 129],
                        scope='dpc')
  assert out.shape.as_list() == [2, 9, 9, 8]
  names = _variables('dpc/')
  assert names['branch0/weights'] == [1, 1, 4, 16]
  assert names['branch1/weights'] == [1, 1, 4, 16]
  assert names['branch2_depthwise/depthwise_weights'] == [3, 3, 16, 1]
  assert names['concat_projection/weights'] == [1, 1, 48, 8]
  # The config itself is not changed by building (the original wrote sizes into it).
  assert config[0] == {'op': 'pyramid_pooling', 'grid_size': [1, 1], 'input': -1}


@pytest.mark.parametrize('config,hparams,message', [
    ([{'op': 'conv', 'kernel': 1, 'input': -1}], {'conv_rate_multiplier': 0},
     '^conv_rate_multiplier cannot have value < 1.$'),
    ([{'op': 'max_pool', 'input': -1}], None, '^Unrecognized operation.$'),
    ([{'op': 'conv', 'kernel': 1, 'input': 0}], None,
     'Operation 0 of the dense prediction cell reads input 0; expected -1'),
    ([{'op': 'pyramid_pooling', 'grid_size': [1, 1], 'input': -1}], None,
     'pyramid_pooling operation of the dense prediction cell needs crop_size'),
])
def testBuildCell_BadConfigRaises(config, hparams, message):
  with pytest.raises(ValueError, match=message):
    cell = dense_prediction_cell.DensePredictionCell(config, hparams)
    cell.build_cell(tf.zeros([1, 5, 5, 4]), crop_size=None)


def testModelOptionsFromFlags_LoadsReleasedJson():
  flag_values = flags.FLAGS  # the common.py flags live on the global FLAGS
  try:
    flag_values(['prog', '--dense_prediction_cell_json=' +
                 dense_prediction_cell.RELEASED_CONFIG_PATH])
    options = common.model_options_from_flags(flag_values, {'semantic': 3}, [65, 65])
  finally:
    flag_values.unparse_flags()
  assert options.dense_prediction_cell_config == _released_config()


@pytest.mark.usefixtures('stand_in_backbone')
def testPredictLabels_DpcReplacesAspp():
  options = common.ModelOptions({common.OUTPUT_TYPE: 5}, crop_size=[65, 65], output_stride=16,
                                atrous_rates=[6, 12, 18],
                                dense_prediction_cell_config=_released_config())
  predictions = model.predict_labels(tf.zeros([1, 65, 65, 3]), options)
  names = {v.op.name for v in tf.compat.v1.global_variables()}
  assert not {n for n in names if n.startswith(('aspp', 'image_pooling', 'concat_projection'))}
  assert 'meta_architecture/branch4_pointwise/weights' in names
  assert 'logits/semantic/weights' in names
  assert 'meta_architecture' in model.get_extra_layer_scopes()
  assert predictions[common.OUTPUT_TYPE].shape.as_list() == [1, 65, 65]


def testExport_DpcQatGraphConvertsFullyInteger(tmp_path):
  """DeepLab MobileNetV2 + the released DPC, QAT eval rewrite, frozen, uint8 TFLite."""
  crop = 33
  options = common.ModelOptions({common.OUTPUT_TYPE: 3}, crop_size=[crop, crop],
                                output_stride=16, depth_multiplier=0.35,
                                dense_prediction_cell_config=_released_config())
  with tf.Graph().as_default():
    inference.build_export_graph(options, quantize_delay_step=0)
    graph = tf.compat.v1.get_default_graph()
    quantized = {op.name for op in graph.get_operations()
                 if op.type.startswith('FakeQuant') and op.name.startswith('meta_architecture')}
    for i in range(5):
      assert 'meta_architecture/branch%d_pointwise/weights_quant/FakeQuantWithMinMaxVars' % i \
          in quantized
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      checkpoint = tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'model.ckpt'))
    graph_def = inference.freeze(checkpoint, [inference.QUANTIZED_OUTPUT_NAME])
  input_name = inference.quantized_input_name('mobilenet_v2') + ':0'
  tflite_model = tflite_utils.convert(graph_def, input_name, 'ArgMax:0', 'uint8')
  assert tflite_inspect.float_ops(tflite_model) == []
  assert tflite_inspect.is_fully_integer(tflite_model)
  out = tflite_utils.run_tflite(tflite_model, np.random.RandomState(0).randint(
      0, 256, [crop, crop, 3]).astype(np.uint8))
  assert out.shape == (1, crop, crop)
