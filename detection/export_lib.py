"""The detector's inference graph, frozen, with the TFLite post-processing op; its conversions.

As the Object Detection API's `export_tflite_ssd_graph.py --add_postprocessing_op=true`:

  normalized_input_image_tensor [1, H, W, 3] float in [-1, 1]
    -> RetinaNet -> raw_outputs/box_encodings [1, N, 4]
                 -> sigmoid -> raw_outputs/class_predictions [1, N, C]
  anchors [N, 4] const (normalized ycenter, xcenter, h, w)
  TFLite_Detection_PostProcess(box_encodings, class_predictions, anchors)
    -> boxes [1, D, 4], classes [1, D], scores [1, D], num_detections [1]

The post-processing node is appended to the frozen GraphDef (TensorFlow has no kernel for it;
TFLite has it as a builtin custom op), and the converter keeps it with `allow_custom_ops`. Its
box decoding (y/x/h/w_scale) is `detection.box_coder`'s; class predictions have no background
column, so the op's label offset is 0 and output class k is category id k + 1. NMS runs in
float inside the op; everything before it is integer in the uint8 and int8 models, which
`check_integer_up_to_postprocess` verifies. (The int8 models dequantize the op's two inputs
right before it: TFLite's kernel reads uint8 or float, not int8; see `add_postprocess_op`.)
"""
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2
from tensorflow.core.framework import types_pb2

import slim.quantize as contrib_quantize
from detection import anchors as anchors_lib
from detection import model
from detection import names
from slim.tflite import convert
from slim.tflite import inspection
from slim.tflite import interpreter as interpreter_lib
from slim.tflite import ptq

# real = (q - mean) / std of the uint8 input: [0, 255] pixels -> [-1, 1].
INPUT_STATS = (127.5, 127.5)
TFLITE_TYPES = ('uint8', 'int8', 'float')
RAW_OUTPUTS = (names.BOX_ENCODINGS, names.CLASS_PREDICTIONS, names.ANCHORS)


def build_inference_graph(spec, num_classes, image_size, quantize=False, per_channel=False):
  """Builds the export graph (without the post-processing op) in the default graph.

  Args:
    spec: the `architecture.RetinaNetSpec`.
    num_classes: foreground classes.
    image_size: input side.
    quantize: apply the eval QAT rewrite (create_eval_graph).
    per_channel: with quantize, per-channel weight ranges (for the int8 conversion).

  Returns:
    The input placeholder.
  """
  images = tf.compat.v1.placeholder(tf.float32, [1, image_size, image_size, 3], names.INPUT)
  outputs = model.build(images, spec, num_classes, is_training=False)
  tf.identity(outputs.box_outputs, name=names.BOX_ENCODINGS)
  tf.identity(tf.sigmoid(outputs.class_logits), name=names.CLASS_PREDICTIONS)
  tf.constant(anchors_lib.to_center_size(anchors_lib.generate(spec, image_size), image_size),
              name=names.ANCHORS)
  if quantize:
    if per_channel:
      contrib_quantize.experimental_create_eval_graph(per_channel=True)
    else:
      contrib_quantize.create_eval_graph()
  return images


def add_postprocess_op(graph_def, spec, num_classes, max_detections=None,
                       score_threshold=None, iou_threshold=None, detections_per_class=100,
                       use_regular_nms=False, quantized_inputs=True):
  """Appends the TFLite_Detection_PostProcess node (OD API attributes) to a frozen GraphDef.

  Args:
    graph_def: frozen GraphDef holding RAW_OUTPUTS.
    spec: the `architecture.RetinaNetSpec` (box scales, post-processing defaults).
    num_classes: foreground classes.
    max_detections, score_threshold, iou_threshold: None uses the spec's.
    detections_per_class: regular NMS only.
    use_regular_nms: per-class NMS (slower) instead of the fast class-agnostic one.
    quantized_inputs: the op reads the quantized raw outputs (`_output_quantized`, the OD
      API's uint8 model). TFLite's kernel reads uint8 or float, not int8: for an int8 model
      pass False and the converter dequantizes the two raw outputs right before the op.

  Returns:
    A new GraphDef.
  """
  out = tf.compat.v1.GraphDef()
  out.CopyFrom(graph_def)
  node = out.node.add()
  node.op = node.name = names.POSTPROCESS
  node.input.extend(RAW_OUTPUTS)
  value = attr_value_pb2.AttrValue
  if quantized_inputs:
    node.attr['_output_quantized'].CopyFrom(value(b=True))
  node.attr['_output_types'].list.type.extend([types_pb2.DT_FLOAT] * 4)
  node.attr['_support_output_type_float_in_quantized_op'].CopyFrom(value(b=True))
  ints = dict(max_detections=max_detections or spec.max_detections, max_classes_per_detection=1,
              num_classes=num_classes, detections_per_class=detections_per_class)
  floats = dict(nms_score_threshold=spec.score_threshold if score_threshold is None
                else score_threshold,
                nms_iou_threshold=spec.nms_iou_threshold if iou_threshold is None
                else iou_threshold,
                y_scale=spec.box_scales[0], x_scale=spec.box_scales[1],
                h_scale=spec.box_scales[2], w_scale=spec.box_scales[3])
  for key, v in ints.items():
    node.attr[key].CopyFrom(value(i=int(v)))
  for key, v in floats.items():
    node.attr[key].CopyFrom(value(f=float(v)))
  node.attr['use_regular_nms'].CopyFrom(value(b=bool(use_regular_nms)))
  return out


def freeze(sess, spec, num_classes, **postprocess_kwargs):
  """Returns (raw GraphDef, GraphDef with the post-processing op) of the session's graph."""
  raw = convert.freeze_session(sess, list(RAW_OUTPUTS))
  return raw, add_postprocess_op(raw, spec, num_classes, **postprocess_kwargs)


def _postprocess_boundary(model_bytes):
  """Names of the DEQUANTIZE outputs that only feed the post-processing op (PTQ puts them
  there: the converter hands a custom op float inputs)."""
  interp = interpreter_lib.load(model_bytes, allocate=False)
  ops = interp._get_ops_details()  # pylint: disable=protected-access
  tensors = {d['index']: d['name'] for d in interp.get_tensor_details()}
  inputs = set()
  for op in ops:
    if op['op_name'] == names.POSTPROCESS:
      inputs.update(op['inputs'])
  return {tensors[op['outputs'][0]] for op in ops
          if op['op_name'] == 'DEQUANTIZE' and set(op['outputs']) <= inputs}


def check_integer_up_to_postprocess(model_bytes, what):
  """Raises NotFullyQuantizedError when an op before the post-processing op computes in float.

  Allowed: the post-processing op itself (float NMS) and DEQUANTIZE ops whose output feeds
  only it.
  """
  boundary = _postprocess_boundary(model_bytes)
  float_ops = [(name, op) for name, op in inspection.float_ops(model_bytes)
               if op != names.POSTPROCESS and not (op == 'DEQUANTIZE' and name in boundary)]
  if float_ops:
    raise convert.NotFullyQuantizedError(float_ops, what)
  return model_bytes


def _converter(graph_def, image_size):
  converter = convert.v1_converter(graph_def, [names.INPUT], list(names.POSTPROCESS_OUTPUTS),
                                   [[1, image_size, image_size, 3]])
  converter.allow_custom_ops = True
  return converter


def convert_qat(graph_def, image_size, tflite_type):
  """Converts a frozen QAT graph (with the post-processing op): 'uint8' (the legacy
  QUANTIZED_UINT8 command with --allow_custom_ops) or 'int8' (per-channel when the graph has
  per-channel weight ranges); checked integer up to the op and run once."""
  if tflite_type not in ('uint8', 'int8'):
    raise ValueError('tflite_type must be uint8 or int8 for a QAT graph, got %r' % tflite_type)
  converter = _converter(graph_def, image_size)
  dtype = tf.uint8 if tflite_type == 'uint8' else tf.int8
  mean, std = INPUT_STATS
  converter.inference_type = dtype
  converter.inference_input_type = dtype
  converter.quantized_input_stats = {
      names.INPUT: (mean if tflite_type == 'uint8' else mean - 128.0, std)}
  model_bytes = converter.convert()
  check_integer_up_to_postprocess(model_bytes, tflite_type)
  return convert.check_model(model_bytes, True, tflite_type)


def convert_float(graph_def, image_size):
  """Float TFLite model of a frozen float graph with the post-processing op."""
  return convert.check_model(_converter(graph_def, image_size).convert(), True, 'float')


def convert_ptq(graph_def, image_size, representative_images, num_calibration_images=None):
  """Full-integer int8 PTQ of a frozen float graph with the post-processing op.

  `representative_images` are float [H, W, 3] arrays in [-1, 1]. Every op but the
  post-processing op is int8 (checked); the model's input is int8, as TF2's PTQ default.
  """
  converter = _converter(graph_def, image_size)
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  converter.representative_dataset = lambda: ptq._calibration_batches(  # pylint: disable=protected-access
      representative_images, [1, image_size, image_size, 3], num_calibration_images)
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
  converter.inference_input_type = tf.int8
  model_bytes = converter.convert()
  check_integer_up_to_postprocess(model_bytes, 'PTQ int8')
  return convert.check_model(model_bytes, True, 'PTQ int8')


def to_model_input(images_uint8):
  """[0, 255] pixels -> the float export input in [-1, 1] (what INPUT_STATS encode)."""
  mean, std = INPUT_STATS
  return (np.asarray(images_uint8, np.float32) - mean) / std
