"""Facts about the machine a benchmark ran on, so noisy or foreign runs can be recognised."""
import datetime
import os
import platform
import subprocess
import sys

import numpy as np
import tensorflow as tf


def _cpu_model():
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or 'unknown'


def _mem_total_gib():
  try:
    with open('/proc/meminfo') as f:
      for line in f:
        if line.startswith('MemTotal:'):
          return round(int(line.split()[1]) / 1024.0 ** 2, 1)
  except OSError:
    pass
  return None


def _git_commit():
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  try:
    out = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=root, capture_output=True,
                         text=True, timeout=10, check=False)
  except (OSError, subprocess.SubprocessError):
    return None
  return out.stdout.strip() or None


def load_average():
  """Returns os.getloadavg() as a list of 3 floats (1, 5 and 15 minutes)."""
  return [round(x, 2) for x in os.getloadavg()]


def machine_facts():
  """Returns a JSON-serialisable dict describing the machine and software.

  Returns:
    dict with cpu_model, nproc (usable CPUs), cpu_count, mem_total_gib, os, python,
    tensorflow, numpy, git_commit and a UTC timestamp.
  """
  return {
      'timestamp_utc': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
      'cpu_model': _cpu_model(),
      'nproc': len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count(),
      'cpu_count': os.cpu_count(),
      'mem_total_gib': _mem_total_gib(),
      'os': platform.platform(),
      'python': sys.version.split()[0],
      'tensorflow': tf.__version__,
      'numpy': np.__version__,
      'git_commit': _git_commit(),
  }
