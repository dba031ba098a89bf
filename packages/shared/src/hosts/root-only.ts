/**
 * The one check, in shell, that only root may change a file root installs or runs: hosts' set-up
 * (hostsetup-script.ts) installs root's files with it, and the switch helper's upkeep verbs
 * (traffic/upkeep.ts) run an admin's hook or logrotate configuration only after it. Both run as
 * root on a host.
 */
export const ROOT_ONLY_SHELL = `# Whether the directory $1, and every one above it up to /, is root's and may be written by root alone:
# a file put there cannot be swapped by anyone else between its check and its use. Those above it may
# also be root's with the sticky bit, as /tmp, where nobody else may rename or remove root's entries;
# with a second argument \`no\`, $1 itself may be too.
root_only() {
  d=$1; own=\${2:-yes}
  while :; do
    set -- $(stat -c '%u %a' "$d" 2>/dev/null)
    [ "\${1-}" = 0 ] || return 1
    case \${2-} in *[2367]?|*[2367]) case $own\${2-} in no[1357]???) ;; *) return 1 ;; esac ;; esac
    own=no
    [ "$d" = / ] && return 0
    d=$(dirname "$d")
  done
}
# Whether $1 is a regular file (not a link) that only root may write, in directories up to / that only
# root may write (sticky ones as /tmp excepted): root runs what it holds.
root_alone() {
  [ -f "$1" ] && [ ! -L "$1" ] || return 1
  set -- "$1" $(stat -c '%u %a' "$1" 2>/dev/null)
  [ "\${2-}" = 0 ] || return 1
  case \${3-} in *[2367]?|*[2367]) return 1 ;; esac
  root_only "$(dirname "$1")" no
}`;
