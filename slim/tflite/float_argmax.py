"""Rewrites a quantized model's ARG_MAX to read a DEQUANTIZE'd float copy of its input.

Why: TFLite's builtin ARG_MAX kernel (XNNPACK does not take ARG_MAX) is several times slower on
int8/uint8 input than on float input on x86: over DeepLab's 1x513x513x21 logits it measured
about 4.8 ms int8 vs 1.3 ms float (1 thread, isolated models, g3doc/quantize.md section 5),
i.e. most of the int8 model's loss against float. DEQUANTIZE is delegated to XNNPACK and cheap.

The labels are exactly those of the integer ARG_MAX: dequantization `(q - zero_point) * scale`
with scale > 0 is strictly increasing, so it keeps the order of the values and the position of
the first maximum (the tie rule) along the axis. The model is then no longer integer-only (one
float tensor, one DEQUANTIZE, a float ARG_MAX): keep the plain model for integer-only hardware.

  model = float_argmax.dequantize_argmax_inputs(int8_model_bytes)
"""
import copy

from tensorflow.lite.python import schema_py_generated as schema_fb
from tensorflow.lite.python import schema_util
from tensorflow.lite.tools import flatbuffer_utils

_QUANTIZED_TYPES = (schema_fb.TensorType.INT8, schema_fb.TensorType.UINT8)
DEQUANTIZED_SUFFIX = '/dequantized'


def _builtin_code(model, op):
  return schema_util.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex])


def _opcode_index(model, builtin_code):
  """Index of `builtin_code` in model.operatorCodes, appending the code when missing."""
  for index, opcode in enumerate(model.operatorCodes):
    if schema_util.get_builtin_code_from_operator_code(opcode) == builtin_code:
      return index
  opcode = schema_fb.OperatorCodeT()
  opcode.builtinCode = builtin_code
  # Codes below 127 are also stored in the deprecated int8 field, which old readers use.
  opcode.deprecatedBuiltinCode = min(builtin_code, 127)
  opcode.version = 1
  model.operatorCodes.append(opcode)
  return len(model.operatorCodes) - 1


def dequantize_argmax_inputs(model):
  """Returns `model` (.tflite bytes) with every 8-bit ARG_MAX fed through a DEQUANTIZE.

  Args:
    model: .tflite flatbuffer bytes.

  Returns:
    The rewritten .tflite bytes (the same bytes' content when no ARG_MAX reads 8-bit data).
    Each rewritten ARG_MAX reads a new float32 tensor `<input name>/dequantized` written by a
    DEQUANTIZE op inserted right before it.
  """
  model_t = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
  changed = False
  for subgraph in model_t.subgraphs:
    operators = []
    for op in subgraph.operators:
      if _builtin_code(model_t, op) == schema_fb.BuiltinOperator.ARG_MAX:
        source = subgraph.tensors[op.inputs[0]]
        if source.type in _QUANTIZED_TYPES:
          float_tensor = schema_fb.TensorT()
          float_tensor.name = source.name + DEQUANTIZED_SUFFIX.encode()
          float_tensor.shape = copy.copy(source.shape)
          float_tensor.shapeSignature = copy.copy(source.shapeSignature)
          float_tensor.type = schema_fb.TensorType.FLOAT32
          float_tensor.buffer = 0  # Buffer 0 is the empty buffer of non-constant tensors.
          subgraph.tensors.append(float_tensor)
          dequantize = schema_fb.OperatorT()
          dequantize.opcodeIndex = _opcode_index(model_t, schema_fb.BuiltinOperator.DEQUANTIZE)
          dequantize.inputs = [op.inputs[0]]
          dequantize.outputs = [len(subgraph.tensors) - 1]
          operators.append(dequantize)
          op.inputs = [len(subgraph.tensors) - 1] + list(op.inputs[1:])
          changed = True
      operators.append(op)
    subgraph.operators = operators
  if not changed:
    return bytes(model)
  return flatbuffer_utils.convert_object_to_bytearray(model_t)
