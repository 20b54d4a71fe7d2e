"""An embedded, deterministic SQuAD v1.1-style QA set with its own small WordPiece vocab.

No real dataset can be downloaded here, so the MobileBERT recipe trains on passages about
invented towns. Each passage describes `towns_per_passage` towns (default 1), one fact per
sentence, in shuffled order (two towns shown):

  "kelso lies on the river tamsel . the mayor of oban is anna kovar . kelso exports copper .
   oban was founded in 1710 . ..."

and each question asks one fact of one town ("who is the mayor of oban ?" -> "anna kovar").
With one town, answering needs the question's relation matched to its sentence (a 2-layer model
learns it in minutes); with two, also the question's town matched to the right sentences among
the distractor town's, which the small config did not learn in 4,000 steps (g3doc/mobilebert.md). River names and surnames are built from syllables, and the vocab holds only the
syllables (`vo`, `##ren`, `##ka`), so WordPiece splits names into several pieces and answer
spans cross piece boundaries, as on real SQuAD. Towns are whole-word tokens.

Written files: `train-v1.1.json`, `dev-v1.1.json` (the SQuAD v1.1 JSON schema) and `vocab.txt`.

  python -m mobilebert.synthetic_squad --output_dir=/tmp/squad_synth --num_train=4000
"""
import collections
import dataclasses
import json
import os

import numpy as np

from slim import fileio
from slim.runtime import entry
from slim.runtime import options

TRAIN_FILE = 'train-v1.1.json'
DEV_FILE = 'dev-v1.1.json'
VOCAB_FILE = 'vocab.txt'
SPECIAL_TOKENS = ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]')

# Name parts: a name is 2-3 syllables; the first is a word, the others '##' continuations.
SYLLABLES = ('ka', 'vo', 'ren', 'bri', 'sol', 'tam', 'sel', 'dra', 'mir', 'lo', 'zen', 'pa',
             'tur', 'nek', 'vis', 'ga', 'lin', 'hor', 'mu', 'fen', 'ost', 'ri', 'bel', 'kor')
# Towns are whole words (one WordPiece each): the question's town is matched to its sentences
# by identity, which a 2-layer model learns in minutes.
TOWNS = ('arden', 'belmor', 'carvin', 'dunmore', 'elwick', 'farrow', 'glenby', 'harlow',
         'ilford', 'jarrow', 'kelso', 'lanark', 'melrose', 'nairn', 'oban', 'peebles', 'quorn',
         'rhyl', 'selby', 'thirsk', 'ulver', 'wigton', 'yarm', 'zennor')
FIRST_NAMES = ('anna', 'boris', 'clara', 'dmitri', 'elena', 'felix', 'greta', 'hugo', 'irina',
               'jonas', 'katya', 'lukas', 'marta', 'nikolai', 'olga', 'pavel')
GOODS = ('copper', 'wool', 'salt', 'timber', 'grain', 'wine', 'iron', 'glass', 'silk', 'cheese',
         'paper', 'amber')
YEARS = tuple(str(y) for y in range(1650, 1900, 10))
# One fact per row: the sentence and the question, `{t}` is the town, `{a}` the answer.
Fact = collections.namedtuple('Fact', 'key sentence question')
FACTS = (
    Fact('river', '{t} lies on the river {a} .', 'which river flows through {t} ?'),
    Fact('mayor', 'the mayor of {t} is {a} .', 'who is the mayor of {t} ?'),
    Fact('export', '{t} exports {a} .', 'what does {t} export ?'),
    Fact('founded', '{t} was founded in {a} .', 'when was {t} founded ?'),
)
TEMPLATE_WORDS = ('lies', 'on', 'the', 'river', 'mayor', 'of', 'is', 'exports', 'was', 'founded',
                  'in', 'which', 'flows', 'through', 'who', 'what', 'does', 'export', 'when',
                  '.', '?')


def vocab_tokens():
  """The vocab, in id order: special tokens, words, syllables and their '##' continuations."""
  words = list(TEMPLATE_WORDS) + list(TOWNS) + list(FIRST_NAMES) + list(GOODS) + list(YEARS)
  return (list(SPECIAL_TOKENS) + words + list(SYLLABLES) + ['##' + s for s in SYLLABLES])


def _name(rng):
  return ''.join(rng.choice(SYLLABLES, size=rng.integers(2, 4)))


def _passage(rng, towns_per_passage):
  """(context, [(question, answer text, answer_start)]) for one passage."""
  towns = [str(t) for t in rng.choice(TOWNS, size=towns_per_passage, replace=False)]
  answers = {}
  for town in towns:
    answers[town] = {
        'river': _name(rng),
        'mayor': '%s %s' % (rng.choice(FIRST_NAMES), _name(rng)),
        'export': str(rng.choice(GOODS)),
        'founded': str(rng.choice(YEARS)),
    }
  sentences = [(town, fact) for town in towns for fact in FACTS]
  order = rng.permutation(len(sentences))
  context, qas = '', []
  for index in order:
    town, fact = sentences[index]
    answer = answers[town][fact.key]
    sentence = fact.sentence.format(t=town, a=answer)
    start = len(context) + fact.sentence.format(t=town, a='\0').index('\0')
    qas.append((fact.question.format(t=town), answer, start))
    context += sentence + ' '
  context = context.rstrip()
  return context, qas


def generate(num_examples, seed, towns_per_passage=1, questions_per_passage=4, prefix='synth'):
  """A SQuAD v1.1 dict of `num_examples` questions (deterministic in `seed`)."""
  rng = np.random.default_rng(seed)
  paragraphs = []
  count = 0
  while count < num_examples:
    context, qas = _passage(rng, towns_per_passage)
    chosen = rng.choice(len(qas), size=min(questions_per_passage, len(qas)), replace=False)
    entries = []
    for i in chosen[:num_examples - count]:
      question, answer, start = qas[i]
      assert context[start:start + len(answer)] == answer
      entries.append({'id': '%s-%06d' % (prefix, count), 'question': question,
                      'answers': [{'text': answer, 'answer_start': start}]})
      count += 1
    paragraphs.append({'context': context, 'qas': entries})
  return {'version': '1.1', 'data': [{'title': 'towns', 'paragraphs': paragraphs}]}


def write(output_dir, num_train, num_dev, seed=0, towns_per_passage=1):
  """Writes the train/dev JSON files and vocab.txt into `output_dir`; returns their paths."""
  os.makedirs(output_dir, exist_ok=True)
  paths = {}
  for name, num, split_seed in ((TRAIN_FILE, num_train, seed), (DEV_FILE, num_dev, seed + 1)):
    paths[name] = os.path.join(output_dir, name)
    fileio.atomic_write_text(paths[name], json.dumps(
        generate(num, split_seed, towns_per_passage, prefix=name.split('-')[0])))
  paths[VOCAB_FILE] = os.path.join(output_dir, VOCAB_FILE)
  fileio.atomic_write_text(paths[VOCAB_FILE], '\n'.join(vocab_tokens()) + '\n')
  return paths


@dataclasses.dataclass
class SyntheticSquadOptions:
  """Flags of `mobilebert_synthetic_squad`."""
  output_dir: str = options.flag(None, 'Where to write the JSON files and vocab.txt.',
                                 kind='string', required=True)
  num_train: int = options.flag(4000, 'Training questions.')
  num_dev: int = options.flag(400, 'Dev questions.')
  seed: int = options.flag(0, 'Random seed (the dev split uses seed + 1).')
  towns_per_passage: int = options.flag(1, 'Towns described by each passage (2: a distractor '
                                        'town, harder).')


def main(unused_argv):
  opts = options.from_flags(SyntheticSquadOptions)
  for name, path in write(opts.output_dir, opts.num_train, opts.num_dev, opts.seed,
                           opts.towns_per_passage).items():
    print('%s: %s' % (name, path))


def run():
  """Console script `mobilebert_synthetic_squad`."""
  entry.run(main, SyntheticSquadOptions)


if __name__ == '__main__':
  run()
