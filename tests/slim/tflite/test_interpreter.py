"""The default-interpreter check that every conversion goes through: a model the converter writes
but the interpreter cannot prepare is refused with the op and TFLite's reason."""
import numpy as np
import pytest
import tensorflow as tf

from slim import compat  # noqa: F401  (TF1 graph mode for the converter below)
from slim.tflite import convert
from slim.tflite import interpreter as interpreter_lib

_v1 = tf.compat.v1


def _model(op_fn, allow_custom_ops=False):
  """Converts x[1, 4] -> op_fn(x) to float TFLite (no interpreter check)."""
  with tf.Graph().as_default():
    x = _v1.placeholder(tf.float32, [1, 4], name='x')
    y = tf.identity(op_fn(x), name='y')
    with _v1.Session() as sess:
      converter = _v1.lite.TFLiteConverter.from_session(sess, [x], [y])
      converter.allow_custom_ops = allow_custom_ops
      return converter.convert()


def testCheckRuns_UnpreparableModelIsRefusedWithOpAndReason():
  # The converter accepts an op TFLite has no kernel for as a custom op; only the interpreter
  # finds out that it cannot run.
  model = _model(lambda x: tf.math.igamma(x, x + 1.0), allow_custom_ops=True)
  with pytest.raises(interpreter_lib.ModelNotRunnableError) as e:
    interpreter_lib.check_runs(model, 'The converted float model')
  message = str(e.value)
  assert message.startswith(
      'The converted float model cannot be prepared by the default TFLite interpreter: '
      'Encountered unresolved custom op: Igamma.')
  assert 'Node number 1 (Igamma) failed to prepare.' in message
  with pytest.raises(interpreter_lib.ModelNotRunnableError, match='unresolved custom op: Igamma'):
    convert.check_model(model, allow_float_ops=True, inference_type='float')


def testCheckRuns_RunnableModelIsReturnedUnchanged():
  model = _model(lambda x: tf.nn.relu6(x * 2.0))
  assert interpreter_lib.check_runs(model) is model
  interpreter = interpreter_lib.load(model)
  interpreter.set_tensor(interpreter.get_input_details()[0]['index'],
                         np.array([[-1.0, 0.5, 2.0, 4.0]], np.float32))
  interpreter.invoke()
  np.testing.assert_allclose(
      interpreter.get_tensor(interpreter.get_output_details()[0]['index']),
      [[0.0, 1.0, 4.0, 6.0]])


def testLoad_MissingFileNamesIt(tmp_path):
  path = str(tmp_path / 'missing.tflite')
  with pytest.raises(ValueError, match='^%s: file not found$' % path):
    interpreter_lib.load(path)
