"""Graph names of the detection model (API: checkpoints, the freezer and the converter use them).

The export names are the Object Detection API's `export_tflite_ssd_graph.py` ones, so tools
written for its `tflite_graph.pb` (and the TFLite Task Library) find the same tensors.
"""
# Variable scopes of the decoder and the head (the backbone keeps its registry scope).
FPN_SCOPE = 'FPN'
HEAD_SCOPE = 'RetinaNetHead'
# FPN layers, per level: 1x1 lateral, 3x3 after the top-down sum, stride-2 extra levels, BN.
FPN_LATERAL = 'lateral_%d'
FPN_POST_HOC = 'post_hoc_%d'
FPN_COARSER = 'coarser_%d'
FPN_NORM = 'norm_%d'
# Head towers: convs shared by all levels, one BN per level and conv (Model Garden's names).
CLASS_TOWER_CONV = 'classnet-conv_%d'
CLASS_TOWER_NORM = 'classnet-conv-norm_%d_%d'  # level, conv index
BOX_TOWER_CONV = 'boxnet-conv_%d'
BOX_TOWER_NORM = 'boxnet-conv-norm_%d_%d'
CLASS_OUTPUT = 'scores'
BOX_OUTPUT = 'boxes'

# Export (OD API tflite_graph.pb names): float input in [-1, 1], raw outputs, anchors constant.
INPUT = 'normalized_input_image_tensor'
BOX_ENCODINGS = 'raw_outputs/box_encodings'
CLASS_PREDICTIONS = 'raw_outputs/class_predictions'
ANCHORS = 'anchors'
# The TFLite custom op and its four outputs: boxes [1, D, 4] (ymin, xmin, ymax, xmax normalized),
# classes [1, D], scores [1, D], number of detections [1].
POSTPROCESS = 'TFLite_Detection_PostProcess'
POSTPROCESS_OUTPUTS = tuple([POSTPROCESS] + ['%s:%d' % (POSTPROCESS, i) for i in (1, 2, 3)])
