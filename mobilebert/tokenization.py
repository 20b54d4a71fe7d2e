"""WordPiece tokenization from a BERT vocab file, through Hugging Face `tokenizers`.

The original `tokenization.FullTokenizer` (basic tokenizer + greedy longest-match WordPiece)
is what `tokenizers.BertWordPieceTokenizer` implements in Rust, with one thing the original
lacks: character offsets of every piece, which map an answer's character span to token
positions (and predicted tokens back to the passage text) without the original's whitespace
bookkeeping.
"""
import os

import tokenizers

SPECIAL_TOKENS = ('[PAD]', '[UNK]', '[CLS]', '[SEP]')


class FullTokenizer(object):
  """Tokenizes text into WordPiece ids with character offsets.

  Args:
    vocab_file: one token per line; must hold [PAD] [UNK] [CLS] [SEP].
    do_lower_case: lower-case and strip accents first (the uncased models).

  Raises:
    ValueError: the vocab file is missing, empty or lacks a special token.
  """

  def __init__(self, vocab_file, do_lower_case=True):
    if not os.path.isfile(vocab_file):
      raise ValueError('--vocab_file=%s: file not found' % vocab_file)
    with open(vocab_file, encoding='utf-8') as f:
      tokens = [line.rstrip('\n') for line in f]
    tokens = [t for t in tokens if t]
    if not tokens:
      raise ValueError('--vocab_file=%s: empty vocab (expected one token per line)' % vocab_file)
    missing = [t for t in SPECIAL_TOKENS if t not in tokens]
    if missing:
      raise ValueError('--vocab_file=%s: lacks the special token(s) %s' % (vocab_file, missing))
    self.vocab = {t: i for i, t in enumerate(tokens)}
    self._tokenizer = tokenizers.BertWordPieceTokenizer(
        self.vocab, lowercase=do_lower_case, strip_accents=do_lower_case,
        clean_text=True, handle_chinese_chars=True)
    self.vocab_size = len(tokens)
    self.cls_id, self.sep_id, self.pad_id = (self.vocab[t] for t in ('[CLS]', '[SEP]', '[PAD]'))

  def encode(self, text):
    """Returns (ids, offsets): WordPiece ids and [start, end) character offsets in `text`."""
    encoding = self._tokenizer.encode(text, add_special_tokens=False)
    return list(encoding.ids), [tuple(o) for o in encoding.offsets]

  def tokenize(self, text):
    """Returns the WordPiece strings of `text`."""
    return self._tokenizer.encode(text, add_special_tokens=False).tokens
