"""MobileBERT modeling: config round trip, released variable names and sizes, NoNorm, QAT rules."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from mobilebert import configs
from mobilebert import modeling

tf1 = tf.compat.v1


def tiny_config(**overrides):
  """2 layers, hidden 32, bottleneck 16, the OPT_QAT layout otherwise."""
  fields = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=32, hidden_act='relu6', hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0, max_position_embeddings=32, type_vocab_size=2,
                embedding_size=16, trigram_input=True, use_bottleneck=True,
                intra_bottleneck_size=16, key_query_shared_bottleneck=True,
                num_feedforward_networks=2, normalization_type='no_norm',
                classifier_activation=False)
  fields.update(overrides)
  return modeling.BertConfig(**fields)


def _build(config, seq=32, **kwargs):
  ids = tf1.placeholder(tf.int32, [1, seq], name='input_ids')
  return modeling.BertModel(config, False, ids, ids, ids, **kwargs)


def _variables():
  return {v.op.name: v.shape.as_list() for v in tf1.global_variables()}


def testFromJsonFile_RoundTrip(tmp_path):
  config = configs.load('mobilebert')
  path = tmp_path / 'c.json'
  path.write_text(config.to_json_string())
  again = modeling.BertConfig.from_json_file(str(path))
  assert again.to_dict() == config.to_dict()
  assert config.embedding_size == 128 and config.intra_bottleneck_size == 128
  assert config.key_query_shared_bottleneck and config.num_feedforward_networks == 4


def testFromJsonFile_BadFilesNamed(tmp_path):
  bad = tmp_path / 'bad.json'
  bad.write_text('{"vocab_size": 3, "hidden_sise": 4}')
  with pytest.raises(ValueError, match=r"bad.json: unknown BertConfig field\(s\) \['hidden_sise'\]"):
    modeling.BertConfig.from_json_file(str(bad))
  bad.write_text('{nope')
  with pytest.raises(ValueError, match='bad.json: not JSON'):
    modeling.BertConfig.from_json_file(str(bad))
  with pytest.raises(ValueError, match='missing.json: cannot read'):
    modeling.BertConfig.from_json_file(str(tmp_path / 'missing.json'))


def testReleasedConfigs_OnlyActivationDiffersForQat():
  opt = configs.load('mobilebert').to_dict()
  qat = configs.load('mobilebert_qat').to_dict()
  assert {k for k in opt if opt[k] != qat[k]} == {'hidden_act'}
  assert qat['hidden_act'] == 'relu6'


@pytest.mark.parametrize('name,num_variables,num_params', [
    # Backbone parameters computed from the released shapes (the paper quotes 25.3M / 15.1M).
    ('mobilebert', 1111, 24581888),
    ('mobilebert_tiny', 727, 15485696),
])
def testReleasedConfig_VariableNamesAndCount(name, num_variables, num_params):
  _build(configs.load(name), seq=8)
  variables = _variables()
  assert len(variables) == num_variables
  assert sum(int(np.prod(s)) for s in variables.values()) == num_params
  assert variables['bert/embeddings/word_embeddings'] == [30522, 128]
  assert variables['bert/embeddings/embedding_transformation/kernel'] == [384, 512]
  assert variables['bert/embeddings/position_embeddings'] == [512, 512]
  assert variables['bert/embeddings/FakeLayerNorm/gamma'] == [512]
  layer = 'bert/encoder/layer_23/'
  assert variables[layer + 'bottleneck/input/dense/kernel'] == [512, 128]
  assert variables[layer + 'attention/self/query/kernel'] == [128, 128]
  assert variables[layer + 'attention/output/FakeLayerNorm/beta'] == [128]
  assert variables[layer + 'ffn_layer_0/intermediate/dense/kernel'] == [128, 512]
  assert variables[layer + 'output/FakeLayerNorm/gamma'] == [128]
  assert variables[layer + 'output/bottleneck/dense/kernel'] == [128, 512]
  assert variables[layer + 'output/bottleneck/FakeLayerNorm/gamma'] == [512]
  assert not any(n.startswith('bert/pooler') for n in variables)
  if name == 'mobilebert':
    assert variables[layer + 'bottleneck/attention/dense/kernel'] == [512, 128]
    assert variables[layer + 'attention/self/value/kernel'] == [512, 128]
    assert layer + 'ffn_layer_2/output/dense/kernel' in variables
  else:
    assert variables[layer + 'attention/self/value/kernel'] == [128, 128]
    assert layer + 'bottleneck/attention/dense/kernel' not in variables
    assert layer + 'ffn_layer_1/output/dense/kernel' not in variables


def testNoNorm_IsElementwiseAffine():
  config = tiny_config()
  model = _build(config)
  del model
  graph = tf1.get_default_graph()
  # The embeddings' NoNorm: output = input * gamma + beta (no statistics).
  norm_out = graph.get_tensor_by_name('bert/embeddings/FakeLayerNorm/add:0')
  norm_in = graph.get_tensor_by_name('bert/embeddings/add_1:0')
  gamma, beta = [v for v in tf1.global_variables()
                 if v.op.name.startswith('bert/embeddings/FakeLayerNorm/')][::-1]
  rng = np.random.RandomState(0)
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    g, b = rng.uniform(0.5, 2, [32]), rng.uniform(-1, 1, [32])
    gamma.load(g, sess)
    beta.load(b, sess)
    x = rng.uniform(-3, 3, [1, 32, 32]).astype(np.float32)
    y = sess.run(norm_out, {norm_in: x, 'input_ids:0': np.zeros([1, 32], np.int32)})
  np.testing.assert_allclose(y, x * g + b, rtol=1e-5, atol=1e-5)


def testBertModel_QatRequiresRelu6AndNoNorm():
  with pytest.raises(ValueError, match='Should use relu6 for activation'):
    _build(tiny_config(hidden_act='relu'), use_quantized_training=True)
  tf1.reset_default_graph()
  with pytest.raises(ValueError, match='Should use no_norm for layer norm'):
    _build(tiny_config(normalization_type='layer_norm'), use_quantized_training=True)


def testBertModel_DenseLayersAreMatMulsAttentionBatchMatMuls():
  _build(tiny_config())
  ops = tf1.get_default_graph().get_operations()
  matmuls = [op for op in ops if op.type == 'MatMul']
  # Per layer: 2 bottlenecks, q/k/v, attention output, 2 FFNs x 2, inverted bottleneck = 11.
  assert len(matmuls) == 1 + 2 * 11
  assert len([op for op in ops if op.type == 'BatchMatMulV2']) == 2 * 2
  assert not [op for op in ops if op.type == 'Einsum']


def testBertModel_SequenceLongerThanPositionsIsAnError():
  with pytest.raises(ValueError, match='sequence length 40 exceeds max_position_embeddings 32'):
    _build(tiny_config(), seq=40)


def testConfigs_UnknownNameListsTheKnownOnes():
  with pytest.raises(ValueError, match="unknown MobileBERT config 'nope'; known: .*mobilebert_qat"):
    configs.load('nope')
  for name in configs.names():
    assert os.path.isfile(configs.path(name))
    json.loads(open(configs.path(name)).read())
