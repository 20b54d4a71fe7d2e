"""Export MobileBERT-SQuAD: the frozen inference graph and its TFLite models, and a TFLite runner.

The exported graph has the original SavedModel's signature: int32 `input_ids`, `input_mask`,
`segment_ids` [1, max_seq_length] -> `start_logits`, `end_logits` [1, max_seq_length].
TFLite has no uint8 BATCH_MATMUL, so every quantized model here is int8:

  float     `model_float.tflite` (always, as the original);
  dynamic   weights-only int8 (`--use_post_quantization` alone: float activations);
  ptq       full-integer post-training quantization of the float graph, calibrated on training
            features (the original `--use_post_quantization --activation_quantization`);
  rewriter  the `slim.quantize` QAT graph through the v1 converter (`inference_type=int8`):
            every range comes from the graph, nothing is calibrated;
  hand      the hand-placed QAT graph: its units leave the embeddings, the dense outputs and
            the softmax without a range, so (as the original's export did) the converter
            calibrates those on training features and keeps the trained ranges elsewhere.

The int32 inputs stay int32; the attention mask's int32 -> float CAST and the QUANTIZE after it
are the only float ops of a quantized model, and `check_integer` refuses any other.
"""
import numpy as np
import tensorflow as tf

from mobilebert import squad_data
from mobilebert import squad_model
from slim.tflite import convert
from slim.tflite import inspection
from slim.tflite import interpreter as interpreter_lib

KINDS = ('float', 'dynamic', 'ptq', 'rewriter', 'hand')
QUANTIZED_KINDS = ('ptq', 'rewriter', 'hand')
# Float ops a quantized model may keep: the int32 -> float cast of the attention mask and the
# quantization of its result (nothing else computes in float).
BOUNDARY_FLOAT_OPS = frozenset(['CAST', 'QUANTIZE', 'DEQUANTIZE'])
# Ops that must compute in integers in every quantized model.
INTEGER_OPS = frozenset(['FULLY_CONNECTED', 'BATCH_MATMUL', 'SOFTMAX', 'ADD', 'MUL', 'GATHER',
                         'CONCATENATION'])


def convert_model(graph_def, kind, max_seq_length, calibration=None):
  """Converts a frozen export graph to TFLite.

  Args:
    graph_def: frozen GraphDef (FakeQuant ops for the 'rewriter' and 'hand' kinds).
    kind: one of KINDS.
    max_seq_length: the inputs' length.
    calibration: feature arrays (`squad_data.feature_arrays`) for 'ptq' and 'hand'.

  Returns:
    .tflite bytes, checked to run (and, quantized, to be integer: `check_integer`).

  Raises:
    ValueError: unknown kind or missing calibration features.
    slim.tflite.convert.NotFullyQuantizedError: a quantized model computes in float.
  """
  if kind not in KINDS:
    raise ValueError('unknown TFLite kind %r; expected one of %s' % (kind, ', '.join(KINDS)))
  shapes = [[1, max_seq_length]] * len(squad_data.INPUT_NAMES)
  converter = convert.v1_converter(graph_def, squad_data.INPUT_NAMES, squad_model.OUTPUT_NAMES,
                                   shapes)
  if kind == 'rewriter':
    converter.inference_type = tf.int8
    # The stats apply to real-valued inputs only; the int32 inputs keep their type.
    converter.quantized_input_stats = {name: (0.0, 1.0) for name in squad_data.INPUT_NAMES}
  elif kind == 'dynamic':
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  elif kind in ('ptq', 'hand'):
    if calibration is None:
      raise ValueError('%s conversion needs calibration features' % kind)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: _calibration_rows(calibration)
    # Only int8 builtins: an op without an int8 kernel fails instead of staying float.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
  model = converter.convert()
  if kind in QUANTIZED_KINDS:
    check_integer(model, kind)
  return interpreter_lib.check_runs(model, 'The converted %s MobileBERT model' % kind)


def _calibration_rows(arrays):
  for i in range(len(arrays[squad_data.INPUT_NAMES[0]])):
    yield [arrays[name][i:i + 1] for name in squad_data.INPUT_NAMES]


def check_integer(model, kind):
  """Raises NotFullyQuantizedError when a quantized model computes in float beyond the mask.

  Returns:
    The float ops that are allowed (the boundary), as [(tensor, op type)].
  """
  floats = inspection.float_ops(model)
  bad = [(name, op) for name, op in floats if op not in BOUNDARY_FLOAT_OPS]
  if bad:
    raise convert.NotFullyQuantizedError(bad, 'int8 %s' % kind)
  return floats


class TFLiteSpanModel(object):
  """Runs a MobileBERT-SQuAD .tflite model on feature arrays; returns float logits."""

  def __init__(self, model, num_threads=1):
    self._interp = interpreter_lib.load(model, num_threads=num_threads)
    self._inputs = {d['name']: d for d in self._interp.get_input_details()}
    self._outputs = {d['name']: d for d in self._interp.get_output_details()}
    missing = [n for n in squad_data.INPUT_NAMES if n not in self._inputs]
    if missing:
      raise ValueError('TFLite model lacks the input(s) %s (has %s)'
                       % (missing, sorted(self._inputs)))

  def _output(self, name):
    detail = self._outputs[name]
    value = self._interp.get_tensor(detail['index']).astype(np.float32)
    if detail['dtype'] != np.float32:
      scale, zero_point = detail['quantization']
      value = (value - zero_point) * scale
    return value[0]

  def logits(self, arrays):
    """(start_logits, end_logits), [num_features, seq], for `squad_data.feature_arrays`."""
    starts, ends = [], []
    for i in range(len(arrays[squad_data.INPUT_NAMES[0]])):
      for name in squad_data.INPUT_NAMES:
        detail = self._inputs[name]
        self._interp.set_tensor(detail['index'], arrays[name][i:i + 1].astype(detail['dtype']))
      self._interp.invoke()
      starts.append(self._output(squad_model.START_LOGITS))
      ends.append(self._output(squad_model.END_LOGITS))
    return np.stack(starts), np.stack(ends)
