"""Exports a trained detector: frozen graph with the TFLite post-processing op, and TFLite.

As `export_tflite_ssd_graph.py --add_postprocessing_op=true` + `tflite_convert`:

  # QAT checkpoint -> frozen graph + legacy uint8 TFLite (--inference_type=QUANTIZED_UINT8
  # --allow_custom_ops), or int8 per-channel:
  python detection/export_model.py --checkpoint_path=/tmp/det/qat --dataset_dir=DIR \
      --quantize_delay_step=0 --export_path=/tmp/det/qat/tflite_graph.pb \
      --tflite_output_file=/tmp/det/qat/model_uint8.tflite --tflite_type=uint8
  # float checkpoint -> float TFLite, or full-integer PTQ (calibrated on --calibration_split):
  python detection/export_model.py --checkpoint_path=/tmp/det/float --dataset_dir=DIR \
      --export_path=/tmp/det/float/tflite_graph.pb \
      --tflite_output_file=/tmp/det/float/ptq_int8.tflite --tflite_type=ptq_int8

The frozen graph's input is `normalized_input_image_tensor` [1, H, W, 3] float in [-1, 1]
(uint8 TFLite inputs: mean = std = 127.5), outputs `TFLite_Detection_PostProcess` (:0 boxes,
:1 classes, :2 scores, :3 number of detections); `raw_outputs/box_encodings`,
`raw_outputs/class_predictions` and `anchors` are kept. Files are written atomically.
"""
import dataclasses
import itertools
import json
from typing import Optional

from absl import logging

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

from detection import data
from detection import export_lib
from detection import options as det_options
from slim import fileio
from slim.runtime import checkpoints
from slim.runtime import entry
from slim.runtime import options

flag = options.flag
TFLITE_TYPES = ('uint8', 'int8', 'float', 'ptq_int8')


@dataclasses.dataclass
class ExportOptions(det_options.ModelFlags, det_options.DatasetFlags, det_options.QuantizeFlags):
  """Flags of the exporter (the OD API's post-processing flags where one exists)."""
  checkpoint_path: Optional[str] = flag(None, 'Checkpoint (prefix or training folder).',
                                        kind='string', required=True)
  export_path: Optional[str] = flag(None, 'Where the frozen graph (with the post-processing '
                                    'op) is written.', kind='string', required=True)
  tflite_output_file: Optional[str] = flag(None, 'Also convert to this TFLite file.',
                                           kind='string')
  tflite_type: str = flag('uint8', 'uint8 / int8 (QAT checkpoints), float or ptq_int8 (float '
                          'checkpoints).', kind='enum', enum_values=TFLITE_TYPES)
  max_detections: int = flag(100, 'Maximum number of detections (boxes) to show.')
  nms_score_threshold: float = flag(0.05, 'Score threshold of the post-processing NMS.')
  nms_iou_threshold: float = flag(0.5, 'IoU threshold of the post-processing NMS.')
  use_regular_nms: bool = flag(False, 'Per-class NMS instead of the fast class-agnostic one.')
  calibration_split: str = flag('train', 'Split of the PTQ calibration images.')
  num_calibration_images: int = flag(100, 'PTQ calibration images.')
  float_postprocess_inputs: bool = flag(
      False, 'New, uint8 only: dequantize the box encodings and scores right before the '
      'post-processing op (as the int8 model) instead of feeding it uint8 as the OD API. The '
      "op's kernel then reads float anchors too; with uint8 inputs it reads uint8 anchors, one "
      "scale over [0, largest anchor side], which moves RetinaNet's anchor centres by up to "
      '1/76 of the image and costs AP at high IoU (g3doc/detection.md).')


def _check(opts):
  quantized = opts.quantize_delay_step >= 0
  if opts.tflite_type in ('uint8', 'int8') and opts.tflite_output_file and not quantized:
    raise ValueError('--tflite_type=%s needs a QAT graph (--quantize_delay_step >= 0); a float '
                     'checkpoint converts with --tflite_type=float or ptq_int8' % opts.tflite_type)
  if opts.float_postprocess_inputs and opts.tflite_type != 'uint8':
    raise ValueError('--float_postprocess_inputs applies to --tflite_type=uint8 only (the '
                     'other models feed the post-processing op float already), got %s'
                     % opts.tflite_type)
  if opts.tflite_type in ('float', 'ptq_int8') and quantized:
    raise ValueError('--tflite_type=%s converts a float graph: drop --quantize_delay_step'
                     % opts.tflite_type)


def _calibration_images(opts, image_size):
  files = data.split_files(opts.dataset_dir, opts.calibration_split)
  examples = itertools.islice(data.eval_examples(files, image_size), opts.num_calibration_images)
  return [export_lib.to_model_input(image) for image, _, _, _ in examples]


def export(opts):
  """Writes the frozen graph (and TFLite model); returns a summary dict."""
  _check(opts)
  spec = opts.spec()
  image_size = opts.input_size()
  num_classes = opts.num_classes()
  checkpoint = checkpoints.resolve(opts.checkpoint_path, 'checkpoint_path')
  quantized = opts.quantize_delay_step >= 0
  graph = tf.Graph()
  with graph.as_default():
    export_lib.build_inference_graph(spec, num_classes, image_size, quantize=quantized,
                                     per_channel=quantized and opts.tflite_type == 'int8')
    with tf.compat.v1.Session(graph=graph) as sess:
      try:
        checkpoints.restore_for_export(sess, checkpoint)
      except ValueError as e:
        raise ValueError('--checkpoint_path=%s: %s' % (opts.checkpoint_path, e)) from None
      _, graph_def = export_lib.freeze(
          sess, spec, num_classes, max_detections=opts.max_detections,
          score_threshold=opts.nms_score_threshold, iou_threshold=opts.nms_iou_threshold,
          use_regular_nms=opts.use_regular_nms,
          quantized_inputs=opts.tflite_type != 'int8' and not opts.float_postprocess_inputs)
  fileio.atomic_write_bytes(opts.export_path, graph_def.SerializeToString())
  summary = dict(export_path=opts.export_path, checkpoint=checkpoint, quantized=quantized,
                 image_size=image_size, num_classes=num_classes)
  if opts.tflite_output_file:
    if opts.tflite_type == 'float':
      model_bytes = export_lib.convert_float(graph_def, image_size)
    elif opts.tflite_type == 'ptq_int8':
      model_bytes = export_lib.convert_ptq(graph_def, image_size,
                                           _calibration_images(opts, image_size))
    else:
      model_bytes = export_lib.convert_qat(graph_def, image_size, opts.tflite_type)
    fileio.atomic_write_bytes(opts.tflite_output_file, model_bytes)
    summary.update(tflite=opts.tflite_output_file, tflite_type=opts.tflite_type,
                   bytes=len(model_bytes))
  logging.info('Exported %s', summary)
  return summary


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  print(json.dumps(export(options.from_flags(ExportOptions)), sort_keys=True))


def run():
  """Console-script entry point."""
  entry.run(main, ExportOptions)


if __name__ == '__main__':
  run()
