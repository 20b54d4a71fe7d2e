"""The official SQuAD v1.1 metrics: exact match and token F1, in points (0..100).

Answers are normalised as `evaluate-v1.1.py` does (lower case, no punctuation, no articles
a/an/the, single spaces); each question scores the best over its ground-truth answers.
"""
import collections
import re
import string

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r'\b(a|an|the)\b')


def normalize_answer(text):
  """Lower case, drop punctuation and articles, collapse whitespace."""
  text = ''.join(ch for ch in text.lower() if ch not in _PUNCTUATION)
  return ' '.join(_ARTICLES.sub(' ', text).split())


def exact_match_score(prediction, ground_truth):
  return normalize_answer(prediction) == normalize_answer(ground_truth)


def f1_score(prediction, ground_truth):
  """Token-overlap F1 of two answers after normalisation (0 when nothing is shared)."""
  predicted = normalize_answer(prediction).split()
  truth = normalize_answer(ground_truth).split()
  common = collections.Counter(predicted) & collections.Counter(truth)
  shared = sum(common.values())
  if shared == 0:
    return 0.0
  precision, recall = shared / len(predicted), shared / len(truth)
  return 2 * precision * recall / (precision + recall)


def evaluate(ground_truths, predictions):
  """EM and F1 in points over every question of `ground_truths`.

  Args:
    ground_truths: {question id: [answer texts]}.
    predictions: {question id: predicted text}; a missing prediction scores 0 (as the official
      script, which prints a message for it).

  Returns:
    {'exact_match': float, 'f1': float, 'total': int, 'missing': int}.
  """
  if not ground_truths:
    raise ValueError('SQuAD evaluation: no question to evaluate')
  exact = f1 = 0.0
  missing = 0
  for qid, answers in ground_truths.items():
    if qid not in predictions:
      missing += 1
      continue
    prediction = predictions[qid]
    exact += max(exact_match_score(prediction, a) for a in answers)
    f1 += max(f1_score(prediction, a) for a in answers)
  total = len(ground_truths)
  return {'exact_match': 100.0 * exact / total, 'f1': 100.0 * f1 / total, 'total': total,
          'missing': missing}
