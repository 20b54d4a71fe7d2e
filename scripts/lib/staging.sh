# Staging helpers shared by the dataset scripts (download_and_convert_voc2012.sh,
# download_and_convert_ade20k.sh, convert_cityscapes.sh): find or extract the dataset you
# downloaded, check its layout, run a builder into a temporary folder, publish the result.
#
# Source it after `set -euo pipefail` with ROOT set to the checkout and LOG_TAG to the prefix of
# the progress lines ("[voc2012] ..."):
#   ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"; LOG_TAG=voc2012
#   source "$ROOT/scripts/lib/staging.sh"
# Nothing partial is left where a reader looks: every folder is built under PATH.tmp-<pid> and
# renamed into place when complete. This file owns the EXIT trap that removes those folders on
# failure, so a script that sources it must not set its own.

# abspath P: P made absolute against the current folder (portable; no GNU realpath needed).
abspath() { case "$1" in /*) echo "$1" ;; *) local p="${1#./}"; echo "$PWD/${p:-.}" ;; esac; }

# fail MESSAGE...: prints "ERROR: MESSAGE" on stderr and exits with status 1.
fail() { echo "ERROR: $*" >&2; exit 1; }

# log MESSAGE...: prints "[$LOG_TAG] MESSAGE" (progress on stdout).
log() { echo "[$LOG_TAG] $*"; }

# use_project_python: refreshes .venv (unless SKIP_SETUP_ENV=1) and sets PY to its python. Call
# it after the checks that need no Python, so a missing dataset is reported at once.
use_project_python() {
  if [ "${SKIP_SETUP_ENV:-0}" != 1 ]; then bash "$ROOT/scripts/setup_env.sh"; fi
  PY="$ROOT/.venv/bin/python"
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
}

# pick_source VAR ARG EXTRACTED ARCHIVE: sets VAR to the dataset the user gave (the script's
# argument ARG, else VAR from the environment), made absolute; when neither is set, to the
# folder EXTRACTED of an earlier run if it exists, else to the default ARCHIVE path.
pick_source() {
  local given="${2:-${!1:-}}"
  if [ -n "$given" ]; then
    printf -v "$1" '%s' "$(abspath "$given")"
  elif [ -d "$3" ]; then
    printf -v "$1" '%s' "$3"
  else
    printf -v "$1" '%s' "$4"
  fi
}

STAGING_TMPS=()
_staging_cleanup() {
  if [ ${#STAGING_TMPS[@]} -gt 0 ]; then rm -rf "${STAGING_TMPS[@]}"; fi
}
trap _staging_cleanup EXIT

# new_tmp VAR PATH: makes the empty folder PATH.tmp-<pid> (removed at exit) and stores it in VAR.
new_tmp() {
  local d="$2.tmp-$$"
  rm -rf "$d"; mkdir -p "$d"; STAGING_TMPS+=("$d"); printf -v "$1" '%s' "$d"
}

# publish DONE FINAL: replaces folder FINAL by the completed folder DONE (never half-filled);
# FINAL's parent is created if missing.
publish() {
  mkdir -p "$(dirname "$2")"
  rm -rf "$2.old-$$"
  if [ -e "$2" ]; then mv "$2" "$2.old-$$"; fi
  mv "$1" "$2"; rm -rf "$2.old-$$"
}

# extract ARCHIVE DEST: unpacks a .zip (with the project's python), .tar, .tar.gz or .tgz.
extract() {
  case "$1" in
    *.zip) "$PY" -m zipfile -e "$1" "$2" ;;
    *.tar|*.tar.gz|*.tgz) tar -xf "$1" -C "$2" ;;
    *) fail "$1: unsupported archive type (expected .tar, .tar.gz, .tgz or .zip)" ;;
  esac
}

# find_layout DIR "REQUIRED..." SUB...: prints the first of DIR/SUB ("." is DIR itself) that is
# a folder holding every REQUIRED folder (an empty list: just a folder); status 1 if none.
find_layout() {
  local dir="$1" required="$2" sub c r ok
  shift 2
  for sub in "$@"; do
    if [ "$sub" = . ]; then c="$dir"; else c="$dir/$sub"; fi
    [ -d "$c" ] || continue
    ok=1
    for r in $required; do [ -d "$c/$r" ] || { ok=0; break; }; done
    if [ "$ok" = 1 ]; then echo "$c"; return 0; fi
  done
  return 1
}

# stage_archive VAR ARCHIVE DEST FIND ERROR: extracts ARCHIVE beside DEST, takes the folder that
# the command FIND prints for the extraction root (see find_layout), publishes it as DEST and
# stores DEST in VAR; fails with ERROR when FIND finds nothing.
stage_archive() {
  local var="$1" archive="$2" dest="$3" find="$4" error="$5" stage found
  log "extracting $archive"
  new_tmp stage "$dest.extract"
  extract "$archive" "$stage"
  found="$("$find" "$stage")" || fail "$error"
  publish "$found" "$dest"
  printf -v "$var" '%s' "$dest"
}

# stage_source VAR SOURCE DEST FIND FOLDER_ERROR ARCHIVE_ERROR: the dataset folder of SOURCE,
# stored in VAR. A folder SOURCE is used in place (FIND picks the layout inside it, else
# FOLDER_ERROR); an archive is extracted and published as DEST (stage_archive, ARCHIVE_ERROR).
stage_source() {
  local found
  if [ -d "$2" ]; then
    found="$("$4" "$2")" || fail "$5"
    printf -v "$1" '%s' "$found"
  else
    stage_archive "$1" "$2" "$3" "$4" "$6"
  fi
}
