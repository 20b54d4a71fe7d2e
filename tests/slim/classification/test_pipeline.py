"""Trainer (QAT + resume), eval, export + uint8 conversion and PTQ on a tiny synthetic set."""
import json
import shutil

import pytest
import tensorflow as tf

from slim import classification_model
from slim import eval_image_classifier
from slim import export_inference_graph
from slim import ptq_image_classifier
from slim import train_image_classifier
from slim.tflite import inspection as tflite_inspect
from slim.tflite import ptq
from tests.slim.classification import conftest

_SIZE = conftest.IMAGE_SIZE
_MODEL = 'mobilenet_v2'


def _train_options(dataset_dir, train_dir, steps, **kwargs):
  return conftest.train_options(dataset_dir, train_dir, _MODEL, steps, **kwargs)


@pytest.fixture(scope='module')
def qat_train_dir(dataset_dir, tmp_path_factory):
  train_dir = str(tmp_path_factory.mktemp('qat'))
  assert train_image_classifier.train(_train_options(dataset_dir, train_dir, 2,
                                                     quantize_delay=0)) == 2
  return train_dir


def testTrain_QuantizeDelayAddsFakeQuantBeforeOptimizer(qat_train_dir):
  # The training graph as saved with the checkpoint (model.ckpt-2.meta).
  meta_graph = tf.compat.v1.train.import_meta_graph(
      tf.train.latest_checkpoint(qat_train_dir) + '.meta')
  del meta_graph
  ops = {op.name: op.type for op in tf.compat.v1.get_default_graph().get_operations()}
  for name in ('MobilenetV2/Conv/weights_quant/FakeQuantWithMinMaxVars',
               'MobilenetV2/Conv/act_quant/FakeQuantWithMinMaxVars',
               'MobilenetV2/Logits/Conv2d_1c_1x1/weights_quant/FakeQuantWithMinMaxVars',
               'MobilenetV2/expanded_conv_2/post_activation_bypass_quant/FakeQuantWithMinMaxVars'):
    assert ops.get(name) == 'FakeQuantWithMinMaxVars', name
  # Gradients flow through the fake quantization (the rewrite ran before the optimizer).
  assert any(n.startswith('gradients/MobilenetV2/Conv/weights_quant/') for n in ops)
  assert 'train_op' in ops


def testTrain_QatCheckpointHasQuantVariablesAndResumes(dataset_dir, qat_train_dir):
  checkpoint = tf.train.latest_checkpoint(qat_train_dir)
  assert checkpoint.endswith('model.ckpt-2')
  variables = dict(tf.train.list_variables(checkpoint))
  assert variables['MobilenetV2/Conv/weights'] == [3, 3, 3, 32]
  assert variables['MobilenetV2/Conv/weights_quant/min'] == []
  assert variables['MobilenetV2/Conv/act_quant/max'] == []
  assert variables['MobilenetV2/Logits/Conv2d_1c_1x1/weights'] == [1, 1, 1280, 10]
  assert variables['global_step'] == []
  # Restarting with a larger step count continues from step 2.
  resume_dir = qat_train_dir + '_resume'
  shutil.copytree(qat_train_dir, resume_dir)
  assert train_image_classifier.train(_train_options(dataset_dir, resume_dir, 3,
                                                     quantize_delay=0)) == 3
  assert tf.train.latest_checkpoint(resume_dir).endswith('model.ckpt-3')


def testExportAndEval_QatUint8IsFullyQuantized(dataset_dir, qat_train_dir, tmp_path):
  frozen = str(tmp_path / 'qat.pb')
  tflite = str(tmp_path / 'qat_uint8.tflite')
  spec = export_inference_graph.export(export_inference_graph.ExportOptions(
      output_file=frozen, model_name=_MODEL, image_size=_SIZE, batch_size=1,
      dataset_dir=dataset_dir, quantize=True, checkpoint_path=qat_train_dir,
      tflite_output_file=tflite, tflite_type='uint8'))
  assert spec['input_arrays'] == ['input']
  assert spec['output_arrays'] == ['MobilenetV2/Predictions/Reshape_1']
  assert classification_model.read_io_spec(frozen) == spec
  graph_def = tf.compat.v1.GraphDef.FromString(open(frozen, 'rb').read())
  types = {n.op for n in graph_def.node}
  assert 'FakeQuantWithMinMaxVars' in types and 'VariableV2' not in types
  assert tflite_inspect.is_fully_integer(tflite)

  results_file = str(tmp_path / 'eval.json')
  results = eval_image_classifier.evaluate_tflite(eval_image_classifier.EvalOptions(
      dataset_dir=dataset_dir, tflite_file=tflite, model_name=_MODEL, eval_image_size=_SIZE,
      batch_size=4, results_file=results_file))
  assert results['num_images'] == 10
  assert json.load(open(results_file)) == results
  graph_results = eval_image_classifier.evaluate(eval_image_classifier.EvalOptions(
      dataset_dir=dataset_dir, checkpoint_path=qat_train_dir, model_name=_MODEL,
      eval_image_size=_SIZE, batch_size=4, quantize=True))
  assert graph_results['num_images'] == 10 and graph_results['global_step'] == 2
  assert 0.0 <= graph_results['top1'] <= graph_results['top5'] <= 1.0


def testPtq_FloatExportConvertsToFullInteger(dataset_dir, qat_train_dir, tmp_path):
  frozen = str(tmp_path / 'float.pb')
  spec = export_inference_graph.export(export_inference_graph.ExportOptions(
      output_file=frozen, model_name=_MODEL, image_size=_SIZE, batch_size=1,
      dataset_dir=dataset_dir, checkpoint_path=qat_train_dir))
  graph_def = tf.compat.v1.GraphDef.FromString(open(frozen, 'rb').read())
  assert not any(n.op.startswith('FakeQuant') for n in graph_def.node)
  images = ptq_image_classifier.representative_images(dataset_dir, _MODEL, _SIZE, num_images=8)
  model = ptq.convert_ptq_int8(frozen, spec['input_arrays'], spec['output_arrays'],
                               [spec['input_shape']], images)
  assert tflite_inspect.float_ops(model) == []


def testBadInput_ErrorsNameTheProblem(dataset_dir, tmp_path):
  with pytest.raises(ValueError, match="Unknown model variant 'mobilenet_v9'; valid names: .*"
                     'mobilenet_v2'):
    train_image_classifier.train(train_image_classifier.TrainOptions(
        train_dir=str(tmp_path / 't'), dataset_dir=dataset_dir, model_name='mobilenet_v9',
        max_number_of_steps=1))
  (tmp_path / 'empty').mkdir()
  with pytest.raises(ValueError, match="no TFRecord shard matching 'train-\\*'"):
    train_image_classifier.train(_train_options(str(tmp_path / 'empty'), str(tmp_path / 't'), 1))
  with pytest.raises(ValueError, match='--max_number_of_steps must be a positive step count'):
    train_image_classifier.train(_train_options(dataset_dir, str(tmp_path / 't'), 0))
  with pytest.raises(ValueError, match='--checkpoint_path=.*nothing: no such checkpoint'):
    train_image_classifier.train(_train_options(dataset_dir, str(tmp_path / 't'), 1,
                                                checkpoint_path=str(tmp_path / 'nothing')))
  with pytest.raises(ValueError, match='--tflite_type=uint8 needs --quantize'):
    export_inference_graph.export(export_inference_graph.ExportOptions(
        output_file=str(tmp_path / 'x.pb'), checkpoint_path='ckpt', num_classes=10,
        tflite_output_file=str(tmp_path / 'x.tflite')))
