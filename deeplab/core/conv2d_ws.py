"""DeepLab's `conv2d_ws`: tf_slim.conv2d with optional Weight Standardization (WS).

WS convolves with the kernel standardized per output channel, (w - mean) / sqrt(var + 1e-5)
over its height, width and input axes (Qiao et al., arXiv:1903.10520); with group norm it
trains with one image per replica. Without WS, `conv2d` *is* a `tf_slim.conv2d` call with the
same arguments, so graphs, variable names (`<scope>/weights`, `<scope>/biases`) and checkpoints
equal those of slim's conv; `deeplab/core/resnet_v1_beta.py` builds every ResNet conv with it,
so `resnet_arg_scope(use_weight_standardization=True)` reaches them all.

  with tf_slim.arg_scope([conv2d_ws.conv2d], use_weight_standardization=True,
                         normalizer_fn=tf_slim.group_norm):
    net = conv2d_ws.conv2d(images, 64, [3, 3], scope='conv1')

The QAT rewriter quantizes the standardized kernel like any conv weights only when WS is off;
WS nets are for float training (see g3doc/compatibility.md).
"""

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from slim.nets import resnet_utils

# Variance epsilon of the standardized kernel (the original's).
WS_EPSILON = 1e-5
_DATA_FORMATS = (None, 'NWC', 'NCW', 'NHWC', 'NCHW', 'NDHWC', 'NCDHW')


def standardize_weights(weights):
  """(w - mean) / sqrt(var + 1e-5), moments over all axes but the last (output channels)."""
  mean, variance = tf.nn.moments(weights, [0, 1, 2], keepdims=True)
  return (weights - mean) / tf.sqrt(variance + WS_EPSILON)


@tf_slim.add_arg_scope
def conv2d(inputs, num_outputs, kernel_size, stride=1, padding='SAME', data_format=None, rate=1,
           activation_fn=tf.nn.relu, normalizer_fn=None, normalizer_params=None,
           weights_initializer=tf_slim.xavier_initializer(), weights_regularizer=None,
           biases_initializer=tf.compat.v1.zeros_initializer(), biases_regularizer=None,
           use_weight_standardization=False, reuse=None, variables_collections=None,
           outputs_collections=None, trainable=True, scope=None):
  """A 2-D convolution (tf_slim.conv2d's arguments) with optional weight standardization.

  Args:
    inputs: A 4-D tensor.
    num_outputs, kernel_size, stride, padding, data_format, rate, activation_fn, normalizer_fn,
      normalizer_params, weights_initializer, weights_regularizer, biases_initializer,
      biases_regularizer, reuse, variables_collections, outputs_collections, trainable, scope:
      as tf_slim.conv2d.
    use_weight_standardization: Convolve with the standardized kernel.

  Returns:
    The output tensor.

  Raises:
    ValueError: 'Invalid data_format: ...', a channels-first format with weight
      standardization, or an input whose rank is not 4.
  """
  if data_format not in _DATA_FORMATS:
    raise ValueError('Invalid data_format: %r' % (data_format,))
  if not use_weight_standardization:
    return tf_slim.conv2d(
        inputs, num_outputs, kernel_size, stride=stride, padding=padding,
        data_format=data_format, rate=rate, activation_fn=activation_fn,
        normalizer_fn=normalizer_fn, normalizer_params=normalizer_params,
        weights_initializer=weights_initializer, weights_regularizer=weights_regularizer,
        biases_initializer=biases_initializer, biases_regularizer=biases_regularizer,
        reuse=reuse, variables_collections=variables_collections,
        outputs_collections=outputs_collections, trainable=trainable, scope=scope)
  if data_format and data_format.startswith('NC'):
    raise ValueError('Weight standardization supports channels-last inputs only, got '
                     'data_format=%r' % (data_format,))
  with tf.compat.v1.variable_scope(scope, 'Conv', [inputs], reuse=reuse) as sc:
    inputs = tf.convert_to_tensor(inputs)
    if inputs.get_shape().ndims != 4:
      raise ValueError('Convolution expects input with rank %d, got %d'
                       % (4, inputs.get_shape().ndims))
    kernel_h, kernel_w = tf_slim.utils.two_element_tuple(kernel_size)
    depth_in = tf_slim.utils.last_dimension(inputs.get_shape(), min_rank=4)
    weights = tf_slim.model_variable(
        'weights', shape=[kernel_h, kernel_w, depth_in, num_outputs],
        initializer=weights_initializer, regularizer=weights_regularizer,
        collections=tf_slim.utils.get_variable_collections(variables_collections, 'weights'),
        trainable=trainable)
    outputs = tf.nn.convolution(inputs, standardize_weights(weights), padding=padding,
                                strides=tf_slim.utils.two_element_tuple(stride),
                                dilations=tf_slim.utils.two_element_tuple(rate))
    if normalizer_fn is not None:
      outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    elif biases_initializer is not None:
      biases = tf_slim.model_variable(
          'biases', shape=[num_outputs], initializer=biases_initializer,
          regularizer=biases_regularizer,
          collections=tf_slim.utils.get_variable_collections(variables_collections, 'biases'),
          trainable=trainable)
      outputs = tf.nn.bias_add(outputs, biases)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return tf_slim.utils.collect_named_outputs(outputs_collections, sc.name, outputs)


def conv2d_same(inputs, num_outputs, kernel_size, stride, rate=1, scope=None):
  """`resnet_utils.conv2d_same` (explicit padding when strided) built with `conv2d`.

  Args:
    inputs: A 4-D NHWC tensor.
    num_outputs: Output channels.
    kernel_size: Integer kernel size.
    stride: Integer stride.
    rate: Integer atrous rate.
    scope: Variable scope.

  Returns:
    The output tensor.
  """
  return resnet_utils.conv2d_same(inputs, num_outputs, kernel_size, stride, rate=rate,
                                  scope=scope, conv_fn=conv2d)
