"""tf.contrib.quantize-compatible QAT graph rewriter (`import slim.quantize as contrib_quantize`)."""
from slim.quantize.quantize_graph import create_eval_graph
from slim.quantize.quantize_graph import create_training_graph
from slim.quantize.quantize_graph import experimental_create_eval_graph
from slim.quantize.quantize_graph import experimental_create_training_graph

__all__ = ['create_training_graph', 'create_eval_graph', 'experimental_create_training_graph',
           'experimental_create_eval_graph']
