"""SQuAD reading, WordPiece features, answer decoding, and the errors of bad inputs."""
import json

import numpy as np
import pytest

from mobilebert import squad_data
from mobilebert import synthetic_squad
from mobilebert import tokenization


@pytest.fixture(name='data')
def _data(tmp_path):
  return synthetic_squad.write(str(tmp_path), num_train=40, num_dev=10, seed=3,
                               towns_per_passage=2)


@pytest.fixture(name='tokenizer')
def _tokenizer(data):
  return tokenization.FullTokenizer(data[synthetic_squad.VOCAB_FILE])


def testSynthetic_AnswersAtTheirStartAndNamesSplitIntoPieces(data, tokenizer):
  examples = squad_data.read_squad_examples(data[synthetic_squad.TRAIN_FILE], is_training=True)
  assert len(examples) == 40
  for e in examples:
    assert e.context[e.answer_start:e.answer_start + len(e.answers[0])] == e.answers[0]
  pieces = tokenizer.tokenize(examples[0].context)
  assert '[UNK]' not in pieces and any(p.startswith('##') for p in pieces)
  # Deterministic in the seed.
  assert synthetic_squad.generate(5, 1) == synthetic_squad.generate(5, 1)


def testFeatures_AnswerTokensDecodeToTheAnswer(data, tokenizer):
  examples = squad_data.read_squad_examples(data[synthetic_squad.TRAIN_FILE], is_training=True)
  features = squad_data.convert_examples_to_features(examples, tokenizer, 128, 64, 24, True)
  assert len(features) == len(examples)
  for f in features:
    e = examples[f.example_index]
    begin, end = f.token_offsets[f.start_position][0], f.token_offsets[f.end_position][1]
    assert e.context[begin:end] == e.answers[0]
    assert f.input_ids[0] == tokenizer.cls_id and len(f.input_ids) == 128
    assert f.segment_ids[f.start_position] == 1
  # Logits peaked on the labels decode to the exact answers (EM 100).
  starts = np.full([len(features), 128], -5.0)
  ends = np.full([len(features), 128], -5.0)
  for i, f in enumerate(features):
    starts[i, f.start_position] = ends[i, f.end_position] = 5.0
  predictions = squad_data.predict_answers(examples, features, starts, ends)
  assert predictions == {e.qid: e.answers[0] for e in examples}


def testFeatures_LongPassagesSplitIntoStridedWindows(data, tokenizer):
  examples = squad_data.read_squad_examples(data[synthetic_squad.TRAIN_FILE], is_training=True)
  features = squad_data.convert_examples_to_features(examples[:5], tokenizer, 48, 16, 24, True)
  assert len(features) > 5
  for f in features:
    if f.start_position:
      e = examples[f.example_index]
      assert e.context[f.token_offsets[f.start_position][0]:
                       f.token_offsets[f.end_position][1]] == e.answers[0]
  # Every passage token has its maximum context in exactly one window.
  for index in range(5):
    windows = [f for f in features if f.example_index == index]
    spans = [o for f in windows for o, m in zip(f.token_offsets, f.max_context) if m]
    assert len(spans) == len(set(spans)) == len(tokenizer.encode(examples[index].context)[0])


def testFeatures_SequenceTooShortIsAnError(data, tokenizer):
  examples = squad_data.read_squad_examples(data[synthetic_squad.TRAIN_FILE], is_training=True)
  with pytest.raises(ValueError, match='--max_seq_length=8 leaves no room for the passage'):
    squad_data.convert_examples_to_features(examples[:1], tokenizer, 8, 4, 24, True)


@pytest.mark.parametrize('content,message', [
    ('{"data": [', 'not JSON'),
    ('[1, 2]', 'top level: expected an object with a "data" list'),
    ('{"data": [{"paragraphs": [{"qas": []}]}]}', r'data\[0\].paragraphs\[0\]: expected "context"'),
    (json.dumps({'data': [{'paragraphs': [{'context': 'a b c', 'qas': [
        {'id': 'q7', 'question': 'b?', 'answers': [{'text': 'b', 'answer_start': 0}]}]}]}]}),
     "question q7: answer 'b' is not at answer_start=0 of the context"),
    (json.dumps({'data': [{'paragraphs': [{'context': 'a b', 'qas': [
        {'id': 'q8', 'question': 'b?', 'answers': []}]}]}]}),
     'question q8: no answer'),
])
def testReadSquad_BadFilesNamed(tmp_path, content, message):
  path = tmp_path / 'train.json'
  path.write_text(content)
  with pytest.raises(ValueError, match='SQuAD file .*train.json: ' + message):
    squad_data.read_squad_examples(str(path), is_training=True)


def testReadSquad_MissingFile(tmp_path):
  with pytest.raises(ValueError, match='nope.json: file not found'):
    squad_data.read_squad_examples(str(tmp_path / 'nope.json'), is_training=False)


def testVocab_BadFilesNamed(tmp_path):
  with pytest.raises(ValueError, match=r'--vocab_file=.*v.txt: file not found'):
    tokenization.FullTokenizer(str(tmp_path / 'v.txt'))
  (tmp_path / 'v.txt').write_text('\n\n')
  with pytest.raises(ValueError, match='empty vocab'):
    tokenization.FullTokenizer(str(tmp_path / 'v.txt'))
  (tmp_path / 'v.txt').write_text('[PAD]\n[UNK]\nhello\n')
  with pytest.raises(ValueError, match=r"lacks the special token\(s\) \['\[CLS\]', '\[SEP\]'\]"):
    tokenization.FullTokenizer(str(tmp_path / 'v.txt'))
