"""MobileBERT on SQuAD v1.1: train, predict (EM/F1) and export float / int8 TFLite models.

The original google-research `run_squad.py`'s flags and defaults, in graph mode without
Estimator or TPU. New flags: --quantizer (which QAT placement --use_quantized_training uses),
--num_train_steps, --rewriter_score_floor, --checkpoint, --predict_tflite, --predict_exported,
--results_file, --seed, --log_steps, --save_checkpoints_secs, and the cluster flags of
deeplab/train.py (--num_replicas, --num_ps_tasks, --task, --sync_replicas,
--startup_delay_steps; --master is the original's): g3doc/distributed.md.

  python -m mobilebert.run_squad --bert_config_file=config.json --vocab_file=vocab.txt \\
      --train_file=train-v1.1.json --do_train --output_dir=/tmp/float
  python -m mobilebert.run_squad ... --init_checkpoint=/tmp/float --use_quantized_training \\
      --do_train --do_predict --predict_file=dev-v1.1.json --output_dir=/tmp/qat \\
      --export_dir=/tmp/qat/export           # writes model_quant.tflite (int8)
"""
import dataclasses
import json
from typing import Optional

from mobilebert import squad_model
from mobilebert import squad_runner
from slim.runtime import entry
from slim.runtime import options


@dataclasses.dataclass
class SquadOptions:
  """The flags of run_squad.py (the original's names and defaults, then the new ones)."""
  bert_config_file: Optional[str] = options.flag(
      None, 'The config json file corresponding to the pre-trained BERT model.', kind='string',
      required=True)
  vocab_file: Optional[str] = options.flag(
      None, 'The vocabulary file that the BERT model was trained on.', kind='string',
      required=True)
  output_dir: Optional[str] = options.flag(
      None, 'The output directory where the model checkpoints will be written.', kind='string',
      required=True)
  train_file: Optional[str] = options.flag(
      None, 'SQuAD json for training. E.g., train-v1.1.json', kind='string')
  predict_file: Optional[str] = options.flag(
      None, 'SQuAD json for predictions. E.g., dev-v1.1.json or test-v1.1.json', kind='string')
  init_checkpoint: Optional[str] = options.flag(
      None, 'Initial checkpoint (usually from a pre-trained BERT model).', kind='string')
  do_lower_case: bool = options.flag(True, 'Whether to lower case the input text.')
  max_seq_length: int = options.flag(
      384, 'The maximum total input sequence length after WordPiece tokenization.')
  doc_stride: int = options.flag(
      128, 'When splitting up a long document into chunks, how much stride to take between '
      'chunks.')
  max_query_length: int = options.flag(
      64, 'The maximum number of tokens for the question; longer questions are truncated.')
  do_train: bool = options.flag(False, 'Whether to run training.')
  do_predict: bool = options.flag(False, 'Whether to run eval on the dev set.')
  train_batch_size: int = options.flag(32, 'Total batch size for training.')
  predict_batch_size: int = options.flag(8, 'Total batch size for predictions.')
  learning_rate: float = options.flag(5e-5, 'The initial learning rate for Adam.')
  num_train_epochs: float = options.flag(3.0, 'Total number of training epochs to perform.')
  warmup_proportion: float = options.flag(
      0.1, 'Proportion of training to perform linear learning rate warmup for.')
  n_best_size: int = options.flag(
      20, 'The total number of n-best start/end candidates considered per feature.')
  max_answer_length: int = options.flag(
      30, 'The maximum length of an answer that can be generated.')
  use_quantized_training: bool = options.flag(
      False, 'Whether to use quantization-aware training (needs relu6 and no_norm).')
  use_post_quantization: bool = options.flag(
      False, 'Whether to use post-training quantization for the exported TFLite model.')
  activation_quantization: bool = options.flag(
      False, 'With --use_post_quantization: also quantize activations (full integer, '
      'calibrated on the first 100 training features).')
  export_dir: Optional[str] = options.flag(
      None, 'Where to export the frozen graph and the TFLite models.', kind='string')
  master: str = options.flag(
      '', 'The session target of training: this worker\'s TensorFlow server (the original: the '
      'TPU master).')
  # New flags.
  quantizer: str = options.flag(
      'hand', 'New: the QAT placement of --use_quantized_training: hand (the original '
      'hand-inserted units) or rewriter (slim.quantize, full coverage).', kind='enum',
      enum_values=('hand', 'rewriter'))
  num_train_steps: int = options.flag(
      0, 'New: training steps (0: --num_train_epochs over the training features).')
  rewriter_score_floor: float = options.flag(
      -12.0, 'New: --quantizer=rewriter: the lowest scaled attention score the score ranges '
      'keep (lower scores saturate; the softmax gives them < e^floor of a zero score\'s '
      'weight); 0: plain EMA ranges. See g3doc/mobilebert.md.')
  checkpoint: Optional[str] = options.flag(
      None, 'New: the checkpoint predicted/exported (default: the newest in --output_dir).',
      kind='string')
  predict_tflite: Optional[str] = options.flag(
      None, 'New: with --do_predict, evaluate this .tflite model instead of the graph.',
      kind='string')
  predict_exported: bool = options.flag(
      False, 'New: with --export_dir and --predict_file, evaluate every exported TFLite model '
      '(results in <model>.tflite.results.json).')
  results_file: Optional[str] = options.flag(
      None, 'New: write the --do_predict EM/F1 (points) as JSON here.', kind='string')
  seed: int = options.flag(0, 'New: random seed of initialization and shuffling.')
  log_steps: int = options.flag(50, 'New: log the loss every this many steps.')
  save_checkpoints_secs: int = options.flag(600, 'New: seconds between checkpoints.')
  # The cluster flags of deeplab/train.py (slim.runtime.distributed; TF_CONFIG gives the same).
  num_replicas: int = options.flag(1, 'New: number of worker replicas.')
  num_ps_tasks: int = options.flag(
      0, 'New: the number of parameter servers (0: the variables stay on the worker).')
  task: int = options.flag(0, 'New: the task ID of this worker.')
  sync_replicas: bool = options.flag(
      True, 'New: with several replicas, average their gradients each step '
      '(SyncReplicasOptimizer); false: asynchronous updates, replica t starting at global '
      'step t * --startup_delay_steps.')
  startup_delay_steps: int = options.flag(
      15, 'New: asynchronous replicas: training steps between replicas\' startup.')


def _validate(opts):
  if not (opts.do_train or opts.do_predict or opts.export_dir):
    raise ValueError('At least one of --do_train, --do_predict or --export_dir must be given')
  if opts.do_train and not opts.train_file:
    raise ValueError('--do_train needs --train_file')
  if (opts.do_predict or opts.predict_exported) and not opts.predict_file:
    raise ValueError('--do_predict and --predict_exported need --predict_file')
  if opts.max_seq_length <= opts.max_query_length + 3:
    raise ValueError('--max_seq_length=%d must exceed --max_query_length=%d + 3'
                     % (opts.max_seq_length, opts.max_query_length))
  if opts.rewriter_score_floor > 0:
    raise ValueError('--rewriter_score_floor=%r: expected a value <= 0 (0: plain EMA ranges)'
                     % opts.rewriter_score_floor)
  assert opts.quantizer in squad_model.QUANTIZERS


def main(unused_argv):
  opts = options.from_flags(SquadOptions)
  _validate(opts)
  if opts.do_train:
    replica = squad_runner.replica(opts)
    squad_runner.train(opts, replica)
    if not replica.is_chief:
      return  # A ps task or another worker: prediction and export are the chief's.
  if opts.do_predict:
    print(json.dumps(squad_runner.predict(opts)))
  if opts.export_dir:
    for kind, path in squad_runner.export_models(opts).items():
      print('%s: %s' % (kind, path))
      if opts.predict_exported and path.endswith('.tflite'):
        print(json.dumps(squad_runner.predict(opts, path, squad_runner.results_path(path))))


def run():
  """Console script `mobilebert_run_squad`."""
  entry.run(main, SquadOptions)


if __name__ == '__main__':
  run()
