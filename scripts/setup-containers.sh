#!/usr/bin/env bash
# Installs what the container tests need on a Debian machine (as root), without starting anything:
#   - Debian's docker.io (Engine + client), docker-registry (distribution) and busybox-static;
#   - docker compose v2 as a CLI plugin in /usr/local/lib/docker/cli-plugins/.
# The lab starts its own dockerd and registry on their own sockets, folders and loopback ports.
#
# Debian 12 only packages the old Python docker-compose 1.29 (no `docker compose`, no `up --wait`).
# The next release's docker-compose package is compose v2: one Go binary that runs on bookworm's libc.
# It is fetched with `apt-get download` from the mirror this machine already uses, through a
# throwaway source list, lists and cache folder: the system's own apt sources are not touched.
# Idempotent: a second run changes nothing and takes a second.
set -euo pipefail

packages=(docker.io docker-registry busybox-static)
plugin_dir=/usr/local/lib/docker/cli-plugins
# The Debian release whose docker-compose package is compose v2, for each release that lacks it.
declare -A next_release=([bookworm]=trixie [bullseye]=trixie)
apt_lock=(-o DPkg::Lock::Timeout=300)

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  for tool in dockerd docker registry; do
    command -v "$tool" >/dev/null || command -v "docker-$tool" >/dev/null ||
      echo "setup-containers: missing $tool; the container tests need it: as root, run scripts/setup-containers.sh (installs ${packages[*]} and compose v2)" >&2
  done
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get "${apt_lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get "${apt_lock[@]}" update -qq && apt-get "${apt_lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

compose_ok() { docker compose version --short 2>/dev/null | grep -Eq '^v?2\.'; }
if compose_ok; then exit 0; fi

. /etc/os-release
codename=${VERSION_CODENAME:-}
if apt-cache policy docker-compose 2>/dev/null | grep -Eq 'Candidate: 2\.'; then
  # This release packages compose v2 itself.
  apt-get "${apt_lock[@]}" install -y -qq --no-install-recommends docker-compose >/dev/null
  compose_ok && exit 0
fi
suite=${next_release[$codename]:-}
[ -n "$suite" ] || { echo "setup-containers: no compose v2 source known for Debian '$codename'" >&2; exit 1; }

# The Debian mirror this machine uses: the first URI that serves the release's main suite, read
# from its apt configuration (deb822 .sources files or one-line .list files).
mirror=$(
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk -v rel="$codename" '
        BEGIN { RS=""; FS="\n" }
        { uris=""; suites=""; types="";
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^URIs:/) { uris=$i; sub(/^URIs:[ \t]*/, "", uris) }
            if ($i ~ /^Suites:/) { suites=" " $i " "; sub(/^ Suites:/, "", suites) }
            if ($i ~ /^Types:/) { types=$i }
          }
          if (types ~ /deb( |$)/ && suites ~ (" " rel " ")) { split(uris, u, " "); print u[1] } }' "$f"
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk -v rel="$codename" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == rel) print $i }'
  } | head -n 1
) || true
[ -n "$mirror" ] || { echo "setup-containers: no Debian mirror for '$codename' found in /etc/apt/sources.list{,.d}" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$work/sources.list"
throwaway=(-o APT::Sandbox::User=root -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=-
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
apt-get "${throwaway[@]}" update -qq
(cd "$work" && apt-get "${throwaway[@]}" download -qq docker-compose)
dpkg-deb -x "$work"/docker-compose_*.deb "$work/root"
binary=$(find "$work/root" -type f -name docker-compose -perm -u+x | head -n 1)
[ -n "$binary" ] || { echo "setup-containers: the $suite docker-compose package holds no docker-compose binary" >&2; exit 1; }
install -D -m 0755 "$binary" "$plugin_dir/docker-compose"
compose_ok || { echo "setup-containers: $plugin_dir/docker-compose does not run here: $(docker compose version 2>&1)" >&2; exit 1; }
echo "docker compose $(docker compose version --short) installed in $plugin_dir"
