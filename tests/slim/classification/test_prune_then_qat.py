"""Prune-then-QAT through the trainer: --pruning_hparams, --freeze_pruning_masks, pruned export."""
import numpy as np
import pytest
import tensorflow as tf

from slim import eval_image_classifier
from slim import export_inference_graph
from slim import pruning
from slim import train_image_classifier
from slim.tflite import inspection as tflite_inspect
from tests.slim.classification import conftest

_SIZE = conftest.IMAGE_SIZE
_MODEL = 'mobilenet_v2'
# A 1x1 conv kernel of MobilenetV2 (96 x 24 weights: the histogram threshold is fine enough).
_LAYER = 'MobilenetV2/expanded_conv_2/project'
# Prune from global step 1 (the first update, after the first optimizer step) to 50% at step 2.
_PRUNING_HPARAMS = ('name=model_pruning,begin_pruning_step=0,pruning_frequency=1,'
                    'target_sparsity=0.5,sparsity_function_begin_step=0,'
                    'sparsity_function_end_step=2')


def _train(dataset_dir, train_dir, steps, **kwargs):
  return train_image_classifier.train(
      conftest.train_options(dataset_dir, train_dir, _MODEL, steps, **kwargs))


def _variables(train_dir):
  reader = tf.compat.v1.train.NewCheckpointReader(tf.train.latest_checkpoint(train_dir))
  return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def _masks(variables):
  return {k: v for k, v in variables.items() if k.endswith('/mask')}


@pytest.fixture(scope='module')
def runs(dataset_dir, tmp_path_factory):
  """Dense float (1 step) -> pruned fine-tune (3 steps) -> QAT with frozen masks (2 steps)."""
  root = tmp_path_factory.mktemp('prune_then_qat')
  dirs = {k: str(root / k) for k in ('float', 'pruned', 'qat')}
  _train(dataset_dir, dirs['float'], 1)
  # The masked graph restores a DENSE checkpoint: masks/thresholds keep their initial values.
  assert _train(dataset_dir, dirs['pruned'], 3, checkpoint_path=dirs['float'],
                pruning_hparams=_PRUNING_HPARAMS) == 3
  assert _train(dataset_dir, dirs['qat'], 2, checkpoint_path=dirs['pruned'],
                pruning_hparams=_PRUNING_HPARAMS, freeze_pruning_masks=True,
                quantize_delay=0) == 2
  dirs['data'] = dataset_dir
  return dirs


def testPruningHparams_MasksReachScheduledSparsity(runs):
  variables = _variables(runs['pruned'])
  assert 'MobilenetV2/Conv/weights' in variables and 'MobilenetV2/Conv/mask' in variables
  # Depthwise kernels are not masked by default.
  assert 'MobilenetV2/expanded_conv_2/depthwise/mask' not in variables
  assert variables['model_pruning/last_mask_update_step'] == 3
  mask = variables[_LAYER + '/mask']
  assert mask.shape == (1, 1, 144, 24)
  assert set(np.unique(mask)) == {0.0, 1.0}
  assert 0.45 <= 1.0 - mask.mean() <= 0.55
  assert variables[_LAYER + '/threshold'] > 0
  # mask = |w| > threshold for the weights of the last update (step 3).
  np.testing.assert_array_equal(
      mask, (np.abs(variables[_LAYER + '/weights']) > variables[_LAYER + '/threshold']))
  # The dense run has no pruning variables at all.
  assert not _masks(_variables(runs['float']))


def testFreezePruningMasks_MasksUnchangedThroughQat(runs):
  pruned, qat = _variables(runs['pruned']), _variables(runs['qat'])
  assert _LAYER + '/weights_quant/min' in qat
  assert _masks(pruned).keys() == _masks(qat).keys()
  for name, mask in _masks(pruned).items():
    np.testing.assert_array_equal(qat[name], mask, err_msg=name)
  assert qat['model_pruning/last_mask_update_step'] == 3
  # The kernel itself moved (QAT trained it), only its masked entries are ignored.
  assert not np.array_equal(qat[_LAYER + '/weights'], pruned[_LAYER + '/weights'])
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.train.import_meta_graph(tf.train.latest_checkpoint(runs['qat']) + '.meta')
  ops = {op.name for op in graph.get_operations()}
  assert _LAYER + '/weights/masked_weight' in ops
  assert not any(name.startswith('model_pruning/mask_update') for name in ops)


def testEvaluate_PrunedCheckpointUsesMasks(runs):
  results = eval_image_classifier.evaluate(eval_image_classifier.EvalOptions(
      dataset_dir=runs['data'], checkpoint_path=runs['pruned'], model_name=_MODEL,
      eval_image_size=_SIZE, batch_size=4))
  assert results['num_images'] == 10 and results['global_step'] == 3


def testExport_PrunedQatStripsMasksAndConvertsWithZeros(runs, tmp_path):
  frozen = str(tmp_path / 'pruned_qat.pb')
  tflite = str(tmp_path / 'pruned_qat_uint8.tflite')
  spec = export_inference_graph.export(export_inference_graph.ExportOptions(
      output_file=frozen, model_name=_MODEL, image_size=_SIZE, batch_size=1,
      dataset_dir=runs['data'], quantize=True, checkpoint_path=runs['qat'],
      tflite_output_file=tflite, tflite_type='uint8'))
  assert spec['pruned'] is True
  graph_def = tf.compat.v1.GraphDef.FromString(open(frozen, 'rb').read())
  nodes = {n.name: n.op for n in graph_def.node}
  assert not [n for n in nodes if n.rpartition('/')[2] in ('mask', 'threshold')]
  masked = [n for n in nodes if n.endswith('/masked_weight')]
  assert masked and {nodes[n] for n in masked} == {'Const'}
  # The folded constant is mask * weight: zero exactly where the mask is.
  node = next(n for n in graph_def.node if n.name == _LAYER + '/weights/masked_weight')
  value = tf.make_ndarray(node.attr['value'].tensor)
  mask = _variables(runs['qat'])[_LAYER + '/mask']
  np.testing.assert_array_equal(value == 0, mask == 0)

  assert tflite_inspect.is_fully_integer(tflite)
  weights = pruning.tflite_weight_sparsity(tflite)
  assert len(weights) == 36  # every CONV_2D of MobileNetV2 (35 + the logits 1x1 conv)
  # Each conv kernel keeps (at least) its pruned zeros through BN folding and quantization.
  big = [r for r in weights if r.size >= 1000]
  assert big and all(r.sparsity >= 0.45 for r in big), [(r.name, r.sparsity) for r in big]
  assert 0.45 <= pruning.overall_sparsity(weights) <= 0.6


def testExport_PerChannelInt8FromPerTensorQatCheckpoint(runs, tmp_path):
  frozen = str(tmp_path / 'per_channel.pb')
  tflite = str(tmp_path / 'per_channel_int8.tflite')
  export_inference_graph.export(export_inference_graph.ExportOptions(
      output_file=frozen, model_name=_MODEL, image_size=_SIZE, batch_size=1,
      dataset_dir=runs['data'], quantize=True, per_channel=True, checkpoint_path=runs['qat'],
      tflite_output_file=tflite, tflite_type='int8'))
  graph_def = tf.compat.v1.GraphDef.FromString(open(frozen, 'rb').read())
  ops = {n.name: n.op for n in graph_def.node}
  assert ops[_LAYER + '/weights_quant/FakeQuantWithMinMaxVarsPerChannel'] == (
      'FakeQuantWithMinMaxVarsPerChannel')
  assert tflite_inspect.is_fully_integer(tflite)
  by_name = {row['name']: row for row in tflite_inspect.tensor_table(tflite)}
  weights = pruning.tflite_weight_sparsity(tflite)
  for record in weights:
    row = by_name[record.name]
    assert row['dtype'] == 'int8' and len(row['scales']) == record.shape[0], record.name
    assert set(row['zero_points']) == {0}, record.name
  assert 0.45 <= pruning.overall_sparsity(weights) <= 0.6


def testPruningSpec_BadHparamsNameTheFlag():
  assert train_image_classifier.pruning_spec('target_sparsity=0.8').target_sparsity == 0.8
  assert train_image_classifier.pruning_spec('').target_sparsity == 0.5  # contrib default
  with pytest.raises(ValueError, match="--pruning_hparams='bogus=1': Unknown hyperparameter "
                     'type for bogus'):
    train_image_classifier.pruning_spec('bogus=1')
  with pytest.raises(ValueError, match="--pruning_hparams='target_sparsity': Malformed"):
    train_image_classifier.pruning_spec('target_sparsity')


def testExport_CheckpointMissingVariablesIsAnError(runs, tmp_path):
  # A dense float checkpoint has no quantization ranges (and no masks): the QAT export of it
  # names what is missing instead of failing inside the Saver.
  with pytest.raises(ValueError, match='--checkpoint_path=.*model.ckpt-1 does not match the '
                     'export graph: missing or reshaped variables .*act_quant/max'):
    export_inference_graph.export(export_inference_graph.ExportOptions(
        output_file=str(tmp_path / 'x.pb'), model_name=_MODEL, image_size=_SIZE, batch_size=1,
        num_classes=10, quantize=True, checkpoint_path=runs['float']))
