import { ROOT_ONLY_SHELL } from '../hosts';

/**
 * The helper's two upkeep verbs, for the weekly maintenance of a host whose deploy user is not
 * root. Neither takes anything the caller could turn into a command: what runs is fixed here, or in
 * files only root may write.
 *
 * - `upgrade`: the package upgrade (apt-get update, then a non-interactive upgrade that keeps the
 *   configuration files the admin changed). An admin who upgrades another way (unattended-upgrade,
 *   a fleet tool, a pinned list) installs that as the root-owned program
 *   `/usr/local/sbin/agent-loop-upgrade`, and this verb runs it instead. What the deploy user gains
 *   is the timing of an upgrade from the sources root configured, which is what maintenance asks.
 * - `rotate-logs [CONFIG]`: logrotate with CONFIG (default /etc/logrotate.conf), which must be a
 *   regular file that only root may write, in directories that only root may write: logrotate runs
 *   its scripts as root.
 *
 * Exit codes: 2 arguments refused; 40 the hook or the configuration is not root's alone; 41 the
 * upgrade failed; 42 logrotate failed. Their output is the last lines of what failed.
 */

/** Where an admin puts the program that replaces apt-get for `upgrade`. */
export const UPGRADE_HOOK = '/usr/local/sbin/agent-loop-upgrade';

/** Shell functions the helper's script defines; `upkeep VERB ARGS…` runs one verb. */
export const UPKEEP_SCRIPT = `${ROOT_ONLY_SHELL}
upkeep() {
  verb=$1; shift
  out=$(mktemp) || die 41 "could not make a temporary file"
  case $verb in
    upgrade)
      [ $# -eq 0 ] || die 2 "upgrade takes no arguments, got $#"
      hook=${UPGRADE_HOOK}
      if [ -e "$hook" ] || [ -L "$hook" ]; then
        root_alone "$hook" || die 40 "refused: $hook is not a regular file that only root may write"
        if "$hook" >"$out" 2>&1 </dev/null; then echo "upgraded by $hook"; rm -f "$out"; return 0; fi
        code=$?; tail -n 5 "$out" >&2; rm -f "$out"; die 41 "$hook failed (exit $code)"
      fi
      if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >"$out" 2>&1 </dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -qq -o Dpkg::Options::=--force-confold upgrade >>"$out" 2>&1 </dev/null; then
        echo "upgraded by apt-get"; rm -f "$out"; return 0
      fi
      tail -n 5 "$out" >&2; rm -f "$out"; die 41 "apt-get update or upgrade failed" ;;
    rotate-logs)
      [ $# -le 1 ] || die 2 "rotate-logs takes at most 1 argument (a logrotate configuration), got $#"
      config=\${1:-/etc/logrotate.conf}
      case $config in /*) ;; *) die 2 "refused: the logrotate configuration must be an absolute path" ;; esac
      case $config in *[!A-Za-z0-9._/-]*|*/../*|*/..)
        die 2 "refused: the logrotate configuration must be a path of letters, digits and . _ / -, without .." ;; esac
      root_alone "$config" || die 40 "refused: $config is not a regular file that only root may write"
      if logrotate "$config" >"$out" 2>&1 </dev/null; then echo "rotated with $config"; rm -f "$out"; return 0; fi
      tail -n 5 "$out" >&2; rm -f "$out"; die 42 "logrotate $config failed" ;;
  esac
}`;
