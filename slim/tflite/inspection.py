"""Inspect a .tflite model: tensor dtypes and quantization, op histogram, ops left in float.

CLI:  python -m slim.tflite.inspection model.tflite
"""
import collections
import sys

import numpy as np

from slim.tflite import interpreter as interpreter_lib

_INTEGER_TYPES = (np.uint8, np.int8)
# Integer tensors that are legitimately wider than 8 bits in a fully quantized model: int32
# biases and shape/axis operands, int32/int64 ArgMax outputs.
_WIDE_INTEGER_TYPES = (np.int32, np.int64)


def _interpreter(model):
  return interpreter_lib.load(model, allocate=False)


def tensor_table(model):
  """Returns one dict per tensor: name, dtype, shape, scales, zero_points (per-channel aware)."""
  rows = []
  for d in _interpreter(model).get_tensor_details():
    q = d.get('quantization_parameters', {})
    rows.append({
        'index': d['index'], 'name': d['name'], 'dtype': np.dtype(d['dtype']).name,
        'shape': list(d['shape']), 'scales': [float(s) for s in q.get('scales', [])],
        'zero_points': [int(z) for z in q.get('zero_points', [])],
    })
  return rows


def _ops(model):
  interp = _interpreter(model)
  tensors = {d['index']: d for d in interp.get_tensor_details()}
  return interp._get_ops_details(), tensors  # pylint: disable=protected-access


def op_histogram(model):
  """Returns {op type: count}, sorted by type."""
  ops, _ = _ops(model)
  return dict(sorted(collections.Counter(op['op_name'] for op in ops).items()))


def float_ops(model):
  """Returns [(output tensor name, op type)] of ops that compute in float.

  An op computes in float when one of its (non-empty) inputs or outputs is float32. QUANTIZE
  ops at a float model input are reported too: a fully integer model has none.
  """
  ops, tensors = _ops(model)
  result = []
  for op in ops:
    indices = [i for i in list(op['inputs']) + list(op['outputs']) if i >= 0]
    if any(tensors[i]['dtype'] == np.float32 for i in indices):
      out = tensors[op['outputs'][0]]['name'] if len(op['outputs']) else '?'
      result.append((out, op['op_name']))
  return result


def quantized_fraction(model):
  """Fraction of tensors stored as uint8/int8 (int32/int64 tensors are not counted)."""
  types = [np.dtype(d['dtype']).type for d in _interpreter(model).get_tensor_details()]
  counted = [t for t in types if t not in _WIDE_INTEGER_TYPES]
  return sum(t in _INTEGER_TYPES for t in counted) / max(1, len(counted))


def is_fully_integer(model):
  """True when no tensor is float (int32 biases/shapes and ArgMax outputs allowed)."""
  return not any(np.dtype(d['dtype']) == np.float32
                 for d in _interpreter(model).get_tensor_details())


def main(argv=None):
  argv = sys.argv[1:] if argv is None else argv
  if len(argv) != 1:
    print('usage: python -m slim.tflite.inspection MODEL.tflite', file=sys.stderr)
    return 2
  path = argv[0]
  for row in tensor_table(path):
    q = ''
    if row['scales']:
      q = ('scale=%g zero_point=%d' % (row['scales'][0], row['zero_points'][0])
           if len(row['scales']) == 1 else 'per-channel x%d' % len(row['scales']))
    print('%4d %-8s %-20s %-60s %s' % (row['index'], row['dtype'], row['shape'], row['name'], q))
  print('ops:', op_histogram(path))
  print('quantized tensors: %.1f%%' % (100 * quantized_fraction(path)))
  floats = float_ops(path)
  print('float ops: %s' % (floats or 'none'))
  return 0


if __name__ == '__main__':
  sys.exit(main())
