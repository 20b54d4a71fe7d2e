"""COCO box AP of a detector (graph checkpoint or TFLite model) on a TFRecord split.

  detector = evaluation.TFLiteDetector('model_uint8.tflite')
  metrics = evaluation.coco_metrics(data.eval_examples(files, 256), detector.detect)
  metrics['ap'], metrics['ap50']      # fractions (pycocotools' AP@[.5:.95] and AP@.5)

Every detector maps a uint8 [H, W, 3] image to (boxes [D, 4] normalized ymin, xmin, ymax,
xmax; category ids [D]; scores [D]).
"""
import contextlib
import io

import numpy as np
from PIL import Image
from PIL import ImageDraw

from detection import anchors as anchors_lib
from detection import export_lib
from detection import names
from detection import postprocess
from slim.tflite import interpreter as interpreter_lib


class TFLiteDetector(object):
  """Runs a .tflite detector with the TFLite_Detection_PostProcess outputs."""

  def __init__(self, model, num_threads=None):
    self._interp = interpreter_lib.load(model, num_threads=num_threads)
    self._input = self._interp.get_input_details()[0]
    outputs = {d['name']: d['index'] for d in self._interp.get_output_details()}
    self._outputs = [outputs[n] for n in names.POSTPROCESS_OUTPUTS]
    self.image_size = int(self._input['shape'][1])

  def _feed(self, image):
    real = export_lib.to_model_input(image)[None]
    dtype = self._input['dtype']
    if dtype == np.float32:
      return real
    scale, zero_point = self._input['quantization']
    info = np.iinfo(dtype)
    return np.clip(np.round(real / scale + zero_point), info.min, info.max).astype(dtype)

  def detect(self, image):
    self._interp.set_tensor(self._input['index'], self._feed(image))
    self._interp.invoke()
    boxes, classes, scores, count = [self._interp.get_tensor(i) for i in self._outputs]
    n = int(count[0])
    return boxes[0, :n], classes[0, :n].astype(np.int64) + 1, scores[0, :n]


class GraphDetector(object):
  """Runs the export graph (float or QAT eval rewrite) in a session; numpy post-processing."""

  def __init__(self, sess, spec, image_size):
    self._sess = sess
    self._spec = spec
    graph = sess.graph
    self._input = graph.get_tensor_by_name(names.INPUT + ':0')
    self._fetches = [graph.get_tensor_by_name(n + ':0') for n in (names.BOX_ENCODINGS,
                                                                 names.CLASS_PREDICTIONS)]
    self._anchors = anchors_lib.generate(spec, image_size) / float(image_size)

  def detect(self, image):
    encodings, scores = self._sess.run(
        self._fetches, {self._input: export_lib.to_model_input(image)[None]})
    return postprocess.detect(encodings[0], scores[0], self._anchors, self._spec)


def _xywh(boxes, size):
  boxes = np.asarray(boxes, np.float64) * size
  return [[float(b[1]), float(b[0]), float(b[3] - b[1]), float(b[2] - b[0])] for b in boxes]


def coco_metrics(examples, detect_fn, category_ids, max_images=None, on_image=None):
  """COCO AP / AP50 of `detect_fn` over `examples` (data.eval_examples), with pycocotools.

  Args:
    examples: iterable of (uint8 image, normalized gt boxes, gt labels, source id).
    detect_fn: image -> (boxes, category ids, scores).
    category_ids: the dataset's category ids (labels.txt).
    max_images: stop after this many images (None: all).
    on_image: optional callback (index, image, detections) (e.g. to draw a few).

  Returns:
    {'ap', 'ap50', 'num_images', 'num_detections'}.
  """
  from pycocotools import coco as coco_api  # pylint: disable=g-import-not-at-top
  from pycocotools import cocoeval  # pylint: disable=g-import-not-at-top
  gt = {'images': [], 'annotations': [], 'categories': [{'id': int(c)} for c in category_ids]}
  results = []
  for index, (image, boxes, labels, _) in enumerate(examples):
    if max_images is not None and index >= max_images:
      break
    size = image.shape[0]
    gt['images'].append({'id': index + 1, 'height': size, 'width': size})
    for box, label in zip(_xywh(boxes, size), labels):
      gt['annotations'].append({'id': len(gt['annotations']) + 1, 'image_id': index + 1,
                                'category_id': int(label), 'bbox': box,
                                'area': box[2] * box[3], 'iscrowd': 0})
    detections = detect_fn(image)
    if on_image is not None:
      on_image(index, image, detections)
    det_boxes, det_classes, det_scores = detections
    for box, cls, score in zip(_xywh(np.clip(det_boxes, 0, 1), size), det_classes, det_scores):
      results.append({'image_id': index + 1, 'category_id': int(cls), 'bbox': box,
                      'score': float(score)})
  if not gt['images']:
    raise ValueError('no image to evaluate')
  if not results:
    return dict(ap=0.0, ap50=0.0, num_images=len(gt['images']), num_detections=0)
  with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its tables.
    ground_truth = coco_api.COCO()
    ground_truth.dataset = gt
    ground_truth.createIndex()
    evaluator = cocoeval.COCOeval(ground_truth, ground_truth.loadRes(results), 'bbox')
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
  return dict(ap=float(max(evaluator.stats[0], 0.0)), ap50=float(max(evaluator.stats[1], 0.0)),
              num_images=len(gt['images']), num_detections=len(results))


_COLOURS = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
            (145, 30, 180), (70, 240, 240))


def draw(image, detections, labels, min_score=0.3):
  """Returns a PIL image with the detections above `min_score` drawn (box, name, score)."""
  canvas = Image.fromarray(image)
  pen = ImageDraw.Draw(canvas)
  size = image.shape[0]
  for box, cls, score in zip(*detections):
    if score < min_score:
      continue
    ymin, xmin, ymax, xmax = [float(v) * size for v in box]
    colour = _COLOURS[int(cls) % len(_COLOURS)]
    pen.rectangle([xmin, ymin, xmax, ymax], outline=colour, width=2)
    pen.text((xmin + 2, ymin + 1), '%s %.2f' % (labels.get(int(cls), cls), score), fill=colour)
  return canvas
