"""Tests of the MOSAIC head (deeplab/core/mosaic.py) and its dispatch in deeplab/model.py.

Structure tests build graphs only (no session). The head tests run over a stand-in backbone
(three strided convs, end points at strides 4 and 8, 448-ch features at stride 16):

  images -> conv s4 (16 ch, 'skip4') -> conv s2 (24 ch, 'skip8') -> conv s2 (448 ch) = features

One test builds the real mobilenet_multi_avg_seg backbone for its skip depths (64, 192, 448).
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
import tf_slim

from deeplab import common
from deeplab import model
from deeplab import options as deeplab_options
from deeplab.core import feature_extractor
from deeplab.core import mosaic

_SCOPE = 'StandIn'
_NUM_CLASSES = 19


def _stand_in_features(images, output_stride=16, reuse=None, **unused_kwargs):
  with tf.compat.v1.variable_scope(_SCOPE, reuse=reuse):
    skip4 = tf_slim.conv2d(images, 16, 3, stride=4, scope='skip4')
    skip8 = tf_slim.conv2d(skip4, 24, 3, stride=2, scope='skip8')
    net = tf_slim.conv2d(skip8, 448, 3, stride=output_stride // 8, scope='body')
  return net, {_SCOPE + '/skip4': skip4, _SCOPE + '/skip8': skip8}


@pytest.fixture
def stand_in(monkeypatch):
  monkeypatch.setattr(feature_extractor, 'extract_features', _stand_in_features)
  monkeypatch.setattr(feature_extractor, 'decoder_end_points',
                      lambda variant: {4: 'skip4', 8: 'skip8'})
  monkeypatch.setattr(feature_extractor, 'name_scope', lambda variant: _SCOPE)


def _options(size, **kwargs):
  return common.ModelOptions({common.OUTPUT_TYPE: _NUM_CLASSES}, crop_size=[size, size],
                             output_stride=16, segmentation_head=common.MOSAIC_HEAD, **kwargs)


def _ops(op_type, prefix=''):
  return [op for op in tf.compat.v1.get_default_graph().get_operations()
          if op.type == op_type and op.name.startswith(prefix)]


def _logits(size, **kwargs):
  images = tf.zeros([1, size, size, 3])
  outputs = model.multi_scale_logits(images, _options(size, **kwargs), image_pyramid=None)
  return outputs[common.OUTPUT_TYPE][model.MERGED_LOGITS_SCOPE]


@pytest.mark.parametrize('size, bins, expected', [
    (64, 4, (16, 16)), (64, 16, (4, 4)), (33, 4, (9, 8)), (33, 8, (5, 4)), (33, 16, (3, 2)),
    (33, 1, (33, 33)), (5, 8, (1, 1)), (8, 8, (1, 1))])
def testBinPooling_ModelGardenWindows(size, bins, expected):
  kernel, stride = mosaic.bin_pooling(size, bins)
  assert (kernel, stride) == expected
  if bins < size:  # VALID pooling with that window gives exactly a bins x bins grid.
    assert (size - kernel) // stride + 1 == bins


@pytest.mark.usefixtures('stand_in')
def testMosaicHead_PyramidPoolsOfEachBin():
  _logits(513)  # Features 33 x 33.
  pools = {op.name.split('/')[1]: (op.get_attr('ksize')[1:3], op.get_attr('strides')[1:3])
           for op in _ops('AvgPool', mosaic.ENCODER_SCOPE)}
  assert pools == {'pyramid_pool_1': ([33, 33], [33, 33]), 'pyramid_pool_4': ([9, 9], [8, 8]),
                   'pyramid_pool_8': ([5, 5], [4, 4]), 'pyramid_pool_16': ([3, 3], [2, 2])}
  grids = {op.name.split('/')[1]: op.outputs[0].shape.as_list()[1:3]
           for op in _ops('AvgPool', mosaic.ENCODER_SCOPE)}
  assert grids == {'pyramid_pool_1': [1, 1], 'pyramid_pool_4': [4, 4], 'pyramid_pool_8': [8, 8],
                   'pyramid_pool_16': [16, 16]}


@pytest.mark.usefixtures('stand_in')
def testMosaicHead_SharedBranchBlockWithBothKernelSizes():
  _logits(513)
  depthwise = _ops('DepthwiseConv2dNative', mosaic.ENCODER_SCOPE)
  weights = {}
  for op in depthwise:
    weights.setdefault(op.inputs[1].op.inputs[0].op.name, []).append(
        op.inputs[1].shape.as_list()[:2])
  # One weight set per channel group, read by the three bins >= 2.
  assert weights == {
      'mosaic_encoder/branch_block/group_0/depthwise/depthwise_weights': [[3, 3]] * 3,
      'mosaic_encoder/branch_block/group_1/depthwise/depthwise_weights': [[5, 5]] * 3}
  concat = tf.compat.v1.get_default_graph().get_operation_by_name('mosaic_encoder/concat')
  # 448 features + 3 x 128 pooled branches + 64 global = 896 channels.
  assert [t.shape.as_list()[-1] for t in concat.inputs[:-1]] == [448, 128, 128, 128, 64]


@pytest.mark.usefixtures('stand_in')
def testMosaicHead_StrideFourLogitsAndHalfPixelResizes():
  logits = _logits(513)
  head_logits = tf.compat.v1.get_default_graph().get_tensor_by_name('semantic:0')
  assert head_logits.shape.as_list() == [1, 129, 129, _NUM_CLASSES]
  assert logits.shape.as_list() == [1, 129, 129, _NUM_CLASSES]
  assert head_logits.op.inputs[0].op.name == 'mosaic_decoder/stage_1/sum'
  resizes = _ops('ResizeBilinear', 'mosaic_')
  assert len(resizes) == 6  # 4 pyramid levels, 2 decoder merges.
  assert all(op.get_attr('half_pixel_centers') and not op.get_attr('align_corners')
             for op in resizes)


@pytest.mark.usefixtures('stand_in')
def testMosaicHead_VariableNamesAndShapes():
  _logits(129)
  bn = ('BatchNorm/beta', 'BatchNorm/gamma', 'BatchNorm/moving_mean', 'BatchNorm/moving_variance')
  convs = {
      'mosaic_encoder/global_branch/weights': [1, 1, 448, 64],
      'mosaic_encoder/branch_block/group_0/depthwise/depthwise_weights': [3, 3, 224, 1],
      'mosaic_encoder/branch_block/group_0/pointwise/weights': [1, 1, 224, 64],
      'mosaic_encoder/branch_block/group_1/depthwise/depthwise_weights': [5, 5, 224, 1],
      'mosaic_encoder/branch_block/group_1/pointwise/weights': [1, 1, 224, 64],
      'mosaic_encoder/fusion/weights': [1, 1, 896, 128],
      'mosaic_decoder/stage_0/conv/weights': [1, 1, 128 + 24, 64],
      'mosaic_decoder/stage_0/depthwise/depthwise_weights': [3, 3, 64, 1],
      'mosaic_decoder/stage_0/projection/weights': [1, 1, 64, _NUM_CLASSES],
      'mosaic_decoder/stage_1/skip_projection/weights': [1, 1, 16, _NUM_CLASSES],
  }
  expected = dict(convs)
  for name, shape in convs.items():
    depth = shape[2] if 'depthwise' in name else shape[3]
    for suffix in bn:
      expected[name.rsplit('/', 1)[0] + '/' + suffix] = [depth]
  head = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()
          if not v.op.name.startswith(_SCOPE)}
  assert head == expected
  # Bias-free convs, each followed by its batch norm: the rewriter folds every layer.
  assert not [v for v in head if v.endswith('biases')]


@pytest.mark.usefixtures('stand_in')
def testExtraLayerScopes_CoverTheHeadAndItsClassDependentConvs():
  _logits(129)
  names = [v.op.name for v in tf.compat.v1.global_variables()]
  head = [n for n in names if not n.startswith(_SCOPE)]
  in_scopes = lambda scopes: [n for n in names if any(n.startswith(s + '/') for s in scopes)]
  assert in_scopes(model.get_extra_layer_scopes(False, common.MOSAIC_HEAD)) == head
  class_dependent = [n for n in head if tf.compat.v1.get_default_graph().get_tensor_by_name(
      n + ':0').shape.as_list()[-1] == _NUM_CLASSES]
  assert in_scopes(model.get_extra_layer_scopes(True, common.MOSAIC_HEAD)) == class_dependent
  assert model.get_extra_layer_scopes(True) == ['logits']


@pytest.mark.usefixtures('stand_in')
def testMosaicHead_PaperReferenceConfig():
  config = mosaic.MosaicConfig(pyramid_pool_bins=(4, 8, 16), branch_filter_depths=(32, 32))
  _logits(513, mosaic_config=config)
  assert not _ops('AvgPool', 'mosaic_encoder/pyramid_pool_1/')
  assert not _ops('Conv2D', 'mosaic_encoder/pyramid_pool_1/')
  fusion = tf.compat.v1.get_default_graph().get_tensor_by_name('mosaic_encoder/fusion/weights:0')
  assert fusion.shape.as_list() == [1, 1, 448 + 3 * 64, 64]


@pytest.mark.usefixtures('stand_in')
def testDeepLabHead_IsTheDefaultAndHasNoMosaicScopes():
  options = common.ModelOptions({common.OUTPUT_TYPE: 21}, crop_size=[65, 65], output_stride=16)
  assert options.segmentation_head == common.DEEPLAB_HEAD
  model.multi_scale_logits(tf.zeros([1, 65, 65, 3]), options, image_pyramid=None)
  names = [v.op.name for v in tf.compat.v1.global_variables()]
  assert 'aspp0/weights' in names
  assert not [n for n in names if n.startswith('mosaic_')]


def testMosaicBackbone_SkipsOfMultiAvgSeg():
  """mobilenet_multi_avg_seg: Model Garden's '2/depthwise' (64 ch), '3/depthwise' (192 ch)."""
  options = common.ModelOptions({common.OUTPUT_TYPE: _NUM_CLASSES}, crop_size=[65, 65],
                                output_stride=16, model_variant='mobilenet_multi_avg_seg',
                                segmentation_head=common.MOSAIC_HEAD)
  model.multi_scale_logits(tf.zeros([1, 65, 65, 3]), options, image_pyramid=None)
  graph = tf.compat.v1.get_default_graph()
  weights = lambda name: graph.get_tensor_by_name(name + ':0').shape.as_list()
  assert weights('mosaic_encoder/global_branch/weights') == [1, 1, 448, 64]
  assert weights('mosaic_decoder/stage_0/conv/weights') == [1, 1, 128 + 192, 64]
  assert weights('mosaic_decoder/stage_1/skip_projection/weights') == [1, 1, 64, _NUM_CLASSES]


@pytest.mark.parametrize('kwargs, message', [
    (dict(branch_filter_depths=(64,)), '--mosaic_branch_filter_depths=64 and '
     '--mosaic_conv_kernel_sizes=3,5: expected one kernel size per branch depth'),
    (dict(pyramid_pool_bins=(0, 4)), '--mosaic_pyramid_pool_bins=0,4: expected positive'),
    (dict(decoder_filters=0), '--mosaic_decoder_filters=0: expected a positive integer'),
    (dict(decoder_stages=(mosaic.DecoderStage(4, mosaic.SUM_MERGE),
                          mosaic.DecoderStage(8, mosaic.CONCAT_MERGE))),
     r'stages \[4, 8\]: expected output strides in descending order'),
])
def testMosaicConfig_BadValuesNameTheFlag(kwargs, message):
  with pytest.raises(ValueError, match=message):
    mosaic.MosaicConfig(**kwargs)


def testModelOptions_UnknownHeadNamesTheFlag():
  with pytest.raises(ValueError, match='--segmentation_head=aspp: expected one of deeplab, mosaic'):
    common.ModelOptions({common.OUTPUT_TYPE: 2}, segmentation_head='aspp')


def testModelOptions_MosaicWithDenseCellIsRefused():
  with pytest.raises(ValueError) as e:
    common.ModelOptions({common.OUTPUT_TYPE: 2}, segmentation_head='mosaic',
                        dense_prediction_cell_config=[{'kernel': 1, 'rate': [1, 1],
                                                       'op': 'conv', 'input': -1}])
  assert str(e.value) == ('--segmentation_head=mosaic and --dense_prediction_cell_json are two '
                          'heads: give one of them')


def testMosaicHead_BackboneWithoutSkipIsNamed():
  with pytest.raises(ValueError, match="merges at output stride 8, but the backbone 'B' has end "
                     r"points only for strides \[4\]"):
    mosaic.build_logits(tf.zeros([1, 4, 4, 8]), {}, 'B', {4: 'x'}, 3)


@pytest.mark.parametrize('options_cls', [deeplab_options.TrainOptions,
                                         deeplab_options.EvalOptions,
                                         deeplab_options.VisOptions,
                                         deeplab_options.ExportOptions])
def testHeadFlags_EveryModelScriptHasThemAndBuildsTheConfig(options_cls):
  fields = {f.name: f.default_factory() if callable(f.default_factory) else f.default
            for f in dataclasses.fields(options_cls) if f.name.startswith(('segmentation',
                                                                           'mosaic'))}
  assert fields == {'segmentation_head': 'deeplab', 'mosaic_pyramid_pool_bins': [1, 4, 8, 16],
                    'mosaic_branch_filter_depths': [64, 64], 'mosaic_conv_kernel_sizes': [3, 5],
                    'mosaic_decoder_filters': 64}
  flags = deeplab_options.HeadFlags(segmentation_head='mosaic', mosaic_pyramid_pool_bins=[4, 8],
                                    mosaic_branch_filter_depths=[32, 32])
  kwargs = flags.head_kwargs()
  assert kwargs['segmentation_head'] == 'mosaic'
  assert kwargs['mosaic_config'] == mosaic.MosaicConfig(pyramid_pool_bins=(4, 8),
                                                        branch_filter_depths=(32, 32))
  assert deeplab_options.HeadFlags().head_kwargs()['mosaic_config'] is None
