"""MobileBERT for SQuAD span extraction: the QA head, the loss, and the two QAT placements.

The head is the original `run_squad.create_model`'s: one [2, hidden] projection
(`cls/squad/output_weights`, `cls/squad/output_bias`) of every token's final hidden state into
a start and an end logit.

Quantization (`quantizer`):
  none      the float model;
  hand      the original `--use_quantized_training` placement (`mobilebert.hand_quantize`,
            units built with the model, names `.../MobileBert{Act,Weight}FakeQuantWithMinMaxVars`);
  rewriter  the float model rewritten by `slim.quantize` (contrib.quantize-style, full coverage:
            every MatMul, BatchMatMul, NoNorm multiply/add, residual add, embedding gather and
            the softmax get a range; names `.../weights_quant`, `.../output_quant`, ...).
"""
import tensorflow as tf

import slim.quantize as contrib_quantize
from mobilebert import attention_ranges
from mobilebert import hand_quantize
from mobilebert import modeling
from slim.quantize import common
from slim.quantize import quantize

tf1 = tf.compat.v1

QUANTIZERS = ('none', 'hand', 'rewriter')
# Export names (the original SavedModel's signature).
START_LOGITS = 'start_logits'
END_LOGITS = 'end_logits'
OUTPUT_NAMES = (START_LOGITS, END_LOGITS)
HEAD_SCOPE = 'cls/squad'


def create_model(config, is_training, input_ids, input_mask, segment_ids, quantizer='none'):
  """Builds MobileBERT and the span head; returns (start_logits, end_logits), [batch, seq].

  The rewriter placement is NOT applied here (it rewrites the finished graph: see
  `quantize_graph`).

  Raises:
    ValueError: unknown quantizer, or the model's own config errors.
  """
  if quantizer not in QUANTIZERS:
    raise ValueError('--quantizer=%s: expected one of %s' % (quantizer, ', '.join(QUANTIZERS)))
  model = modeling.BertModel(config, is_training, input_ids, input_mask, segment_ids,
                             use_quantized_training=quantizer == 'hand')
  hidden = model.get_sequence_output()
  width = hidden.shape.as_list()[-1]
  seq_length = input_ids.shape.as_list()[1]
  weights = tf1.get_variable(HEAD_SCOPE + '/output_weights', [2, width],
                             initializer=modeling.create_initializer(config.initializer_range))
  bias = tf1.get_variable(HEAD_SCOPE + '/output_bias', [2], initializer=tf1.zeros_initializer())
  logits = tf.matmul(tf.reshape(hidden, [-1, width]), weights, transpose_b=True) + bias
  logits = tf.transpose(tf.reshape(logits, [-1, seq_length, 2]), [2, 0, 1])
  # Two slices rather than the original's tf.unstack: a slice keeps its input's range, so the
  # int8 model needs no float UNPACK (values are the same).
  start, end = logits[0], logits[1]
  return tf.identity(start, name=START_LOGITS), tf.identity(end, name=END_LOGITS)


def span_loss(start_logits, end_logits, start_positions, end_positions):
  """Mean of the start and end cross-entropies (the original's loss)."""
  def one(logits, positions):
    return tf.reduce_mean(tf1.nn.sparse_softmax_cross_entropy_with_logits(
        labels=positions, logits=logits))
  loss = (one(start_logits, start_positions) + one(end_logits, end_positions)) / 2.0
  tf1.losses.add_loss(loss)
  return loss


def quantize_graph(quantizer, is_training, config, score_floor=attention_ranges.SCORE_FLOOR,
                   graph=None):
  """Applies the `slim.quantize` rewrite when `quantizer == 'rewriter'` (no-op otherwise).

  Weights get symmetric per-tensor ranges (TFLite's int8 kernels need zero point 0), like the
  original's weight units; activations asymmetric EMA ranges, those of the attention scores
  floored at `score_floor` (scaled logits; 0: not floored), see `mobilebert.attention_ranges`.

  Args:
    quantizer: one of QUANTIZERS.
    is_training: the training rewrite (ranges learned) or the eval one (ranges read).
    config: the model's `BertConfig` (its attention head size).
    score_floor: the attention scores' lowest kept value, < 0; 0 keeps plain EMA ranges.
    graph: the graph to rewrite (default graph if None).

  Raises:
    ValueError: `score_floor` > 0.
  """
  if quantizer != 'rewriter':
    return
  scheme = attention_ranges.scheme(modeling.attention_head_size(config), score_floor) if (
      score_floor) else None
  if is_training:
    contrib_quantize.experimental_create_training_graph(graph, symmetric=True, quant_delay=0,
                                                        scheme=scheme)
  else:
    contrib_quantize.experimental_create_eval_graph(graph, symmetric=True, scheme=scheme)


def expected_missing_in_float_checkpoint(name):
  """Whether `name` is a QAT range variable (min/max and their EMA debias state), which a float
  checkpoint lacks when QAT fine-tunes from it."""
  return (name == common.QUANTIZATION_STEP_NAME or quantize.UNIT_NAME_SUFFIX + '/' in name or
          hand_quantize.ACT_PREFIX in name or hand_quantize.WEIGHT_PREFIX in name)
