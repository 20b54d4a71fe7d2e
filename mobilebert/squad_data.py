"""SQuAD v1.1 for span extraction: read the JSON, make fixed-length features, decode answers.

The feature layout is the original `run_squad.py`'s: `[CLS] question [SEP] passage-window
[SEP]`, `segment_ids` 0 for the question part and 1 for the window, passages longer than
the window split into windows `doc_stride` tokens apart, and a training answer outside a window
labelled at [CLS] (position 0). Decoding keeps, per question, the best-scoring
start <= end span of at most `max_answer_length` tokens whose tokens lie in the passage and
have their maximum context in that window, and returns the passage's original characters.
"""
import collections
import json
import os

import numpy as np

# Feature arrays, in the exported model's input order (the original SavedModel's names).
INPUT_NAMES = ('input_ids', 'input_mask', 'segment_ids')

Example = collections.namedtuple('Example', 'qid question context answers answer_start')
Feature = collections.namedtuple(
    'Feature', 'example_index input_ids input_mask segment_ids start_position end_position '
    'token_offsets max_context')


def _fail(path, where, what):
  raise ValueError('SQuAD file %s: %s: %s' % (path, where, what))


def read_squad_examples(path, is_training):
  """Reads a SQuAD v1.1 JSON file.

  Args:
    path: the JSON file.
    is_training: each question must have an answer whose `answer_start` locates its text
      in the context (the first answer is the training label).

  Returns:
    A list of `Example`s (answers: every ground-truth text; answer_start of the first).

  Raises:
    ValueError: naming the file and the question, for unreadable JSON, a missing field or
      an answer that is not where `answer_start` says.
  """
  if not os.path.isfile(path):
    raise ValueError('SQuAD file %s: file not found' % path)
  try:
    with open(path, encoding='utf-8') as f:
      root = json.load(f)
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ValueError('SQuAD file %s: not JSON (%s)' % (path, e)) from None
  if not isinstance(root, dict) or not isinstance(root.get('data'), list):
    _fail(path, 'top level', 'expected an object with a "data" list (SQuAD v1.1 schema)')
  examples = []
  for a, article in enumerate(root['data']):
    for p, paragraph in enumerate(article.get('paragraphs', [])):
      where = 'data[%d].paragraphs[%d]' % (a, p)
      context = paragraph.get('context')
      if not isinstance(context, str) or not isinstance(paragraph.get('qas'), list):
        _fail(path, where, 'expected "context" (a string) and "qas" (a list)')
      for qa in paragraph['qas']:
        qid = qa.get('id')
        if not isinstance(qid, str) or not isinstance(qa.get('question'), str):
          _fail(path, where, 'a question lacks "id" or "question"')
        answers = qa.get('answers', [])
        texts = [ans.get('text') for ans in answers]
        if is_training and not answers:
          _fail(path, 'question %s' % qid, 'no answer (training needs one)')
        if any(not isinstance(t, str) for t in texts):
          _fail(path, 'question %s' % qid, 'an answer lacks "text"')
        start = answers[0].get('answer_start') if answers else None
        if is_training:
          if not isinstance(start, int) or context[start:start + len(texts[0])] != texts[0]:
            _fail(path, 'question %s' % qid, 'answer %r is not at answer_start=%r of the '
                  'context' % (texts[0], start))
        examples.append(Example(qid, qa['question'], context, texts, start))
  if not examples:
    _fail(path, 'data', 'no question found')
  return examples


def _window_starts(num_tokens, window, stride):
  starts = [0]
  while starts[-1] + window < num_tokens:
    starts.append(starts[-1] + min(stride, window))
  return starts


def _max_context(starts, window, num_tokens):
  """For each window, a bool per token: this window gives the token its most context."""
  best = {}
  for w, start in enumerate(starts):
    for i in range(start, min(start + window, num_tokens)):
      end = min(start + window, num_tokens) - 1
      score = min(i - start, end - i) + 0.01 * window
      if i not in best or score > best[i][0]:
        best[i] = (score, w)
  return [[best[i][1] == w for i in range(start, min(start + window, num_tokens))]
          for w, start in enumerate(starts)]


def convert_examples_to_features(examples, tokenizer, max_seq_length, doc_stride,
                                 max_query_length, is_training):
  """Returns the `Feature`s of `examples` (one or more windows each).

  Raises:
    ValueError: a sequence too short for the question and some passage.
  """
  features = []
  for index, example in enumerate(examples):
    query_ids, _ = tokenizer.encode(example.question)
    query_ids = query_ids[:max_query_length]
    doc_ids, doc_offsets = tokenizer.encode(example.context)
    window = max_seq_length - len(query_ids) - 3
    if window < 1:
      raise ValueError('--max_seq_length=%d leaves no room for the passage after a %d-token '
                       'question (--max_query_length=%d)'
                       % (max_seq_length, len(query_ids), max_query_length))
    answer_tokens = None
    if is_training:
      char_start = example.answer_start
      char_end = char_start + len(example.answers[0])
      inside = [i for i, (s, e) in enumerate(doc_offsets) if s < char_end and e > char_start]
      if inside:
        answer_tokens = (inside[0], inside[-1])
    starts = _window_starts(len(doc_ids), window, doc_stride)
    contexts = _max_context(starts, window, len(doc_ids))
    for start, max_context in zip(starts, contexts):
      piece = doc_ids[start:start + window]
      ids = [tokenizer.cls_id] + query_ids + [tokenizer.sep_id] + piece + [tokenizer.sep_id]
      segment = [0] * (len(query_ids) + 2) + [1] * (len(piece) + 1)
      doc_begin = len(query_ids) + 2
      # Token position -> character span in the context (None outside the passage).
      offsets = [None] * doc_begin + doc_offsets[start:start + window] + [None]
      is_max = [False] * doc_begin + max_context + [False]
      pad = max_seq_length - len(ids)
      start_position = end_position = 0
      if answer_tokens and start <= answer_tokens[0] and answer_tokens[1] < start + window:
        start_position = answer_tokens[0] - start + doc_begin
        end_position = answer_tokens[1] - start + doc_begin
      features.append(Feature(
          index, ids + [tokenizer.pad_id] * pad, [1] * len(ids) + [0] * pad, segment + [0] * pad,
          start_position, end_position, offsets + [None] * pad, is_max + [False] * pad))
  return features


def feature_arrays(features):
  """{name: int32 array [num_features, max_seq_length]} of the model inputs and labels."""
  arrays = {name: np.array([getattr(f, name) for f in features], np.int32)
            for name in INPUT_NAMES}
  arrays['start_positions'] = np.array([f.start_position for f in features], np.int32)
  arrays['end_positions'] = np.array([f.end_position for f in features], np.int32)
  return arrays


def predict_answers(examples, features, start_logits, end_logits, max_answer_length=30,
                    n_best_size=20):
  """{question id: answer text} from per-feature start/end logits ([num_features, seq])."""
  best = {}
  for feature, starts, ends in zip(features, start_logits, end_logits):
    valid = [i for i, ok in enumerate(feature.max_context) if ok]
    top_starts = sorted(valid, key=lambda i: -starts[i])[:n_best_size]
    top_ends = sorted((i for i, o in enumerate(feature.token_offsets) if o is not None),
                      key=lambda i: -ends[i])[:n_best_size]
    for s in top_starts:
      for e in top_ends:
        if e < s or e - s + 1 > max_answer_length:
          continue
        score = starts[s] + ends[e]
        current = best.get(feature.example_index)
        if current is None or score > current[0]:
          best[feature.example_index] = (score, feature.token_offsets[s][0],
                                         feature.token_offsets[e][1])
  predictions = {}
  for index, example in enumerate(examples):
    span = best.get(index)
    predictions[example.qid] = example.context[span[1]:span[2]] if span else ''
  return predictions


def ground_truths(examples):
  """{question id: [answer texts]} for `squad_metrics.evaluate`."""
  return {e.qid: e.answers for e in examples}
