#!/usr/bin/env bash
# Installs the command-line tools segmentd's tests use, if they are missing.
#
#   scripts/ensure-tools.sh                 all of them
#   scripts/ensure-tools.sh kcat promtool   only these
#
# Tools (command: Debian package):
#   kcat:     kcat        a real third-party Kafka client, for black-box tests
#   promtool: prometheus  checks the Prometheus rules in deploy/ (the package also
#                         ships the server; we only use promtool)
#   zsh:      zsh         runs the zsh completion script of `segmentd completion zsh`
#
# Idempotent: a tool already on PATH is left alone. Installs with apt-get (as root, or
# through sudo when not root and sudo is there); `apt-get update` runs once, and only
# when something has to be installed. Exits non-zero, saying why, if a tool cannot be
# installed. Set ENSURE_TOOLS_DRY_RUN=1 to print what would be done.
set -euo pipefail

ALL_TOOLS=(kcat promtool zsh)

say() { printf 'ensure-tools: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

package_of() {
  case $1 in
    kcat) echo kcat ;;
    promtool) echo prometheus ;;
    zsh) echo zsh ;;
    *) return 1 ;;
  esac
}

tools=("$@")
if ((${#tools[@]} == 0)); then tools=("${ALL_TOOLS[@]}"); fi
case ${tools[0]} in
  -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
esac

missing=() packages=()
for tool in "${tools[@]}"; do
  pkg=$(package_of "$tool") || die "unknown tool '$tool' (known: ${ALL_TOOLS[*]})"
  if path=$(command -v "$tool"); then
    say "$tool: already installed ($path)"
  else
    missing+=("$tool")
    [[ " ${packages[*]} " == *" $pkg "* ]] || packages+=("$pkg")
  fi
done
((${#missing[@]} == 0)) && exit 0

command -v apt-get >/dev/null ||
  die "missing: ${missing[*]}; no apt-get here: install the packages (${packages[*]}) by hand"

SUDO=()
if [[ $(id -u) != 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    die "missing: ${missing[*]}; not root and no password-less sudo: run as root: apt-get update && apt-get install -y ${packages[*]}"
  fi
fi

run() {
  say "running: $*"
  [[ ${ENSURE_TOOLS_DRY_RUN:-0} == 1 ]] && return 0
  "$@"
}

say "missing: ${missing[*]}: installing Debian package(s) ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
# No package list yet (a fresh image) means apt-get install cannot find anything.
run "${SUDO[@]}" apt-get update -q >&2 || die "apt-get update failed"
# --no-install-recommends: the prometheus package would otherwise pull a long tail.
run "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}" >&2 ||
  die "apt-get install ${packages[*]} failed"

[[ ${ENSURE_TOOLS_DRY_RUN:-0} == 1 ]] && exit 0
for tool in "${missing[@]}"; do
  path=$(command -v "$tool") || die "$tool is still not on PATH after installing $(package_of "$tool")"
  say "$tool: installed ($path)"
done
