"""MobileBERT (google-research `mobilebert/modeling.py`) in TF1 graph mode on TF 2.21.

`BertConfig` reads the released JSON configs (`mobilebert/config/`); `BertModel` builds the
encoder under the original variable names, so a released checkpoint restores by name:

  bert/embeddings/word_embeddings                       [vocab, embedding_size]
  bert/embeddings/embedding_transformation/{kernel,bias} (trigram: [3*embedding_size, hidden])
  bert/embeddings/{token_type,position}_embeddings, bert/embeddings/FakeLayerNorm/{beta,gamma}
  bert/encoder/layer_N/bottleneck/input/dense + FakeLayerNorm      (use_bottleneck)
  bert/encoder/layer_N/bottleneck/attention/dense + FakeLayerNorm  (key_query_shared_bottleneck)
  bert/encoder/layer_N/attention/self/{query,key,value}, attention/output/dense + FakeLayerNorm
  bert/encoder/layer_N/ffn_layer_K/{intermediate,output}/dense (+ output/FakeLayerNorm), K < F-1
  bert/encoder/layer_N/{intermediate,output}/dense, output/FakeLayerNorm, output/bottleneck/...
  bert/pooler/dense                                                (classifier_activation)

Every dense layer is a 2-D `MatMul` over [batch * seq, width] (the original's `use_einsum=False`
form), which TFLite converts to FULLY_CONNECTED; the two attention products are `BatchMatMulV2`
(BATCH_MATMUL). Kernels keep the original 2-D shapes either way.

`use_quantized_training=True` inserts the original hand-placed fake-quant units (see
`hand_quantize`); it requires `hidden_act: relu6` and `normalization_type: no_norm`, as the
original does. The alternative is to build the float graph and rewrite it with `slim.quantize`.

  config = BertConfig.from_json_file('mobilebert/config/uncased_L-24_H-128_B-512_A-4_F-4_OPT.json')
  model = BertModel(config, is_training=False, input_ids=ids, input_mask=mask,
                    token_type_ids=segment_ids)
  sequence_output = model.get_sequence_output()       # [batch, seq, hidden_size]
"""
import copy
import json
import math

import tensorflow as tf

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from mobilebert import hand_quantize

tf1 = tf.compat.v1

NO_NORM = 'no_norm'
LAYER_NORM = 'layer_norm'
NORMALIZATION_TYPES = (NO_NORM, LAYER_NORM)
# Scope of NoNorm's parameters (the original name: checkpoints depend on it).
NO_NORM_SCOPE = 'FakeLayerNorm'


def gelu(x):
  """The tanh approximation of GELU (the original's `gelu`)."""
  cdf = 0.5 * (1.0 + tf.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * tf.pow(x, 3))))
  return x * cdf


ACTIVATIONS = {'linear': None, 'relu': tf.nn.relu, 'relu6': tf.nn.relu6, 'gelu': gelu,
               'tanh': tf.tanh}


class BertConfig(object):
  """Configuration of `BertModel`: the fields of the released MobileBERT JSON configs.

  Attributes (the original's): vocab_size, hidden_size (inter-block width), num_hidden_layers,
  num_attention_heads, intermediate_size, hidden_act, hidden_dropout_prob,
  attention_probs_dropout_prob, max_position_embeddings, type_vocab_size, initializer_range,
  embedding_size, trigram_input, use_bottleneck, intra_bottleneck_size, use_bottleneck_attention,
  key_query_shared_bottleneck, num_feedforward_networks, normalization_type
  ('no_norm' | 'layer_norm'), classifier_activation (tanh pooler).
  """

  def __init__(self, vocab_size, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
               intermediate_size=3072, hidden_act='gelu', hidden_dropout_prob=0.1,
               attention_probs_dropout_prob=0.1, max_position_embeddings=512,
               type_vocab_size=16, initializer_range=0.02, embedding_size=None,
               trigram_input=False, use_bottleneck=False, intra_bottleneck_size=None,
               use_bottleneck_attention=False, key_query_shared_bottleneck=False,
               num_feedforward_networks=1, normalization_type=LAYER_NORM,
               classifier_activation=True):
    self.vocab_size = vocab_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_attention_heads = num_attention_heads
    self.hidden_act = hidden_act
    self.intermediate_size = intermediate_size
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range
    self.embedding_size = embedding_size if embedding_size is not None else hidden_size
    self.trigram_input = trigram_input
    self.use_bottleneck = use_bottleneck
    self.intra_bottleneck_size = (intra_bottleneck_size if intra_bottleneck_size is not None
                                  else hidden_size)
    self.use_bottleneck_attention = use_bottleneck_attention
    self.key_query_shared_bottleneck = key_query_shared_bottleneck
    self.num_feedforward_networks = num_feedforward_networks
    self.normalization_type = normalization_type
    self.classifier_activation = classifier_activation

  @classmethod
  def from_dict(cls, json_object, source='config'):
    """Builds a config from a dict of the JSON fields.

    Raises:
      ValueError: an unknown field or a missing `vocab_size` (named with `source`).
    """
    known = set(cls(vocab_size=None).__dict__)
    unknown = sorted(set(json_object) - known)
    if unknown:
      raise ValueError('%s: unknown BertConfig field(s) %s; expected some of %s'
                       % (source, unknown, sorted(known)))
    if 'vocab_size' not in json_object:
      raise ValueError('%s: missing the field vocab_size' % source)
    return cls(**json_object)

  @classmethod
  def from_json_file(cls, json_file):
    """Builds a config from a JSON file (errors name the file)."""
    try:
      with tf.io.gfile.GFile(json_file, 'r') as f:
        fields = json.loads(f.read())
    except (OSError, tf.errors.OpError) as e:
      raise ValueError('BERT config %s: cannot read (%s)' % (json_file, e)) from None
    except json.JSONDecodeError as e:
      raise ValueError('BERT config %s: not JSON (%s)' % (json_file, e)) from None
    if not isinstance(fields, dict):
      raise ValueError('BERT config %s: expected a JSON object' % json_file)
    return cls.from_dict(fields, source='BERT config %s' % json_file)

  def to_dict(self):
    return copy.deepcopy(self.__dict__)

  def to_json_string(self):
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + '\n'


def get_activation(name):
  """Maps an activation name ('relu', 'relu6', 'gelu', 'tanh', 'linear') to a function."""
  if not isinstance(name, str):
    return name
  key = (name or 'linear').lower()
  if key not in ACTIVATIONS:
    raise ValueError('Unsupported activation: %s (expected one of %s)'
                     % (name, sorted(ACTIVATIONS)))
  return ACTIVATIONS[key]


def create_initializer(initializer_range=0.02):
  return tf1.truncated_normal_initializer(stddev=initializer_range)


def _static_shape(tensor):
  shape = tensor.shape.as_list()
  dynamic = tf.shape(tensor)
  return [d if d is not None else dynamic[i] for i, d in enumerate(shape)]


class _Builder(object):
  """Builds the layers of one model; holds what every layer needs (QAT placement, training)."""

  def __init__(self, config, is_training, use_quantized_training):
    self.config = config
    self.is_training = is_training
    self.quant = hand_quantize.Placement(use_quantized_training, is_training)

  def without_quantization(self):
    """The same builder with no hand-placed units (the original leaves the embeddings float)."""
    return _Builder(self.config, self.is_training, False)

  def dense(self, x, output_size, activation=None, name='dense'):
    """y = act(x @ kernel + bias) over the last axis, as a 2-D MatMul (TFLite FULLY_CONNECTED)."""
    shape = _static_shape(x)
    width = x.shape.as_list()[-1]
    with tf1.variable_scope(name):
      x = self.quant.activation(x)
      kernel = tf1.get_variable('kernel', [width, output_size],
                                initializer=create_initializer(self.config.initializer_range))
      kernel = self.quant.weight(kernel)
      bias = tf1.get_variable('bias', [output_size], initializer=tf1.zeros_initializer())
      flat = tf.reshape(x, [-1, width]) if len(shape) != 2 else x
      y = tf.matmul(flat, kernel) + bias
      if len(shape) != 2:
        y = tf.reshape(y, shape[:-1] + [output_size])
    return activation(y) if activation is not None else y

  def norm(self, x, name=None):
    """NoNorm (gamma * x + beta, no statistics) or LayerNorm over the last axis."""
    kind = self.config.normalization_type
    width = x.shape.as_list()[-1]
    quant = self.quant
    if kind == NO_NORM:
      x = quant.activation(x)
      with tf1.variable_scope(name or NO_NORM_SCOPE):
        beta = quant.activation(tf1.get_variable('beta', [width],
                                                 initializer=tf1.zeros_initializer()))
        gamma = quant.activation(tf1.get_variable('gamma', [width],
                                                  initializer=tf1.ones_initializer()))
        return quant.activation(x * gamma) + beta
    if kind == LAYER_NORM:
      with tf1.variable_scope(name or 'LayerNorm'):
        beta = tf1.get_variable('beta', [width], initializer=tf1.zeros_initializer())
        gamma = tf1.get_variable('gamma', [width], initializer=tf1.ones_initializer())
        mean, variance = tf.nn.moments(x, [-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + 1e-12) * gamma + beta
    raise ValueError('Unsupported normalization_type: %s (expected one of %s)'
                     % (kind, list(NORMALIZATION_TYPES)))

  def dropout(self, x, rate):
    if not self.is_training or not rate:
      return x
    return tf.nn.dropout(x, rate=rate)


def _embeddings(b, input_ids, token_type_ids):
  """Word (trigram) embeddings -> dense to hidden_size, + token type + position, NoNorm."""
  # The original passes no QAT switch to the embedding layers: they get no hand-placed unit.
  b = b.without_quantization()
  c = b.config
  seq_length = input_ids.shape.as_list()[1]
  table = tf1.get_variable('word_embeddings', [c.vocab_size, c.embedding_size],
                           initializer=create_initializer(c.initializer_range))
  words = tf.nn.embedding_lookup(table, input_ids)
  if c.trigram_input:
    # [next token, token, previous token], zero beyond the ends (the original's order).
    words = tf.concat([tf.pad(words[:, 1:], [[0, 0], [0, 1], [0, 0]]), words,
                       tf.pad(words[:, :-1], [[0, 0], [1, 0], [0, 0]])], axis=2)
  output = words
  if c.trigram_input or c.embedding_size != c.hidden_size:
    output = b.dense(words, c.hidden_size, name='embedding_transformation')
  token_table = tf1.get_variable('token_type_embeddings', [c.type_vocab_size, c.hidden_size],
                                 initializer=create_initializer(c.initializer_range))
  output += tf.nn.embedding_lookup(token_table, token_type_ids)
  if seq_length is not None and seq_length > c.max_position_embeddings:
    raise ValueError('sequence length %d exceeds max_position_embeddings %d'
                     % (seq_length, c.max_position_embeddings))
  positions = tf1.get_variable('position_embeddings', [c.max_position_embeddings, c.hidden_size],
                               initializer=create_initializer(c.initializer_range))
  output += tf.expand_dims(positions[:seq_length], 0)
  output = b.norm(output)
  return b.dropout(output, c.hidden_dropout_prob), table


def _attention(b, query_input, key_input, value_input, mask_scores, head_size):
  """Multi-head self-attention; returns the context [batch, seq, heads * head_size]."""
  c = b.config
  heads = c.num_attention_heads
  batch_seq = _static_shape(query_input)[:2]

  def project(x, name):
    y = b.dense(x, heads * head_size, name=name)
    # [B, S, N*H] -> [B, N, S, H]
    return tf.transpose(tf.reshape(y, batch_seq + [heads, head_size]), [0, 2, 1, 3])

  query = project(query_input, 'query')
  key = project(key_input, 'key')
  value = project(value_input, 'value')
  scores = b.quant.activation(tf.matmul(query, key, transpose_b=True))
  scores = tf.multiply(scores, 1.0 / math.sqrt(float(head_size)))
  # The original's quantization-friendly mask: masked scores become exactly -6 (e^-6 ~ 0.002)
  # instead of -10000, keeping the scores' range small.
  scores = b.quant.activation(scores * mask_scores[0])
  scores = b.quant.activation(scores + mask_scores[1])
  if b.quant.enabled:
    scores = tf.clip_by_value(scores, -6.0, 60.0)
  probs = b.dropout(tf.nn.softmax(scores), c.attention_probs_dropout_prob)
  context = b.quant.activation(tf.matmul(probs, value))
  context = tf.transpose(context, [0, 2, 1, 3])
  return tf.reshape(context, batch_seq + [heads * head_size])


def attention_head_size(config):
  """The size of one attention head (of the bottleneck width when `use_bottleneck`)."""
  inner = config.intra_bottleneck_size if config.use_bottleneck else config.hidden_size
  return inner // config.num_attention_heads


def _layer(b, prev_output, mask_scores):
  """One MobileBERT block: bottlenecks, attention, stacked FFNs, inverted bottleneck."""
  c = b.config
  act = get_activation(c.hidden_act)
  inner = c.intra_bottleneck_size if c.use_bottleneck else c.hidden_size
  head_size = attention_head_size(c)
  layer_input = query = key = value = prev_output
  if c.use_bottleneck:
    with tf1.variable_scope('bottleneck'):
      with tf1.variable_scope('input'):
        layer_input = b.norm(b.dense(prev_output, inner))
      if c.use_bottleneck_attention:
        query = key = value = layer_input
      elif c.key_query_shared_bottleneck:
        with tf1.variable_scope('attention'):
          query = key = b.norm(b.dense(prev_output, inner))
  with tf1.variable_scope('attention'):
    with tf1.variable_scope('self'):
      context = _attention(b, query, key, value, mask_scores, head_size)
    with tf1.variable_scope('output'):
      attention_output = b.dense(context, inner)
      if not c.use_bottleneck:
        attention_output = b.dropout(attention_output, c.hidden_dropout_prob)
      layer_input = b.norm(attention_output + layer_input)
  for k in range(c.num_feedforward_networks - 1):
    with tf1.variable_scope('ffn_layer_%d' % k):
      layer_input = _ffn(b, layer_input, inner, act)
  with tf1.variable_scope('intermediate'):
    intermediate = b.dense(layer_input, c.intermediate_size, act)
  with tf1.variable_scope('output'):
    output = b.dense(intermediate, inner)
    if not c.use_bottleneck:
      return b.norm(b.dropout(output, c.hidden_dropout_prob) + layer_input)
    output = b.norm(output + layer_input)
    with tf1.variable_scope('bottleneck'):
      output = b.dropout(b.dense(output, c.hidden_size), c.hidden_dropout_prob)
      return b.norm(output + prev_output)


def _ffn(b, layer_input, inner, act):
  """One of the stacked FFNs before the last (no dropout, as the original)."""
  with tf1.variable_scope('intermediate'):
    intermediate = b.dense(layer_input, b.config.intermediate_size, act)
  with tf1.variable_scope('output'):
    return b.norm(b.dense(intermediate, inner) + layer_input)


class BertModel(object):
  """The MobileBERT encoder (see the module docstring for the variable layout).

  Args:
    config: a `BertConfig`.
    is_training: dropout on, and (QAT) ranges learned rather than read.
    input_ids: int32 [batch, seq].
    input_mask: int32/float [batch, seq] (1 = token, 0 = padding); all ones if None.
    token_type_ids: int32 [batch, seq]; all zeros if None.
    use_quantized_training: insert the original hand-placed fake-quant units.
    scope: variable scope (default 'bert').

  Raises:
    ValueError: an invalid config, or QAT without relu6 and no_norm (the original's rule).
  """

  def __init__(self, config, is_training, input_ids, input_mask=None, token_type_ids=None,
               use_quantized_training=False, scope=None):
    config = copy.deepcopy(config)
    if not is_training:
      config.hidden_dropout_prob = 0.0
      config.attention_probs_dropout_prob = 0.0
    if use_quantized_training:
      if get_activation(config.hidden_act) is not tf.nn.relu6:
        raise ValueError('Should use relu6 for activation (use_quantized_training needs '
                         'hidden_act "relu6", got %r)' % config.hidden_act)
      if config.normalization_type != NO_NORM:
        raise ValueError('Should use no_norm for layer norm (use_quantized_training needs '
                         'normalization_type "no_norm", got %r)' % config.normalization_type)
    inner = config.intra_bottleneck_size if config.use_bottleneck else config.hidden_size
    if inner % config.num_attention_heads:
      raise ValueError('The attention width (%d) is not a multiple of the number of attention '
                       'heads (%d)' % (inner, config.num_attention_heads))
    if input_ids.shape.ndims != 2:
      raise ValueError('input_ids must be [batch, seq], got shape %s' % input_ids.shape)
    if input_mask is None:
      input_mask = tf.ones_like(input_ids)
    if token_type_ids is None:
      token_type_ids = tf.zeros_like(input_ids)
    builder = _Builder(config, is_training, use_quantized_training)
    with tf1.variable_scope(scope, default_name='bert'):
      with tf1.variable_scope('embeddings'):
        self.embedding_output, self.embedding_table = _embeddings(
            builder, input_ids, token_type_ids)
      with tf1.variable_scope('encoder'):
        # [B, 1, 1, T]: multiply by the mask, then add -6 where masked.
        # Reshaped before the cast: in an int8 model the only float ops are then the cast and
        # its quantization (nothing between them).
        mask = tf.cast(input_mask[:, None, None, :], tf.float32)
        mask_scores = (mask, (1.0 - mask) * -6.0)
        self.all_encoder_layers = [self.embedding_output]
        output = self.embedding_output
        for i in range(config.num_hidden_layers):
          with tf1.variable_scope('layer_%d' % i):
            output = _layer(builder, output, mask_scores)
          self.all_encoder_layers.append(output)
      self.sequence_output = output
      with tf1.variable_scope('pooler'):
        first = self.sequence_output[:, 0]
        self.pooled_output = (builder.dense(first, config.hidden_size, tf.tanh)
                              if config.classifier_activation else first)

  def get_sequence_output(self):
    """[batch, seq, hidden_size]: the last encoder layer."""
    return self.sequence_output

  def get_pooled_output(self):
    return self.pooled_output

  def get_all_encoder_layers(self):
    return self.all_encoder_layers

  def get_embedding_output(self):
    return self.embedding_output

  def get_embedding_table(self):
    return self.embedding_table
