"""Shared runtime of the entry scripts: options as flags, checkpoints, train loop, eval driver.

  options       entry-script options as dataclasses whose fields are the flags
  checkpoints   resolve a checkpoint argument, fine-tuning restore, restore for export
  train_loop    the session loop (resume, signals, NaN guard, progress, saves, summaries)
  eval_driver   evaluate each new checkpoint of a training folder
"""
