"""The conv units the FPN and the head are made of, and their training scope.

A separable conv here is two slim layers, `<scope>_depthwise` (3x3 depthwise, no bias, no BN)
and `<scope>_pointwise` (1x1), as DeepLab's `split_separable_conv2d`: each is a layer pattern the
QAT rewriter knows (weights_quant on both kernels), where one fused separable_conv2d op pair
would hide the depthwise output from it. A conv followed by batch norm has no bias (the BN's
beta replaces it) so the eval rewrite can fold the BN into the kernel.
"""
import tensorflow as tf
import tf_slim

DEPTHWISE_SUFFIX = '_depthwise'
POINTWISE_SUFFIX = '_pointwise'


def arg_scope(spec, is_training, weight_decay):
  """Training scope of the FPN and head layers: init, L2 on the 1x1 kernels, BN constants."""
  batch_norm_params = dict(decay=spec.bn_decay, epsilon=spec.bn_epsilon, scale=True,
                           center=True, is_training=is_training, fused=True)
  with tf_slim.arg_scope(
      [tf_slim.conv2d, tf_slim.separable_conv2d],
      weights_initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.03),
      activation_fn=None, normalizer_fn=None, padding='SAME'):
    with tf_slim.arg_scope([tf_slim.conv2d],
                           weights_regularizer=tf_slim.l2_regularizer(weight_decay)):
      with tf_slim.arg_scope([tf_slim.batch_norm], **batch_norm_params) as scope:
        return scope


def separable_conv(net, filters, kernel_size, scope, stride=1, biases_initializer=None,
                   pointwise_initializer=None):
  """Depthwise kernel_size x kernel_size (no bias) then pointwise 1x1 to `filters`.

  Args:
    net: input [N, H, W, C].
    filters: output channels.
    kernel_size: depthwise kernel side.
    scope: variable scope prefix (`<scope>_depthwise`, `<scope>_pointwise`); reused when the
      enclosing variable scope reuses.
    stride: depthwise stride.
    biases_initializer: the pointwise bias (None: no bias, a BN follows).
    pointwise_initializer: the pointwise kernel initializer (None: the scope's).

  Returns:
    The pointwise output (linear).
  """
  net = tf_slim.separable_conv2d(net, None, kernel_size, depth_multiplier=1, stride=stride,
                                 biases_initializer=None, scope=scope + DEPTHWISE_SUFFIX)
  kwargs = {} if pointwise_initializer is None else {'weights_initializer': pointwise_initializer}
  return tf_slim.conv2d(net, filters, 1, biases_initializer=biases_initializer,
                        scope=scope + POINTWISE_SUFFIX, **kwargs)


def conv(net, filters, kernel_size, scope, separable, stride=1, biases_initializer=None,
         pointwise_initializer=None):
  """A separable (see `separable_conv`) or plain conv, linear, bias only when asked."""
  if separable:
    return separable_conv(net, filters, kernel_size, scope, stride, biases_initializer,
                          pointwise_initializer)
  kwargs = {} if pointwise_initializer is None else {'weights_initializer': pointwise_initializer}
  return tf_slim.conv2d(net, filters, kernel_size, stride=stride,
                        biases_initializer=biases_initializer, scope=scope, **kwargs)
