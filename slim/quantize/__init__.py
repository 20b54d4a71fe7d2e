"""tf.contrib.quantize-compatible QAT graph rewriter (`import slim.quantize as contrib_quantize`)."""
from slim.quantize.quantize_graph import create_eval_graph
from slim.quantize.quantize_graph import create_training_graph
from slim.quantize.quantize_graph import experimental_create_eval_graph
from slim.quantize.quantize_graph import experimental_create_training_graph
# Also exported: the options object of the transforms' `apply(graph, options)`. Not in __all__,
# which stays tf.contrib.quantize's four functions.
from slim.quantize.options import QuantizeOptions
# Selective/configurable QAT (issue 16): schemes, annotations, quantizers.
from slim.quantize.annotation import annotate
from slim.quantize.scheme import LayerConfig
from slim.quantize.scheme import Rule
from slim.quantize.scheme import Scheme

__all__ = ['create_training_graph', 'create_eval_graph', 'experimental_create_training_graph',
           'experimental_create_eval_graph']
