#!/usr/bin/env bash
# Installs what the demo, the tests and the benchmarks need on a Debian machine: OpenSSH, nginx,
# HAProxy and socat (the second router, reached through its admin socket),
# curl, Prometheus (and its node exporter), ansible-core and sudo from Debian's packages (as root),
# Docker Engine, a registry and compose v2 (scripts/setup-containers.sh), then the npm dependencies.
# None of the packaged services is used: the lab starts its own on free ports with its own config.
#
# It says what it does, and a second run is quick: apt is skipped when every package is installed,
# and `npm ci` when package-lock.json and the Node version are the ones of the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(nginx haproxy socat openssh-server openssh-client curl prometheus prometheus-node-exporter ansible-core sudo acl logrotate)
step() { printf '== setup: %s\n' "$*"; }

# Node: the version package.json's engines states (the dependencies' own engines agree: test/setup.test.ts).
wanted_node=$(node -p "require('./package.json').engines.node")
node -e "
  const [major, minor] = process.versions.node.split('.').map(Number);
  const [wantMajor, wantMinor] = '$wanted_node'.replace(/^>=\s*/, '').split('.').map(Number);
  if (major < wantMajor || (major === wantMajor && minor < wantMinor)) {
    console.error('Node ' + process.versions.node + ' is too old: this repository needs Node $wanted_node');
    process.exit(1);
  }" || exit 1
step "Node $(node -v) (needs $wanted_node), npm $(npm -v)"

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  step "system packages already installed: ${packages[*]}"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  step "apt-get update (about 10 s on a fresh machine)"
  apt-get update -qq -o DPkg::Lock::Timeout=300
  step "apt-get install ${missing[*]} (about 20 s on a fresh machine)"
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
  step "installed ${missing[*]}"
else
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "install them as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

# npm ci wipes and reinstalls node_modules (over a minute): only when the lockfile or Node changed.
stamp=node_modules/.setup-stamp
want_stamp="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node -v)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ]; then
  step "npm dependencies up to date (package-lock.json unchanged since the last install): npm ci skipped"
else
  step "npm ci (about 80 s on a fresh machine)"
  npm ci --no-audit --no-fund
  mkdir -p node_modules && printf "%s\n" "$want_stamp" > "$stamp"
fi
step "Docker Engine, registry and compose v2 (scripts/setup-containers.sh)"
bash scripts/setup-containers.sh
step "done"
