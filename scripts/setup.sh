#!/usr/bin/env bash
# Installs what the demo, the tests and the benchmarks need on a Debian machine: OpenSSH, nginx,
# curl, Prometheus and ansible-core from Debian's packages (as root), Docker Engine, a registry and
# compose v2 (scripts/setup-containers.sh), then the npm dependencies.
# None of the packaged services is used: the lab starts its own on free ports with its own config.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(nginx openssh-server openssh-client curl prometheus ansible-core)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
else
  for tool in nginx /usr/sbin/sshd ssh-keygen curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool: install ${packages[*]} (as root: apt-get install -y --no-install-recommends ${packages[*]})" >&2; exit 1; }
  done
fi
bash scripts/setup-containers.sh  # Docker Engine, registry and compose v2 for the container tests
npm ci --no-audit --no-fund
