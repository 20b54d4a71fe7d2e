"""Tests of the entry scripts' library parts: quantization guards and the mIoU metric."""

import numpy as np
import pytest
import tensorflow as tf

from deeplab.utils import inference
from deeplab.utils import metrics
from deeplab.utils import train_utils


def testMaybeQuantizeTrainingGraph_MultiCloneRaisesOriginalError():
  with pytest.raises(ValueError, match="^Quantization doesn't support multi-clone yet.$"):
    train_utils.maybe_quantize_training_graph(0, num_clones=2)


def testMaybeQuantizeTrainingGraph_NegativeDelayLeavesGraphUntouched():
  tf.zeros([1])
  before = len(tf.compat.v1.get_default_graph().get_operations())
  assert not train_utils.maybe_quantize_training_graph(-1, num_clones=4)
  assert len(tf.compat.v1.get_default_graph().get_operations()) == before


def testCheckQuantizeScales_MultiScaleQuantizedRaisesOriginalError():
  with pytest.raises(ValueError,
                     match='^Quantize mode is not supported with multi-scale test.$'):
    inference.check_quantize_scales(0, [0.5, 1.0])
  inference.check_quantize_scales(0, [1.0])
  inference.check_quantize_scales(-1, [0.5, 1.0])


def testIouFromConfusion_HandMadePredictionLabelPair():
  labels = np.array([[0, 0, 1, 1], [2, 2, 255, 255]])
  predictions = np.array([[0, 1, 1, 1], [2, 0, 2, 1]])
  confusion = metrics.confusion_matrix(predictions, labels, num_classes=4, ignore_label=255)
  per_class, miou = metrics.iou_from_confusion(confusion)
  # class 0: tp 1, fn 1 (0->1), fp 1 (2->0): 1/3; class 1: tp 2, fp 1: 2/3;
  # class 2: tp 1, fn 1: 1/2; class 3 absent: NaN and excluded from the mean.
  np.testing.assert_allclose(per_class[:3], [1 / 3., 2 / 3., 1 / 2.])
  assert np.isnan(per_class[3])
  assert miou == pytest.approx((1 / 3. + 2 / 3. + 1 / 2.) / 3)


def testMiouTags_OriginalNames():
  overall, per_class = metrics.miou_tags([1.0], False, 2)
  assert overall == 'eval/miou_1.0_overall'
  assert per_class == ['eval/miou_1.0_class_0', 'eval/miou_1.0_class_1']
  assert metrics.miou_tags([0.5, 1.0], True, 1)[0] == 'eval/miou_0.5_1.0_flipped_overall'


def testBuildExportGraph_MultiScaleQuantizedRaisesOriginalError():
  from deeplab import common
  options = common.ModelOptions({'semantic': 3}, crop_size=[65, 65])
  with pytest.raises(ValueError,
                     match='^Quantize mode is not supported with multi-scale test.$'):
    inference.build_export_graph(options, inference_scales=[0.5, 1.0], quantize_delay_step=0)
  # Nothing was built before the guard.
  assert not tf.compat.v1.get_default_graph().get_operations()


def testExportFlags_OriginalDefaults():
  from absl import flags
  from deeplab import options
  from slim.runtime import options as runtime_options
  flag_values = flags.FlagValues()
  runtime_options.define_flags(options.ExportOptions, flag_values)
  assert flag_values['crop_size'].default == [513, 513]
  assert flag_values['num_classes'].default == 21
  assert flag_values['output_stride'].default == 8
  assert flag_values['quantize_per_channel'].default is False


def testEntryFlags_SharedFlagsAreDefinedOnceWithTheOriginalDefaults():
  from absl import flags
  from deeplab import options
  from slim.runtime import options as runtime_options
  for cls, output_stride in ((options.TrainOptions, 16), (options.EvalOptions, 16),
                             (options.VisOptions, 16), (options.ExportOptions, 8)):
    flag_values = flags.FlagValues()
    runtime_options.define_flags(cls, flag_values)
    assert flag_values['output_stride'].default == output_stride
    assert flag_values['quantize_delay_step'].default == -1
  flag_values = flags.FlagValues()
  runtime_options.define_flags(options.TrainOptions, flag_values)
  assert flag_values['train_crop_size'].default == ['513', '513']
  assert flag_values['save_interval_secs'].default == 1200
  assert flag_values['optimizer'].default == 'momentum'


def testModelOptions_DepthMultiplierIsTheRecordsUnlessTheFlagIsGiven():
  from absl import flags
  from deeplab import common
  assert common.ModelOptions({'semantic': 3}).depth_multiplier is None
  flag_values = flags.FLAGS
  try:
    flag_values(['prog'])
    assert common.model_options_from_flags(flag_values, {'semantic': 3}).depth_multiplier is None
    flag_values.unparse_flags()
    flag_values(['prog', '--depth_multiplier=0.5'])
    assert common.model_options_from_flags(flag_values, {'semantic': 3}).depth_multiplier == 0.5
  finally:
    flag_values.unparse_flags()


def testModelOptionsFromFlags_BatchNormDecayReachesBackboneOnlyWhenSet():
  from absl import flags
  from deeplab import common
  flag_values = flags.FLAGS
  try:
    flag_values(['prog'])
    default = common.model_options_from_flags(flag_values, {'semantic': 3}, [65, 65])
    assert default.batch_norm_decay == 0.9997 and default.backbone_batch_norm_decay is None
    flag_values.unparse_flags()
    flag_values(['prog', '--batch_norm_decay=0.9', '--decoder_output_stride=4'])
    options = common.model_options_from_flags(flag_values, {'semantic': 3}, [65, 65])
    assert options.batch_norm_decay == 0.9 and options.backbone_batch_norm_decay == 0.9
    assert options.decoder_output_stride == [4]
  finally:
    flag_values.unparse_flags()
