"""tf.contrib.model_pruning for TF 2.21 graph mode: `from slim import pruning`.

Same entry points as `from tensorflow.contrib.model_pruning.python import pruning`:
`apply_mask`, `get_pruning_hparams`, `Pruning` (`conditional_mask_update_op`, `mask_update_op`,
`add_pruning_summaries`), the `get_masks`/`get_thresholds`/`get_masked_weights`/`get_weights`
collection getters; plus `masked_variable_getter` (prune any tf_slim net unchanged),
`is_pruned_checkpoint`, `strip_pruning_vars_fn`/`graph_def_from_checkpoint` for export, and per-layer sparsity reports.
Dense-vs-sparse size reports live in `slim.pruning.size_report`; the export CLI is
`python -m slim.pruning.strip_pruning_vars`. See g3doc/pruning.md for the recipe.
"""
from slim.pruning.hparam import HParams
from slim.pruning.pruning import apply_mask
from slim.pruning.pruning import get_masked_weights
from slim.pruning.pruning import get_masks
from slim.pruning.pruning import get_pruning_hparams
from slim.pruning.pruning import get_pruning_variables
from slim.pruning.pruning import get_thresholds
from slim.pruning.pruning import get_weight_sparsity
from slim.pruning.pruning import get_weights
from slim.pruning.pruning import is_pruned_checkpoint
from slim.pruning.pruning import masked_variable_getter
from slim.pruning.pruning import Pruning
from slim.pruning.report import format_sparsity_report
from slim.pruning.report import overall_sparsity
from slim.pruning.report import sparsity_report
from slim.pruning.report import sparsity_report_from_graph_def
from slim.pruning.report import tflite_weight_sparsity
from slim.pruning.strip_pruning_vars_lib import graph_def_from_checkpoint
from slim.pruning.strip_pruning_vars_lib import strip_pruning_vars_fn
