"""Graph names of tf.contrib.model_pruning, kept identical: they are API.

Checkpoints written by contrib-pruned models hold `<layer>/mask`, `<layer>/threshold` and
`<name>/last_mask_update_step`; `strip_pruning_vars` finds masked weights by the substring
`masked_weight`; and the QAT rewriter sees the masked kernel as a weight because it is a `Mul`
feeding the layer op (the original put it in a `weights/` name scope for the same reason).
"""

# Graph collections (contrib `core_layers.MASK_COLLECTION` etc.).
MASK_COLLECTION = 'masks'
THRESHOLD_COLLECTION = 'thresholds'
MASKED_WEIGHT_COLLECTION = 'masked_weights'
WEIGHT_COLLECTION = 'kernel'

# Variables created next to each pruned weight, and the Pruning object's step variable.
MASK_VARIABLE = 'mask'
THRESHOLD_VARIABLE = 'threshold'
LAST_MASK_UPDATE_STEP = 'last_mask_update_step'

# Base name of the kernel whose pruning variables take the contrib names `<layer>/mask` and
# `<layer>/threshold` (other kernels get `<layer>/<kernel>/mask`, see masked_variable_getter).
STANDARD_KERNEL_NAME = 'weights'

# Op names: the masked kernel (relative to the current name scope), its marker for stripping,
# and the mask-update ops under the hparams `name` scope.
MASKED_WEIGHT_NAME = 'weights/masked_weight'
MASKED_WEIGHT_SUFFIX = 'masked_weight'
PRUNING_OPS_SUFFIX = '_pruning_ops'
SPARSITY_OP = 'sparsity'
MASK_UPDATE_OP = 'mask_update'
LAST_MASK_UPDATE_STEP_ASSIGN = 'last_mask_update_step_assign'
SUMMARIES_SUFFIX = '_summaries'

# Block pooling functions for block sparsity.
BLOCK_POOLING_FUNCTIONS = ('AVG', 'MAX')
