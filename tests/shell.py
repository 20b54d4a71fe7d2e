"""Runs the project's shell scripts from tests: as a subprocess, with SKIP_SETUP_ENV=1 (the
scripts use the test's .venv instead of refreshing it), output captured as text."""
import os
import subprocess

_SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'scripts')


def run_script(name, args=(), env=None, timeout=300):
  """Runs `bash scripts/<name> args...` with os.environ plus `env`; returns the CompletedProcess."""
  full_env = dict(os.environ, SKIP_SETUP_ENV='1')
  full_env.update(env or {})
  return subprocess.run(['bash', os.path.join(_SCRIPTS, name)] + list(args), env=full_env,
                        capture_output=True, text=True, timeout=timeout)
