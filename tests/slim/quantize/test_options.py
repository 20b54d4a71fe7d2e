"""QuantizeOptions: defaults, normalisation and the validation messages."""
import dataclasses

import pytest
import tensorflow as tf

import slim.quantize as contrib_quantize
from slim.quantize import options as options_lib
from slim.quantize import quant_ops
from slim.quantize.options import QuantizeOptions


def testDefaults_AreTheContribDefaults():
  options = QuantizeOptions(is_training=True)
  assert (options.weight_bits, options.activation_bits, options.symmetric) == (8, 8, False)
  assert options.ema_decay == options_lib.DEFAULT_EMA_DECAY == 0.999
  assert (options.quant_delay, options.freeze_bn_delay, options.scope) == (None, None, None)
  assert options.vars_collection == tf.compat.v1.GraphKeys.GLOBAL_VARIABLES
  assert (options.per_channel, options.exclude_scopes, options.full_coverage) == (False, (), True)


def testExport_IsTheOptionsClass():
  assert contrib_quantize.QuantizeOptions is QuantizeOptions


def testQuantOpsDefaultDecay_IsTheSharedConstant():
  defaults = quant_ops.MovingAvgQuantize.__defaults__
  names = quant_ops.MovingAvgQuantize.__code__.co_varnames[1:1 + len(defaults)]
  assert dict(zip(names, defaults))['ema_decay'] == options_lib.DEFAULT_EMA_DECAY


@pytest.mark.parametrize('scope,expected', [
    ('MobilenetV2', 'MobilenetV2/'), ('MobilenetV2/', 'MobilenetV2/'), ('', None), (None, None)])
def testScope_NormalisedToTrailingSlash(scope, expected):
  assert QuantizeOptions(is_training=False, scope=scope).scope == expected


def testExcludeScopes_StoredAsTuple():
  options = QuantizeOptions(is_training=False, exclude_scopes=['head/', 'aux'])
  assert options.exclude_scopes == ('head/', 'aux')
  assert QuantizeOptions(is_training=False, exclude_scopes=None).exclude_scopes == ()
  assert options.excludes('head/conv/Conv2D') and options.excludes('aux_logits')
  assert not options.excludes('body/head/Conv2D')


def testInScope_WholeGraphWithoutScope():
  assert QuantizeOptions(is_training=False).in_scope('anything')
  scoped = QuantizeOptions(is_training=False, scope='a')
  assert scoped.in_scope('a/Conv2D') and not scoped.in_scope('ab/Conv2D')


def testFrozen_AssignmentRaises():
  options = QuantizeOptions(is_training=True)
  with pytest.raises(dataclasses.FrozenInstanceError):
    options.weight_bits = 4


def testReplace_ValidatesAndNormalisesAgain():
  options = QuantizeOptions(is_training=True).replace(scope='a', per_channel=True)
  assert (options.scope, options.per_channel, options.is_training) == ('a/', True, True)
  with pytest.raises(ValueError, match=r'^QuantizeOptions\.weight_bits must be an integer in '
                     r'\[2, 16\], got 17$'):
    options.replace(weight_bits=17)


@pytest.mark.parametrize('field,value,message', [
    ('weight_bits', 1, 'weight_bits must be an integer in [2, 16], got 1'),
    ('activation_bits', 17, 'activation_bits must be an integer in [2, 16], got 17'),
    ('weight_bits', 8.0, 'weight_bits must be an integer in [2, 16], got 8.0'),
    ('activation_bits', True, 'activation_bits must be an integer in [2, 16], got True'),
    ('ema_decay', 1.0, 'ema_decay must be a number in [0, 1), got 1.0'),
    ('ema_decay', -0.1, 'ema_decay must be a number in [0, 1), got -0.1'),
    ('ema_decay', float('nan'), 'ema_decay must be a number in [0, 1), got nan'),
    ('quant_delay', '2000', "quant_delay must be None or a step count, got '2000'"),
    ('freeze_bn_delay', float('inf'), 'freeze_bn_delay must be None or a step count, got inf'),
    ('symmetric', 'yes', "symmetric must be True or False, got 'yes'"),
    ('per_channel', None, 'per_channel must be True or False, got None'),
    ('full_coverage', 'no', "full_coverage must be True or False, got 'no'"),
    ('vars_collection', '', "vars_collection must be a collection name, got ''"),
    ('scope', 3, 'scope must be None or a name scope string, got 3'),
    ('exclude_scopes', 'head/',
     "exclude_scopes must be a sequence of op-name prefixes, e.g. ('head/',), got 'head/'"),
    ('exclude_scopes', 5, 'exclude_scopes must be a sequence of op-name prefixes, got 5'),
    ('exclude_scopes', ('head/', ''),
     "exclude_scopes must be non-empty op-name prefix strings (found ''), got ('head/', '')"),
])
def testInvalidValue_OneClearError(field, value, message):
  with pytest.raises(ValueError) as info:
    QuantizeOptions(is_training=True, **{field: value})
  assert str(info.value) == 'QuantizeOptions.' + message


def testIsTraining_Required():
  with pytest.raises(TypeError, match='is_training'):
    QuantizeOptions()  # pylint: disable=no-value-for-parameter
  with pytest.raises(ValueError, match=r"^QuantizeOptions\.is_training must be True or False, "
                     r"got 'train'$"):
    QuantizeOptions(is_training='train')


def testNegativeQuantDelay_AcceptedAsNoDelay():
  # tf.contrib.quantize treated a delay <= 0 as none; DeepLab passes its flag through.
  assert QuantizeOptions(is_training=True, quant_delay=-1).quant_delay == -1


def testPublicApi_BadBitsRaiseBeforeTouchingTheGraph():
  tf_graph = tf.compat.v1.get_default_graph()
  x = tf.compat.v1.placeholder(tf.float32, [1, 4, 4, 3])
  tf.nn.relu(x)
  n_ops = len(tf_graph.get_operations())
  with pytest.raises(ValueError, match=r'^QuantizeOptions\.weight_bits must be an integer in '
                     r'\[2, 16\], got 32$'):
    contrib_quantize.experimental_create_training_graph(weight_bits=32)
  assert len(tf_graph.get_operations()) == n_ops
