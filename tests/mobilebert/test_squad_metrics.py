"""The official SQuAD v1.1 EM/F1 on hand-made cases."""
import pytest

from mobilebert import squad_metrics


def testNormalizeAnswer_DropsCaseArticlesPunctuation():
  assert squad_metrics.normalize_answer('The  River, Tamsel!') == 'river tamsel'
  assert squad_metrics.normalize_answer('an apple a day') == 'apple day'


def testF1_PartialOverlap():
  # prediction 1 token, truth 2 tokens, 1 shared: P = 1, R = 1/2, F1 = 2/3.
  assert squad_metrics.f1_score('kamuhor', 'nikolai kamuhor') == pytest.approx(2 / 3)
  assert squad_metrics.f1_score('the wool', 'copper') == 0.0
  # 'a' is an article: 'b b' vs 'b b c', P = 1, R = 2/3, F1 = 0.8.
  assert squad_metrics.f1_score('a b b', 'b b c') == pytest.approx(0.8)


def testEvaluate_BestGroundTruthAndMissingPredictions():
  truths = {'q1': ['1750', 'in 1750'], 'q2': ['anna kovar'], 'q3': ['salt'], 'q4': ['wine']}
  predictions = {'q1': 'in 1750', 'q2': 'kovar', 'q3': 'Salt.'}
  result = squad_metrics.evaluate(truths, predictions)
  assert result['exact_match'] == pytest.approx(100 * 2 / 4)
  assert result['f1'] == pytest.approx(100 * (1 + 2 / 3 + 1 + 0) / 4)
  assert result['total'] == 4 and result['missing'] == 1


def testEvaluate_NothingToEvaluateIsAnError():
  with pytest.raises(ValueError, match='no question to evaluate'):
    squad_metrics.evaluate({}, {})
