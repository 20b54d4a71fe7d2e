"""Flags shared by the detection entry scripts (each field is one flag, defined once)."""
import dataclasses
from typing import Optional

from datasets import build_coco_data
from detection import architecture
from slim.runtime import distributed
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


@dataclasses.dataclass
class ClusterFlags:
  """DeepLab's cluster flags (slim.runtime.distributed; TF_CONFIG, when set, gives the same)."""
  master: str = flag('', 'BNS name of the tensorflow server')
  num_replicas: int = flag(1, 'Number of worker replicas.')
  startup_delay_steps: int = flag(15, 'Number of training steps between replicas startup.')
  num_ps_tasks: int = flag(0, 'The number of parameter servers. If the value is 0, then the '
                           'parameters are handled locally by the worker.')
  task: int = flag(0, 'The task ID.')
  sync_replicas: bool = flag(True, 'With several replicas, average their gradients each step '
                             '(SyncReplicasOptimizer, --num_replicas of them); false: '
                             'asynchronous updates, replica t starting at global step '
                             't * --startup_delay_steps.')

  def replica(self):
    """This process's slim.runtime.distributed.Replica (ClusterError on impossible flags)."""
    return distributed.resolve(master=self.master, num_replicas=self.num_replicas,
                               num_ps_tasks=self.num_ps_tasks, task=self.task,
                               sync=self.sync_replicas,
                               startup_delay_steps=self.startup_delay_steps)
