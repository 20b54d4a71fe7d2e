"""Loading a .tflite model into the default TFLite interpreter, for every runner and tool.

  interpreter = interpreter_lib.load('model.tflite', num_threads=2)   # allocated, ready to invoke

Bytes or a path are accepted alike; a missing file is one clear error naming it. The default
interpreter applies the XNNPACK delegate, which can refuse a model that converted without error
(a "fully integer" model is not necessarily a runnable one): `allocate=True` surfaces that at
load time as `ModelNotRunnableError`.
"""
import os

import numpy as np
import tensorflow as tf


class ModelNotRunnableError(RuntimeError):
  """The default interpreter cannot prepare the model (e.g. XNNPACK refused a node)."""


def load(model, num_threads=None, allocate=True, default_delegates=True, what='TFLite model'):
  """Returns a `tf.lite.Interpreter` for `model`.

  Args:
    model: .tflite bytes, or the path of a .tflite file.
    num_threads: interpreter threads (None: TFLite's default).
    allocate: also call `allocate_tensors()`.
    default_delegates: apply the default delegates (XNNPACK) as every user's interpreter does;
      False reads the stored tensors with the builtin kernels only (tools that inspect weights).
    what: how error messages name the model when it is given as bytes.

  Returns:
    The interpreter (allocated when `allocate`).

  Raises:
    ValueError: the file does not exist.
    ModelNotRunnableError: `allocate_tensors()` failed (the message carries TFLite's reason).
  """
  kwargs = {'num_threads': num_threads}
  if not default_delegates:
    kwargs['experimental_op_resolver_type'] = (
        tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
  if isinstance(model, (bytes, bytearray)):
    interpreter = tf.lite.Interpreter(model_content=bytes(model), **kwargs)
  else:
    path = os.fspath(model)
    if not os.path.isfile(path):
      raise ValueError('%s: file not found' % path)
    what = path
    interpreter = tf.lite.Interpreter(model_path=path, **kwargs)
  if allocate:
    try:
      interpreter.allocate_tensors()
    except RuntimeError as e:
      raise ModelNotRunnableError('%s cannot be prepared by the default TFLite interpreter: %s'
                                  % (what, str(e).strip())) from None
  return interpreter


def check_runs(model, what='TFLite model'):
  """Loads `model` in the default interpreter and runs one invoke on zero inputs.

  Converters accept models that the interpreter then refuses (XNNPACK "failed to prepare" a
  node); every model this project writes is checked here first, so such a model is refused at
  conversion time with the op and the reason, not found later by its user.

  Returns:
    `model`.

  Raises:
    ModelNotRunnableError: naming `what`, with TFLite's message (which names the op).
  """
  interpreter = load(model, what=what)
  for detail in interpreter.get_input_details():
    interpreter.set_tensor(detail['index'], np.zeros(detail['shape'], detail['dtype']))
  try:
    interpreter.invoke()
  except RuntimeError as e:
    raise ModelNotRunnableError('%s fails to run in the default TFLite interpreter: %s'
                                % (what, str(e).strip())) from None
  return model
