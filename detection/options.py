"""Flags shared by the detection entry scripts (each field is one flag, defined once)."""
import dataclasses
from typing import Optional

from datasets import build_coco_data
from detection import architecture
from slim.runtime import options

flag = options.flag


@dataclasses.dataclass
class ModelFlags:
  """The detector variant and its input size."""
  model_variant: str = flag(architecture.DEFAULT_VARIANT, 'Detector variant (%s).'
                            % ', '.join(architecture.names()), kind='enum',
                            enum_values=architecture.names())
  image_size: Optional[int] = flag(None, "Square input side; None uses the variant's (256).",
                                   kind='integer')

  def spec(self):
    return architecture.get(self.model_variant)

  def input_size(self):
    return self.image_size or self.spec().image_size


@dataclasses.dataclass
class DatasetFlags:
  """Where the TFRecords (datasets/build_coco_data.py) are."""
  dataset_dir: Optional[str] = flag(None, 'Folder of the detection TFRecords and labels.txt.',
                                    kind='string', required=True)

  def num_classes(self):
    """The largest category id of labels.txt (class ids stay in the COCO id space)."""
    return max(build_coco_data.read_labels(self.dataset_dir))


@dataclasses.dataclass
class QuantizeFlags:
  """DeepLab's QAT flag."""
  quantize_delay_step: int = flag(-1, 'Steps to start quantized training (fake quantization). '
                                  'If < 0, will not quantize model.')
