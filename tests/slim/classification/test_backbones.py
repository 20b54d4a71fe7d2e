"""Every classification backbone of the recipe, at a small size, through the trainer and exporter:
float training -> PTQ int8; QAT fine-tune (--quantize_delay=0) -> export uint8 (per-tensor) and
int8 (per-channel ranges derived from the per-tensor checkpoint). Each model must be fully
integer, take the io dtype of its path and return one probability row that the interpreter
actually computes.
"""
import numpy as np
import pytest
import tensorflow as tf

from datasets import synthetic_classification
from slim import export_inference_graph
from slim import ptq_image_classifier
from slim import train_image_classifier
from slim.tflite import inspection as tflite_inspect
from slim.tflite import ptq
from tests.slim.classification import conftest

_SIZE = conftest.IMAGE_SIZE
# Batch-norm statistics of a batch of 2 over the 1x1 feature maps of the last stages make an
# exploding inference graph (activation scales of 1e8 that XNNPACK refuses): a few steps on
# batches of 10 (half the train split) at decay 0.5 give a numerically sane model.
_BATCH = 10
_STEPS = 4
_BACKBONES = ('mobilenet_v2', 'mobilenet_v3_large', 'mobilenet_multi_avg', 'resnet_v1_50')
# (export flags, TFLite input dtype, TFLite output dtype) of each quantized path.
_QAT_PATHS = {
    'uint8': (dict(quantize=True, tflite_type='uint8'), np.uint8, np.uint8),
    'int8 per-channel': (dict(quantize=True, per_channel=True, tflite_type='int8'), np.int8,
                         np.int8),
}


def _train(dataset_dir, model_name, train_dir, **kwargs):
  train_image_classifier.train(conftest.train_options(
      dataset_dir, train_dir, model_name, _STEPS, batch_size=_BATCH, batch_norm_decay=0.5,
      **kwargs))
  return train_dir


def _check_runs(model, input_dtype, output_dtype, num_classes):
  assert tflite_inspect.float_ops(model) == []
  interpreter = tf.lite.Interpreter(model_content=model)
  interpreter.allocate_tensors()
  (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
  assert (inp['dtype'], out['dtype']) == (input_dtype, output_dtype)
  info = np.iinfo(input_dtype)
  interpreter.set_tensor(inp['index'], np.random.default_rng(0).integers(
      info.min, info.max + 1, inp['shape']).astype(input_dtype))
  interpreter.invoke()
  scores = interpreter.get_tensor(out['index'])
  assert scores.shape == (1, num_classes)
  # A softmax: dequantized, the row sums to about 1 (one quantization step per class).
  scale, zero_point = out['quantization']
  assert abs(float(np.sum((scores.astype(np.float32) - zero_point) * scale)) - 1.0) <= (
      num_classes * scale)


@pytest.mark.parametrize('model_name', _BACKBONES)
def testBackbone_PtqAndQatExportsAreFullyInteger(model_name, dataset_dir, tmp_path):
  float_dir = _train(dataset_dir, model_name, str(tmp_path / 'float'))
  qat_dir = _train(dataset_dir, model_name, str(tmp_path / 'qat'), checkpoint_path=float_dir,
                   quantize_delay=0)
  common = dict(model_name=model_name, image_size=_SIZE, batch_size=1, dataset_dir=dataset_dir)
  num_classes = synthetic_classification.NUM_CLASSES

  frozen = str(tmp_path / 'float.pb')
  spec = export_inference_graph.export(export_inference_graph.ExportOptions(
      output_file=frozen, checkpoint_path=float_dir, **common))
  images = ptq_image_classifier.representative_images(dataset_dir, model_name, _SIZE, num_images=4)
  model = ptq.convert_ptq_int8(frozen, spec['input_arrays'], spec['output_arrays'],
                               [spec['input_shape']], images)
  _check_runs(model, np.int8, np.int8, num_classes)

  for path_name, (flags, input_dtype, output_dtype) in _QAT_PATHS.items():
    tflite = tmp_path / ('qat %s.tflite' % path_name)
    export_inference_graph.export(export_inference_graph.ExportOptions(
        output_file=str(tmp_path / ('qat %s.pb' % path_name)), checkpoint_path=qat_dir,
        tflite_output_file=str(tflite), **common, **flags))
    _check_runs(tflite.read_bytes(), input_dtype, output_dtype, num_classes)
