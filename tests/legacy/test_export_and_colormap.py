"""slim's export_inference_graph without --checkpoint_path (a GraphDef, not frozen), and the
Mapillary Vistas colormap of deeplab/utils/get_dataset_colormap.py."""
import json

import numpy as np
import pytest
import tensorflow as tf

from deeplab import options as deeplab_options
from deeplab.utils import get_dataset_colormap as colormap
from slim import export_inference_graph

_VARIABLE_OPS = {'VariableV2', 'VarHandleOp'}


@pytest.mark.parametrize('quantize', [False, True])
def testExport_WithoutCheckpointWritesTheUnfrozenGraphDef(quantize, tmp_path):
  output = tmp_path / 'graph.pb'
  spec = export_inference_graph.export(export_inference_graph.ExportOptions(
      output_file=str(output), model_name='mobilenet_v3_small', image_size=33, batch_size=1,
      num_classes=5, quantize=quantize))
  graph_def = tf.compat.v1.GraphDef.FromString(output.read_bytes())
  types = {node.op for node in graph_def.node}
  # Variables stay variables (to be frozen later with a checkpoint, as the original).
  assert types & _VARIABLE_OPS
  names = {node.name for node in graph_def.node}
  assert 'MobilenetV3/Conv/weights' in names and spec['frozen'] is False
  assert spec['input_arrays'] == ['input'] and spec['input_shape'] == [1, 33, 33, 3]
  assert ('FakeQuantWithMinMaxVars' in types) == quantize
  assert any(n.endswith('weights_quant/min') for n in names) == quantize
  saved = json.loads((tmp_path / 'graph.pb.io.json').read_text())
  assert saved['frozen'] is False and saved['output_arrays'] == spec['output_arrays']


def testExport_TfliteNeedsACheckpoint(tmp_path):
  with pytest.raises(ValueError, match='--tflite_output_file needs --checkpoint_path'):
    export_inference_graph.export(export_inference_graph.ExportOptions(
        output_file=str(tmp_path / 'g.pb'), tflite_output_file=str(tmp_path / 'm.tflite'),
        num_classes=5))


def testMapillaryColormap_OriginalEntriesAndLimits():
  cmap = colormap.create_label_colormap(colormap.get_mapillary_vistas_name())
  assert colormap.get_mapillary_vistas_name() == 'mapillary_vistas'
  assert cmap.shape == (66, 3)
  assert colormap.get_dataset_colormap_max_entries('mapillary_vistas') == 66
  # Bird, ground animal, road (13), bicycle (52), ego vehicle (64) and unlabeled (65).
  np.testing.assert_array_equal(cmap[[0, 1, 13, 52, 64, 65]],
                                [[165, 42, 42], [0, 192, 0], [128, 64, 128], [119, 11, 32],
                                 [0, 0, 0], [0, 0, 0]])
  image = colormap.label_to_color_image(np.array([[0, 13], [52, 65]]), 'mapillary_vistas')
  np.testing.assert_array_equal(image[0, 1], [128, 64, 128])
  with pytest.raises(ValueError, match='label value too large'):
    colormap.label_to_color_image(np.array([[66]]), 'mapillary_vistas')
  assert 'mapillary_vistas' in deeplab_options.COLORMAP_TYPES
