"""The detector's graph (shapes, shared head), its QAT rewrite and its TFLite conversions.

Tiny inputs (64x64 and 128x128) with freshly initialized weights: the point is structure (every
op before TFLite_Detection_PostProcess integer, the op present and run), not accuracy.
"""
import numpy as np
import pytest
import tensorflow as tf

import slim.quantize as contrib_quantize
from detection import anchors
from detection import architecture
from detection import evaluation
from detection import export_lib
from detection import model
from detection import names
from slim.tflite import inspection

SPEC = architecture.get('retinanet_mobilenet_v2')
NUM_CLASSES = 3


@pytest.fixture(scope='module')
def built():
  """One float detector at 128x128 (batch 2) in its own graph: (graph, outputs)."""
  with tf.Graph().as_default() as graph:
    return graph, model.build(tf.zeros([2, 128, 128, 3]), SPEC, NUM_CLASSES)


def testBuild_LevelShapesAndOutputs(built):
  _, out = built
  assert {l: out.features[l].shape.as_list() for l in SPEC.levels} == {
      3: [2, 16, 16, 128], 4: [2, 8, 8, 128], 5: [2, 4, 4, 128], 6: [2, 2, 2, 128],
      7: [2, 1, 1, 128]}
  assert out.class_logits.shape.as_list() == [2, anchors.count(SPEC, 128), NUM_CLASSES]
  assert out.box_outputs.shape.as_list() == [2, anchors.count(SPEC, 128), 4]
  # Backbone levels: MobileNetV2 blocks of 32, 96 and 320 channels.
  assert [out.backbone_end_points[SPEC.backbone_endpoints[l]].shape.as_list()[-1]
          for l in (3, 4, 5)] == [32, 96, 320]


def testHead_ConvsSharedAcrossLevelsNormsPerLevel(built):
  graph, _ = built
  variables = graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
  head = [v.op.name for v in variables if v.op.name.startswith(names.HEAD_SCOPE + '/')]
  weights = sorted(n for n in head if n.endswith('_weights') or n.endswith('/weights'))
  # Per tower: 4 separable convs + the output conv, each a depthwise and a pointwise kernel.
  assert len(weights) == 2 * (SPEC.head_convs + 1) * 2
  assert 'RetinaNetHead/classnet-conv_0_depthwise/depthwise_weights' in weights
  assert 'RetinaNetHead/scores_pointwise/weights' in weights
  gammas = [n for n in head if n.endswith('/gamma')]
  assert len(gammas) == 2 * SPEC.head_convs * len(SPEC.levels)
  assert 'RetinaNetHead/classnet-conv-norm_7_3/gamma' in gammas
  bias = [v for v in variables if v.op.name == 'RetinaNetHead/scores_pointwise/biases'][0]
  with tf.compat.v1.Session(graph=graph) as sess:
    sess.run(bias.initializer)
    np.testing.assert_allclose(sess.run(bias), -np.log(99.0), rtol=1e-5)


def _range_variables():
  return sorted(v.op.name for v in tf.compat.v1.global_variables()
                if v.op.name.endswith(('/min', '/max')))


@pytest.mark.slow  # The whole detector's training rewrite (~3 min on a busy 2-core machine);
# tests/slim/quantize/test_coverage_fold_branch.py checks the same rule on a toy graph.
def testQatRewrite_TrainingAndEvalGraphsShareRangeVariables():
  with tf.Graph().as_default():
    out = model.build(tf.zeros([2, 64, 64, 3]), SPEC, NUM_CLASSES, is_training=True)
    tf.compat.v1.losses.add_loss(tf.reduce_mean(out.class_logits) +
                                 tf.reduce_mean(out.box_outputs))
    contrib_quantize.create_training_graph(quant_delay=0)
    training = _range_variables()
  with tf.Graph().as_default():
    export_lib.build_inference_graph(SPEC, NUM_CLASSES, 64, quantize=True)
    evaluation_ranges = _range_variables()
  assert training == evaluation_ranges
  # The P6 output feeds both the head and relu6 -> coarser_7: it gets its own range.
  assert 'FPN/coarser_6_pointwise/add_fold/output_quant/min' in training


def _frozen(quantize, per_channel=False, size=64, quantized_inputs=True):
  with tf.Graph().as_default() as graph:
    export_lib.build_inference_graph(SPEC, NUM_CLASSES, size, quantize=quantize,
                                     per_channel=per_channel)
    with tf.compat.v1.Session(graph=graph) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      # Score threshold 0: every image returns max_detections boxes to check.
      return export_lib.freeze(sess, SPEC, NUM_CLASSES, max_detections=10, score_threshold=0.0,
                               quantized_inputs=quantized_inputs)


def _postprocess_input_types(model_bytes):
  interp = tf.lite.Interpreter(model_content=model_bytes)
  dtypes = {d['index']: np.dtype(d['dtype']) for d in interp.get_tensor_details()}
  op = [o for o in interp._get_ops_details() if o['op_name'] == names.POSTPROCESS][0]  # pylint: disable=protected-access
  return [dtypes[i] for i in op['inputs']]


def _check_detections(model_bytes, size=64):
  detector = evaluation.TFLiteDetector(model_bytes)
  image = np.random.default_rng(0).integers(0, 256, [size, size, 3]).astype(np.uint8)
  boxes, classes, scores = detector.detect(image)
  assert boxes.shape == (10, 4)
  assert ((classes >= 1) & (classes <= NUM_CLASSES)).all()
  assert ((scores >= 0) & (scores <= 1)).all()
  # Output convs start near zero: boxes are close to the (normalized) anchors, ordered.
  assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
  assert (boxes > -1.0).all() and (boxes < 2.0).all()


@pytest.mark.parametrize('tflite_type', ['uint8', 'int8'])
def testConvertQat_IntegerUpToPostprocessAndRuns(tflite_type):
  int8 = tflite_type == 'int8'
  _, with_op = _frozen(quantize=True, per_channel=int8, quantized_inputs=not int8)
  assert [n.op for n in with_op.node if n.name == names.POSTPROCESS] == [names.POSTPROCESS]
  assert list(with_op.node[-1].input) == list(export_lib.RAW_OUTPUTS)
  model_bytes = export_lib.convert_qat(with_op, 64, tflite_type)
  ops = inspection.op_histogram(model_bytes)
  assert ops[names.POSTPROCESS] == 1
  assert 'QUANTIZE' not in ops
  float_ops = inspection.float_ops(model_bytes)
  if tflite_type == 'uint8':
    # As the OD API's model: the op reads the uint8 box encodings and class scores directly.
    assert 'DEQUANTIZE' not in ops
    assert float_ops == [(names.POSTPROCESS, names.POSTPROCESS)]
    # ... and the anchors as uint8 too (the converter quantizes the constant; the kernel then
    # dequantizes it: the AP cost at high IoU is in g3doc/detection.md).
    assert _postprocess_input_types(model_bytes) == [np.dtype(np.uint8)] * 3
  else:
    # The kernel has no int8 input path: two DEQUANTIZE ops right before it, nothing else float.
    assert ops['DEQUANTIZE'] == 2
    assert {op for _, op in float_ops} == {'DEQUANTIZE', names.POSTPROCESS}
    assert _postprocess_input_types(model_bytes)[:2] == [np.dtype(np.float32)] * 2
  _check_detections(model_bytes)
  if tflite_type == 'int8':
    per_channel = [r for r in inspection.tensor_table(model_bytes)
                   if r['name'].endswith('weights_quant/FakeQuantWithMinMaxVarsPerChannel')]
    assert per_channel and all(len(r['scales']) > 1 for r in per_channel)


@pytest.mark.slow  # One more QAT eval rewrite; the int8 case above checks the same boundary.
def testConvertQatUint8_FloatPostprocessInputsKeepFloatAnchors():
  # export_model.py --float_postprocess_inputs: the kernel reads float anchors only with float
  # box encodings (uint8 encodings make it dequantize uint8 anchors).
  _, with_op = _frozen(quantize=True, quantized_inputs=False)
  model_bytes = export_lib.convert_qat(with_op, 64, 'uint8')
  ops = inspection.op_histogram(model_bytes)
  assert ops['DEQUANTIZE'] == 2
  assert _postprocess_input_types(model_bytes) == [np.dtype(np.float32)] * 3
  _check_detections(model_bytes)


@pytest.fixture(scope='module')
def float_frozen():
  """The float export graph with the post-processing op (shared: freezing takes seconds)."""
  return _frozen(quantize=False)[1]


def testConvertPtq_IntegerUpToPostprocess(float_frozen):
  with_op = float_frozen
  rng = np.random.default_rng(1)
  images = [rng.uniform(-1, 1, [64, 64, 3]).astype(np.float32) for _ in range(4)]
  model_bytes = export_lib.convert_ptq(with_op, 64, images)
  # The converter hands the custom op float inputs: DEQUANTIZE right before it, nothing else.
  float_ops = inspection.float_ops(model_bytes)
  assert {op for _, op in float_ops} == {'DEQUANTIZE', names.POSTPROCESS}
  _check_detections(model_bytes)


def testCheckIntegerUpToPostprocess_FloatModelRefused(float_frozen):
  model_bytes = export_lib.convert_float(float_frozen, 64)
  with pytest.raises(ValueError, match='not fully integer.*CONV_2D'):
    export_lib.check_integer_up_to_postprocess(model_bytes, 'uint8')
