"""Options of the DeepLab entry scripts: one dataclass per script, its fields are its flags.

The original scripts defined their flags at import, each its own copy of the shared ones; here a
flag shared by several scripts is a field of one base class below, so its name, default and help
exist once (`slim.runtime.options`). Names and defaults are the original ones; flags this project
added say "New:" in their help. The model flags (`--model_variant`, `--atrous_rates` aside) stay
in `deeplab.common`, defined at import as in the original, and reach the library as
`common.ModelOptions`; the input-resize flags of common.py are passed to `from_flags` as the
non-flag fields of `InputResize`.
"""
import dataclasses
import os
from typing import List, Optional, Sequence

from slim.quantize import scheme as scheme_lib
from slim.runtime import options

from deeplab import common
from deeplab.core import mosaic

flag = options.flag


def parse_crop(values, flag_name):
  """Parses a "height,width" list flag into two ints (clear error otherwise)."""
  try:
    crop = [int(v) for v in values]
  except ValueError:
    crop = []
  if len(crop) != 2:
    raise ValueError('--%s=%s: expected two integers "height,width"'
                     % (flag_name, ','.join(map(str, values))))
  return crop

QUANTIZE_DELAY_HELP = 'Steps to start quantized training. If < 0, will not quantize model.'
COLORMAP_TYPES = ('pascal', 'cityscapes', 'ade20k', 'mapillary_vistas')


@dataclasses.dataclass
class InputResize:
  """common.py's resize flags (not flags of the scripts themselves)."""
  min_resize_value: Optional[int] = None
  max_resize_value: Optional[int] = None
  resize_factor: Optional[int] = None


@dataclasses.dataclass
class DatasetFlags:
  """The dataset of every script that reads TFRecords."""
  dataset: str = flag('pascal_voc_seg', 'Name of the segmentation dataset.')
  dataset_dir: Optional[str] = flag(None, 'Where the dataset reside.', kind='string',
                                    required=True)


_MOSAIC_DEFAULTS = mosaic.DEFAULT_CONFIG


@dataclasses.dataclass
class HeadFlags:
  """The head: ASPP rates and output stride (train/eval/vis default 16; export 8, as the
  original), and the new --segmentation_head with the MOSAIC cfg values users change."""
  atrous_rates: Optional[List[int]] = flag(None, 'Atrous rates for atrous spatial pyramid '
                                           'pooling.', kind='multi_integer')
  output_stride: int = flag(16, 'The ratio of input to output spatial resolution.')
  segmentation_head: str = flag(
      common.DEEPLAB_HEAD, 'New: the head on the backbone: deeplab (ASPP and decoder, the '
      'original) or mosaic (MOSAIC encoder/decoder, stride-4 logits; g3doc/mosaic.md).',
      kind='enum', enum_values=common.SEGMENTATION_HEADS)
  mosaic_pyramid_pool_bins: List[int] = flag(
      list(_MOSAIC_DEFAULTS.pyramid_pool_bins), 'New: grid sizes of the MOSAIC encoder\'s '
      'pyramid pooling (1 = global branch).', kind='multi_integer')
  mosaic_branch_filter_depths: List[int] = flag(
      list(_MOSAIC_DEFAULTS.branch_filter_depths), 'New: output depth of each channel group of '
      'the MOSAIC branch block.', kind='multi_integer')
  mosaic_conv_kernel_sizes: List[int] = flag(
      list(_MOSAIC_DEFAULTS.conv_kernel_sizes), 'New: depthwise kernel size of each channel '
      'group of the MOSAIC branch block (one per --mosaic_branch_filter_depths).',
      kind='multi_integer')
  mosaic_decoder_filters: int = flag(_MOSAIC_DEFAULTS.decoder_filters, 'New: filters of the '
                                     'MOSAIC decoder\'s concat-merge convs.')

  def head_kwargs(self):
    """The head fields as keywords of common.model_options_from_flags.

    Raises:
      ValueError: inconsistent --mosaic_* flags (with --segmentation_head=mosaic).
    """
    mosaic_config = None
    if self.segmentation_head == common.MOSAIC_HEAD:
      mosaic_config = dataclasses.replace(
          _MOSAIC_DEFAULTS, pyramid_pool_bins=self.mosaic_pyramid_pool_bins,
          branch_filter_depths=self.mosaic_branch_filter_depths,
          conv_kernel_sizes=self.mosaic_conv_kernel_sizes,
          decoder_filters=self.mosaic_decoder_filters)
    return dict(atrous_rates=self.atrous_rates, output_stride=self.output_stride,
                segmentation_head=self.segmentation_head, mosaic_config=mosaic_config)


@dataclasses.dataclass
class QuantizeFlags:
  """The QAT switch of train/eval/vis/export, and the scheme of a selective rewrite."""
  quantize_delay_step: int = flag(-1, QUANTIZE_DELAY_HELP)
  quantize_scheme: Optional[str] = flag(
      None, 'New: JSON quantization scheme (g3doc/scheme.md): per-scope rules leaving layers '
      'float or choosing bits, per-channel ranges and quantizers. Needs '
      '--quantize_delay_step >= 0; give the same file to train, eval, vis and export.',
      kind='string')

  def load_quantize_scheme(self):
    """The `slim.quantize.scheme.Scheme` of --quantize_scheme, or None without the flag.

    Raises:
      ValueError: a bad file (one line naming it and the key), or the flag without
        --quantize_delay_step >= 0.
    """
    if not self.quantize_scheme:
      return None
    if self.quantize_delay_step < 0:
      raise ValueError('--quantize_scheme=%s needs --quantize_delay_step >= 0 (the scheme '
                       'configures the QAT rewrite)' % self.quantize_scheme)
    return scheme_lib.load(self.quantize_scheme, flag='quantize_scheme')


@dataclasses.dataclass
class MasterFlags:
  """The session target of train/eval/vis."""
  master: str = flag('', 'BNS name of the tensorflow server')


@dataclasses.dataclass
class CheckpointWatchFlags(MasterFlags):
  """What eval.py and vis.py share: the folder they watch and the inference scales."""
  checkpoint_dir: Optional[str] = flag(None, 'Directory of model checkpoints.', kind='string',
                                       required=True)
  eval_interval_secs: int = flag(60 * 5, 'How often (in seconds) to run evaluation.')
  eval_scales: List[float] = flag([1.0], 'The scales to resize images for evaluation.',
                                  kind='multi_float')
  add_flipped_images: bool = flag(False, 'Add flipped images for evaluation or not.')


@dataclasses.dataclass
class TrainOptions(InputResize, MasterFlags, DatasetFlags, HeadFlags, QuantizeFlags):
  """deeplab/train.py."""
  num_clones: int = flag(1, 'Number of clones to deploy.')
  clone_on_cpu: bool = flag(False, 'Use CPUs to deploy clones.')
  # The cluster flags (slim.runtime.distributed; TF_CONFIG, when set, gives the same facts).
  num_replicas: int = flag(1, 'Number of worker replicas.')
  startup_delay_steps: int = flag(15, 'Number of training steps between replicas startup.')
  num_ps_tasks: int = flag(0, 'The number of parameter servers. If the value is 0, then the '
                           'parameters are handled locally by the worker.')
  task: int = flag(0, 'The task ID.')
  sync_replicas: bool = flag(True, 'New: with several replicas, average their gradients each '
                             'step (SyncReplicasOptimizer, --num_replicas of them); false: '
                             'asynchronous updates as the original, replica t starting at '
                             'global step t * --startup_delay_steps.')
  train_logdir: Optional[str] = flag(None, 'Where the checkpoint and logs are stored.',
                                     kind='string', required=True)
  log_steps: int = flag(10, 'Display logging information at every log_steps.')
  save_interval_secs: int = flag(1200, 'How often, in seconds, we save the model to disk.')
  save_summaries_secs: int = flag(600, 'How often, in seconds, we compute the summaries.')
  save_summaries_images: bool = flag(False, 'Save sample inputs, labels, and semantic '
                                     'predictions as images to summary.')
  profile_logdir: Optional[str] = flag(None, 'Where the profile files are stored.',
                                       kind='string')
  optimizer: str = flag('momentum', 'Which optimizer to use.', kind='enum',
                        enum_values=('momentum', 'adam'))
  learning_policy: str = flag('poly', 'Learning rate policy for training.', kind='enum',
                              enum_values=('poly', 'step'))
  base_learning_rate: float = flag(.0001, 'The base learning rate for model training.')
  decay_steps: float = flag(0.0, 'Decay steps for polynomial learning rate schedule.')
  end_learning_rate: float = flag(0.0, 'End learning rate for polynomial learning rate '
                                  'schedule.')
  learning_rate_decay_factor: float = flag(0.1, 'The rate to decay the base learning rate.')
  learning_rate_decay_step: int = flag(2000, 'Decay the base learning rate at a fixed step.')
  learning_power: float = flag(0.9, 'The power value used in the poly learning policy.')
  training_number_of_steps: int = flag(30000, 'The number of steps used for training')
  momentum: float = flag(0.9, 'The momentum value to use')
  adam_learning_rate: float = flag(0.001, 'Learning rate for the adam optimizer.')
  adam_use_learning_policy: bool = flag(
      False, 'New: Adam follows --learning_policy (--base_learning_rate and the schedule flags) '
      'instead of the constant --adam_learning_rate that the original always used.')
  adam_epsilon: float = flag(1e-08, 'Adam optimizer epsilon.')
  train_batch_size: int = flag(8, 'The number of images in each batch during training.')
  weight_decay: float = flag(0.00004, 'The value of the weight decay for training.')
  train_crop_size: Sequence[str] = flag('513,513', 'Image crop size [height, width] during '
                                        'training.', kind='list')
  last_layer_gradient_multiplier: float = flag(
      1.0, 'The gradient multiplier for last layers, which is used to boost the gradient of '
      'last layers if the value > 1.')
  upsample_logits: bool = flag(True, 'Upsample logits during training.')
  drop_path_keep_prob: float = flag(1.0, 'Probability to keep each path in the NAS cell when '
                                    'training.')
  tf_initial_checkpoint: Optional[str] = flag(None, 'The initial checkpoint in tensorflow '
                                              'format.', kind='string')
  initialize_last_layer: bool = flag(True, 'Initialize the last layer.')
  last_layers_contain_logits_only: bool = flag(False, 'Only consider logits as last layers or '
                                               'not.')
  slow_start_step: int = flag(0, 'Training model with small learning rate for few steps.')
  slow_start_learning_rate: float = flag(1e-4, 'Learning rate employed during slow start.')
  fine_tune_batch_norm: bool = flag(True, 'Fine tune the batch norm parameters or not.')
  min_scale_factor: float = flag(0.5, 'Mininum scale factor for data augmentation.')
  max_scale_factor: float = flag(2., 'Maximum scale factor for data augmentation.')
  scale_factor_step_size: float = flag(0.25, 'Scale factor step size for data augmentation.')
  hard_example_mining_step: int = flag(0, 'The training step in which exact hard example mining '
                                       'kicks off.')
  top_k_percent_pixels: float = flag(1.0, 'The top k percent pixels (in terms of the loss '
                                     'values) used to compute loss during training.')
  train_split: str = flag('train', 'Which split of the dataset to be used for training')


@dataclasses.dataclass
class EvalOptions(InputResize, CheckpointWatchFlags, DatasetFlags, HeadFlags, QuantizeFlags):
  """deeplab/eval.py."""
  eval_logdir: Optional[str] = flag(None, 'Where to write the event logs.', kind='string',
                                    required=True)
  eval_batch_size: int = flag(1, 'The number of images in each batch during evaluation.')
  eval_crop_size: Sequence[str] = flag('513,513', 'Image crop size [height, width] for '
                                       'evaluation.', kind='list')
  eval_split: str = flag('val', 'Which split of the dataset used for evaluation')
  eval_results_json: Optional[str] = flag(
      None, 'New: also write the last evaluation (mIoU, per-class IoU, checkpoint, step) to this '
      'JSON file.', kind='string')
  max_number_of_evaluations: int = flag(0, 'Maximum number of eval iterations. Will loop '
                                        'indefinitely upon nonpositive values.')


@dataclasses.dataclass
class VisOptions(InputResize, CheckpointWatchFlags, DatasetFlags, HeadFlags, QuantizeFlags):
  """deeplab/vis.py."""
  vis_logdir: Optional[str] = flag(None, 'Where to write the event logs.', kind='string',
                                   required=True)
  vis_batch_size: int = flag(1, 'The number of images in each batch during evaluation.')
  vis_crop_size: Sequence[str] = flag('513,513', 'Crop size [height, width] for visualization.',
                                      kind='list')
  vis_split: str = flag('val', 'Which split of the dataset used for visualizing results')
  colormap_type: str = flag('pascal', 'Visualization colormap type.', kind='enum',
                            enum_values=COLORMAP_TYPES)
  also_save_raw_predictions: bool = flag(False, 'Also save raw predictions.')
  max_number_of_iterations: int = flag(0, 'Maximum number of visualization iterations. Will '
                                       'loop indefinitely upon nonpositive values.')


@dataclasses.dataclass
class ExportOptions(InputResize, HeadFlags, QuantizeFlags):
  """deeplab/export_model.py."""
  checkpoint_path: Optional[str] = flag(None, 'Checkpoint path', kind='string', required=True)
  export_path: Optional[str] = flag(None, 'Path to output Tensorflow frozen graph.',
                                    kind='string', required=True)
  num_classes: int = flag(21, 'Number of classes.')
  crop_size: List[int] = flag([513, 513], 'Crop size [height, width].', kind='multi_integer')
  output_stride: int = flag(8, 'The ratio of input to output spatial resolution.')
  inference_scales: List[float] = flag([1.0], 'The scales to resize images for inference.',
                                       kind='multi_float')
  add_flipped_images: bool = flag(False, 'Add flipped images during inference or not.')
  quantize_per_channel: bool = flag(False, 'New: with --quantize_delay_step >= 0, use '
                                    'per-channel weight ranges (for the int8 TFLite path).')
  save_inference_graph: bool = flag(False, 'Save inference graph in text proto.')


@dataclasses.dataclass
class ConvertOptions:
  """deeplab/convert_to_tflite.py (common.py's --model_variant selects the input statistics)."""
  quantized_graph_def_path: Optional[str] = flag(None, 'Path to quantized graphdef.',
                                                 kind='string', required=True)
  output_tflite_path: Optional[str] = flag(None, 'Output TFlite model path.', kind='string',
                                           required=True)
  input_tensor_name: Optional[str] = flag(None, 'Input tensor to TFlite model. This usually '
                                          'should be the input tensor to model backbone.',
                                          kind='string', required=True)
  output_tensor_name: str = flag('ArgMax:0', 'Output tensor name of TFlite model. By default we '
                                 'output the raw semantic label predictions.')
  test_image_path: Optional[str] = flag(None, 'Path to an image to test the consistency between '
                                        'input graphdef / converted tflite model.',
                                        kind='string')
  inference_type: str = flag('uint8', 'New: uint8 (the original, per-tensor) or int8 (for a '
                             '--quantize_per_channel export).', kind='enum',
                             enum_values=('uint8', 'int8'))
  allow_float_ops: bool = flag(False, 'New: accept a converted model that still has float ops '
                               '(mixed model) instead of refusing it.')
  float_argmax: bool = flag(False, 'New: the ArgMax reads a dequantized (float) copy of its '
                            '8-bit input: the same labels, faster on x86 CPUs (TFLite\'s 8-bit '
                            'ARG_MAX kernel is slow there), but the model is no longer '
                            'integer-only.')
  model_variant: str = 'mobilenet_v2'


@dataclasses.dataclass
class PtqOptions(DatasetFlags):
  """deeplab/ptq_to_tflite.py (new; common.py's --model_variant selects the input statistics)."""
  float_graph_def_path: Optional[str] = flag(None, 'Float frozen graph (export_model.py without '
                                             '--quantize_delay_step).', kind='string',
                                             required=True)
  output_tflite_path: Optional[str] = flag(None, 'Output TFLite model path.', kind='string',
                                           required=True)
  input_tensor_name: Optional[str] = flag(None, 'Input tensor of the TFLite model: the backbone '
                                          'input, e.g. MobilenetV2/MobilenetV2/input:0.',
                                          kind='string', required=True)
  output_tensor_name: str = flag('ArgMax:0', 'Output tensor of the TFLite model.')
  calibration_split: str = flag('train', 'Split whose images calibrate the ranges.')
  num_calibration_images: int = flag(100, 'Number of calibration images.')
  io_type: str = flag('uint8', 'Model input type (the kernels are int8 either way).',
                      kind='enum', enum_values=('uint8', 'int8'))
  model_variant: str = 'mobilenet_v2'


@dataclasses.dataclass
class ReportOptions(DatasetFlags):
  """deeplab/quantization_report.py (new)."""
  graph_result: List[str] = flag([], '"label=path" of an eval.py --eval_results_json file (a '
                                 'graph row: mIoU only).', kind='multi_string')
  tflite: List[str] = flag([], '"label=path" of a .tflite model (evaluated here).',
                           kind='multi_string')
  eval_split: str = flag('val', 'Split to evaluate the TFLite models on.')
  latency_rounds: int = flag(10, 'Timed invocations per model (interleaved).')
  latency_threads: int = flag(1, 'TFLite interpreter threads for the latency figure.')
  eval_threads: int = flag(os.cpu_count() or 1, 'TFLite interpreter threads for the mIoU pass (the class ids do '
                           'not depend on it; the latency figure uses --latency_threads).')
  output_dir: Optional[str] = flag(None, 'Where report.md and report.json are written.',
                                   kind='string', required=True)
  reference_row: Optional[str] = flag(None, 'Label of the row the "mIoU vs" column compares '
                                      'every row to (in points); none: no such column.',
                                      kind='string')
  model_variant: str = 'mobilenet_v2'


@dataclasses.dataclass
class CompareHeadsOptions:
  """deeplab/compare_heads.py (new)."""
  report_json: Optional[str] = flag(None, 'report.json of quantization_report.py holding every '
                                    'row of the compared models.', kind='string', required=True)
  frozen_graph: List[str] = flag([], '"name=path" of a model\'s float frozen graph: rows whose '
                                 'label starts with "name " get its MAdds.', kind='multi_string')
  reference_suffix: str = flag('float + same fine-tune', 'Label suffix of each model\'s '
                               'reference row (the "mIoU vs" column compares its rows to it).')
  output_dir: Optional[str] = flag(None, 'Where report.md, report.json and the plot are written.',
                                   kind='string', required=True)


@dataclasses.dataclass
class EvaluateTfliteOptions(DatasetFlags):
  """deeplab/evaluate_tflite.py (new)."""
  tflite_path: Optional[str] = flag(None, 'The .tflite model to evaluate.', kind='string',
                                    required=True)
  eval_split: str = flag('val', 'Which split of the dataset used for evaluation')
  num_threads: int = flag(1, 'TFLite interpreter threads.')
  latency_runs: int = flag(20, 'Timed invocations for the latency figure.')
  model_variant: str = 'mobilenet_v2'
