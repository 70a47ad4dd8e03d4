#!/usr/bin/env bash
# The set-up shared by ./rlef and ./test: checks what the project needs beside the .NET 10 SDK and installs what is
# missing on Debian/Ubuntu when it runs as root or with passwordless sudo; otherwise it stops at once and prints the
# one command to run. Quiet when everything is there.
#
#   scripts/setup.sh            what `rlef` needs: bubblewrap (the sandbox's isolation) and python3 (what it runs)
#   scripts/setup.sh --tests    also Node.js and npm, and `npm ci` in tests/fixtures/npm: the tokenizer parity tests
#                               compare against @huggingface/tokenizers and @huggingface/jinja
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tests=0
[[ "${1:-}" == "--tests" ]] && tests=1

say() { echo "setup: $*" >&2; }

if ! command -v dotnet >/dev/null 2>&1 || ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
  say "the .NET 10 SDK is needed (https://dot.net/download, or on Debian/Ubuntu: apt-get install dotnet-sdk-10.0)"
  exit 1
fi

# Commands the project needs and the Debian package of each.
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[[ -x /usr/bin/python3 ]] || command -v python3 >/dev/null 2>&1 || missing+=(python3)
if (( tests )); then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

if (( ${#missing[@]} )); then
  install="apt-get update && apt-get install -y ${missing[*]}"
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing: ${missing[*]}; install them with your package manager (the sandbox needs bubblewrap and python3), then rerun"
    exit 1
  fi
  if [[ "$(id -u)" == 0 ]]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo)
  else
    say "missing: ${missing[*]}. Run this once, then rerun:"
    echo "    sudo sh -c '$install'" >&2
    exit 1
  fi
  say "installing ${missing[*]} ..."
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if (( tests )); then
  npm_dir="$root/tests/fixtures/npm"
  stamp="$npm_dir/node_modules/.package-lock.json"
  # npm ci writes node_modules/.package-lock.json; reinstall when the lock file is newer.
  if [[ ! -f "$stamp" || "$npm_dir/package-lock.json" -nt "$stamp" ]]; then
    say "npm ci in tests/fixtures/npm (the tokenizer reference packages) ..."
    if ! (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error); then
      say "npm ci failed (offline?): the tokenizer parity tests will compare against the committed golden file instead"
    fi
  fi
fi
