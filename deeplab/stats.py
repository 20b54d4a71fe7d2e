"""Parameters and multiply-adds of DeepLab's inference graph, for any registered backbone.

The counting convention is `slim.nets.stats.graph_stats` (convolutions, matrix products and the
bilinear logits upsampling, per example; trainable variables). The graph is the model zoo's
MobileNetV2 recipe: no ASPP atrous rates, image-level pooling, ASPP with batch norm and concat
projection, no decoder, 21 classes, applied to the chosen backbone.

CLI:
  python -m deeplab.stats --model_variant=mobilenet_v2 --input_size=513 --output_stride=16
prints e.g. 'mobilenet_v2 DeepLab OS16 depth_multiplier=default input=513: params: 2.114M ...'
(model zoo: 2.75B MAdds; 0.88B with --depth_multiplier=0.5). An unset --depth_multiplier is the
record's multiplier (1.4 for mobilenet_v2_140).
"""

import dataclasses
from typing import Optional

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf

from deeplab import common
from deeplab import model
from slim.nets import stats
from slim.runtime import options

# Number of classes of the recipe (PASCAL VOC).
DEEPLAB_NUM_CLASSES = 21
# Name of the input placeholder of the counted graph.
IMAGES_NAME = 'images'


def build_deeplab(model_variant, input_size=513, depth_multiplier=None, output_stride=16,
                  num_classes=DEEPLAB_NUM_CLASSES, segmentation_head=common.DEEPLAB_HEAD,
                  input_width=None):
  """Builds DeepLab's inference graph with the model zoo's MobileNetV2 recipe (default graph).

  Args:
    model_variant: Registry name of the backbone.
    input_size: Crop height (and width, unless input_width is given).
    depth_multiplier: Backbone multiplier; None is the record's.
    output_stride: Backbone output stride.
    num_classes: Number of semantic classes.
    segmentation_head: common.SEGMENTATION_HEADS: the recipe's ASPP head, or MOSAIC's (its
      default cfg, deeplab/core/mosaic.py).
    input_width: Crop width; None is input_size (a square crop).

  Returns:
    The predictions dict of deeplab.model.predict_labels.

  Raises:
    ValueError: if `model_variant` is not registered (the message lists the valid names).
  """
  crop_size = [input_size, input_width or input_size]
  model_options = common.ModelOptions(
      outputs_to_num_classes={common.OUTPUT_TYPE: num_classes},
      crop_size=crop_size, atrous_rates=None, output_stride=output_stride,
      model_variant=model_variant, depth_multiplier=depth_multiplier,
      add_image_level_feature=True, decoder_output_stride=None,
      segmentation_head=segmentation_head)
  images = tf.compat.v1.placeholder(tf.float32, [1] + crop_size + [3], name=IMAGES_NAME)
  return model.predict_labels(images, model_options)


@dataclasses.dataclass
class DeeplabStatsOptions:
  """Flags of `python -m deeplab.stats` (--model_variant, --depth_multiplier: deeplab.common)."""
  input_size: int = options.flag(513, 'Crop height (and width without --input_width).')
  output_stride: int = options.flag(16, 'The ratio of input to output spatial resolution.')
  input_width: Optional[int] = options.flag(None, 'Crop width (default: --input_size).',
                                            kind='integer')
  num_classes: int = options.flag(DEEPLAB_NUM_CLASSES, 'Number of semantic classes.')
  segmentation_head: str = options.flag(common.DEEPLAB_HEAD, 'The head: deeplab (the model '
                                        'zoo recipe) or mosaic.', kind='enum',
                                        enum_values=common.SEGMENTATION_HEADS)


def run(model_variant, depth_multiplier, opts):
  """Builds the graph of the arguments and returns the report line.

  Args:
    model_variant: Registry name.
    depth_multiplier: Backbone multiplier; None is the record's.
    opts: A `DeeplabStatsOptions`.

  Returns:
    The line (see the module docstring).
  """
  graph = tf.Graph()
  with graph.as_default():
    build_deeplab(model_variant, input_size=opts.input_size, depth_multiplier=depth_multiplier,
                  output_stride=opts.output_stride, num_classes=opts.num_classes,
                  segmentation_head=opts.segmentation_head, input_width=opts.input_width)
  what = '%s OS%d' % ('DeepLab' if opts.segmentation_head == common.DEEPLAB_HEAD else 'MOSAIC',
                      opts.output_stride)
  size = (opts.input_size if opts.input_width in (None, opts.input_size)
          else '%dx%d' % (opts.input_size, opts.input_width))
  return stats.describe(model_variant, what, depth_multiplier, size, stats.graph_stats(graph))


def main():
  """Entry point: parses the flags, prints the stats line."""
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  options.define_flags(DeeplabStatsOptions)
  flag_values = flags.FLAGS

  def _run(argv):
    del argv
    # deeplab.common defines --depth_multiplier with the original default 1.0; unset, it means
    # the record's multiplier (as DeepLab's ModelOptions passes None).
    depth_multiplier = (flag_values.depth_multiplier
                        if flag_values['depth_multiplier'].present else None)
    print(run(flag_values.model_variant, depth_multiplier,
              options.from_flags(DeeplabStatsOptions)))

  app.run(_run)


if __name__ == '__main__':
  main()
