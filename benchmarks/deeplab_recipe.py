"""The DeepLab MobileNetV2 8-bit recipe as the benchmark runs it: train graphs, export, convert.

The model is the one of g3doc/quantize.md: MobileNetV2 (depth 1.0 or 0.5), output stride 16, no
ASPP atrous rates, image pooling, no decoder, 21 classes. Weights are random and the inputs are
random images: the figures are about size and speed, not accuracy. The QAT checkpoint comes from
a few QAT training steps on those random images, so every min/max range has been updated by real
activations (EMA from the initial [-6, 6]) and the weight ranges are the weights' own.

Three TFLite models per depth, all cut the recipe's way (input `MobilenetV2/MobilenetV2/input`,
output `ArgMax`):
  float   frozen float export graph -> slim.tflite.convert.convert_float
  uint8   QAT export graph (create_eval_graph) -> convert_uint8 (legacy per-tensor)
  int8    per-channel QAT training graph (experimental_create_training_graph(per_channel=True),
          symmetric weight ranges) -> export_model --quantize_per_channel graph
          (experimental_create_eval_graph(per_channel=True)) -> convert_int8
"""
import collections
import functools
import time

from absl import logging
import slim  # noqa: F401  pylint: disable=unused-import  (TF1 graph mode before any graph)
import tensorflow as tf

from deeplab import common
from deeplab.utils import inference
from deeplab.utils import train_utils as deeplab_train_utils
import slim.quantize as contrib_quantize
from slim.quantize import options as quantize_options
from slim.tflite import convert

MODEL_VARIANT = 'mobilenet_v2'
NUM_CLASSES = 21
OUTPUT_STRIDE = 16
IGNORE_LABEL = 255
FLOAT, UINT8, INT8 = 'float', 'uint8', 'int8'
KINDS = (FLOAT, UINT8, INT8)
# The int8 model with its ARG_MAX reading a DEQUANTIZE'd input (slim.tflite.float_argmax): the
# same labels; timed beside the integer-only one (convert_to_tflite.py --float_argmax).
INT8_FLOAT_ARGMAX = 'int8_float_argmax'
PER_TENSOR, PER_CHANNEL = 'per_tensor', 'per_channel'
# The original recipe's rewrite with tf.contrib.quantize's two-convolution BN fold (timing only).
PER_TENSOR_CONTRIB_FOLD = 'per_tensor_contrib_fold'
# Which training graph's checkpoint each TFLite kind is exported from.
TRAINING_FOR_KIND = {FLOAT: None, UINT8: PER_TENSOR, INT8: PER_CHANNEL}
# Where the recipe cuts the frozen graph for tflite_convert (g3doc/quantize.md).
TFLITE_INPUT = inference.quantized_input_name('mobilenet_v2')
TFLITE_OUTPUT = inference.QUANTIZED_OUTPUT_NAME
FROZEN_OUTPUTS = (inference.OUTPUT_TENSOR_NAME, inference.OUTPUT_PROB_TENSOR_NAME)
_LEARNING_RATE = 1e-4
_MOMENTUM = 0.9

TrainGraph = collections.namedtuple('TrainGraph', 'graph session train_op loss saver')


def model_options(crop_size, depth_multiplier):
  """ModelOptions of the quantized recipe model at a square crop."""
  return common.ModelOptions({common.OUTPUT_TYPE: NUM_CLASSES}, crop_size=[crop_size, crop_size],
                             atrous_rates=None, output_stride=OUTPUT_STRIDE,
                             depth_multiplier=depth_multiplier, model_variant=MODEL_VARIANT)


def build_train_graph(crop_size, depth_multiplier, batch_size, quantize=None, seed=0):
  """Builds train.py's single-clone training graph on random images in a new graph + session.

  Args:
    crop_size: square training crop.
    depth_multiplier: MobileNetV2 depth multiplier.
    batch_size: images per step.
    quantize: None (float), PER_TENSOR (create_training_graph(quant_delay=0) before the
      optimizer, as train.py does with --quantize_delay_step=0) or PER_CHANNEL
      (experimental_create_training_graph(quant_delay=0, per_channel=True): symmetric
      per-channel weight ranges, for the int8 path) or PER_TENSOR_CONTRIB_FOLD (PER_TENSOR with
      fold_mode='contrib', the two-convolution BN fold).
    seed: graph-level seed (both graphs get the same random inputs and initial weights).

  Returns:
    A TrainGraph whose session has run the variable initializers.
  """
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(seed)
    samples = {
        common.IMAGE: tf.random.uniform([batch_size, crop_size, crop_size, 3], -1.0, 1.0),
        common.LABEL: tf.random.uniform([batch_size, crop_size, crop_size, 1], 0, NUM_CLASSES,
                                        dtype=tf.int32),
    }
    global_step = tf.compat.v1.train.get_or_create_global_step()
    loss, update_ops = deeplab_train_utils.build_clone_losses(
        samples, model_options(crop_size, depth_multiplier), NUM_CLASSES, IGNORE_LABEL,
        weight_decay=4e-5, fine_tune_batch_norm=True)
    if quantize == PER_TENSOR:
      deeplab_train_utils.maybe_quantize_training_graph(0, num_clones=1)
    elif quantize == PER_CHANNEL:
      contrib_quantize.experimental_create_training_graph(quant_delay=0, per_channel=True)
    elif quantize == PER_TENSOR_CONTRIB_FOLD:
      contrib_quantize.experimental_create_training_graph(
          quant_delay=0, fold_mode=quantize_options.FOLD_CONTRIB)
    elif quantize is not None:
      raise ValueError('quantize must be None, %r, %r or %r, got %r'
                       % (PER_TENSOR, PER_CHANNEL, PER_TENSOR_CONTRIB_FOLD, quantize))
    optimizer = tf.compat.v1.train.MomentumOptimizer(_LEARNING_RATE, _MOMENTUM)
    grad_updates = optimizer.minimize(loss, global_step=global_step)
    with tf.control_dependencies([grad_updates] + list(update_ops or [])):
      train_op = tf.identity(loss, name='train_op')
    saver = tf.compat.v1.train.Saver(tf.compat.v1.global_variables())
    session = tf.compat.v1.Session(graph=graph)
    session.run(tf.compat.v1.global_variables_initializer())
  return TrainGraph(graph, session, train_op, loss, saver)


def time_train_steps(graphs, warmup, steps):
  """Runs training steps of several graphs interleaved (order rotating per round).

  Args:
    graphs: dict {name: TrainGraph}.
    warmup: untimed steps per graph first.
    steps: timed rounds.

  Returns:
    dict {name: list of step seconds}.
  """
  names = list(graphs)
  for _ in range(warmup):
    for name in names:
      graphs[name].session.run(graphs[name].train_op)
  times = {name: [] for name in names}
  for round_index in range(steps):
    shift = round_index % len(names)
    order = names[shift:] + names[:shift]
    for name in order:
      start = time.perf_counter()
      graphs[name].session.run(graphs[name].train_op)
      times[name].append(time.perf_counter() - start)
    logging.info('train step round %d/%d: %s', round_index + 1, steps,
                 ', '.join('%s %.2fs' % (name, times[name][-1]) for name in names))
  return times


def save(train_graph, prefix):
  """Saves the TrainGraph's variables; returns the checkpoint prefix."""
  with train_graph.graph.as_default():
    return train_graph.saver.save(train_graph.session, prefix)


def export_frozen(checkpoint, crop_size, depth_multiplier, kind):
  """Builds export_model's graph for `kind` and freezes `checkpoint` into it.

  Args:
    checkpoint: checkpoint prefix of the training graph TRAINING_FOR_KIND[kind].
    crop_size: export crop (square).
    depth_multiplier: MobileNetV2 depth multiplier.
    kind: FLOAT, UINT8 or INT8.

  Returns:
    The frozen GraphDef (outputs SemanticPredictions and SemanticProbabilities).
  """
  graph = tf.Graph()
  with graph.as_default():
    inference.build_export_graph(
        model_options(crop_size, depth_multiplier),
        quantize_delay_step=-1 if kind == FLOAT else 0, quantize_per_channel=kind == INT8)
    return inference.freeze(checkpoint, list(FROZEN_OUTPUTS), graph)


def convert_tflite(frozen, crop_size, kind):
  """Converts a frozen export graph the recipe's way; returns (.tflite bytes, seconds)."""
  converters = {
      FLOAT: convert.convert_float,
      # --change_concat_input_ranges=true as in the recipe's tflite_convert command.
      UINT8: functools.partial(convert.convert_uint8, change_concat_input_ranges=True),
      INT8: convert.convert_int8,
  }
  start = time.perf_counter()
  model = converters[kind](frozen, [TFLITE_INPUT], [TFLITE_OUTPUT],
                           [[1, crop_size, crop_size, 3]])
  return model, time.perf_counter() - start
