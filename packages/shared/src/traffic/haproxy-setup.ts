import { ConfigurationError } from '../action';
import { script, USER_NAME, type Argv, type Remote, type SetupItem } from '../hosts';
import type { HaproxySite } from './haproxy';
import { statsSocketLine } from './haproxy-prerequisites';

/**
 * host-setup's part for HAProxy, run as the admin login (root, or sudo without a password): the
 * deploy user reaches HAProxy only through its admin socket, so nothing is installed and no file of
 * HAProxy is written; what the deploy user lacks (socat, the socket, its group) is left to do, with
 * the exact command. Prints `ok=` and `todo=` lines, as the rest of the set-up.
 */
const SETUP_SCRIPT = `user=$1; socket=$2; socket_line=$3
if [ "$(id -u)" = 0 ]; then as_root() { "$@"; }
elif sudo -n true 2>/dev/null; then as_root() { sudo -n "$@"; }
else exit 0; fi
if command -v socat >/dev/null 2>&1; then echo "ok=socat is installed (HAProxy's runtime API is reached through it)"
else echo "todo=socat is not installed, and the HAProxy router sends its commands through it: sudo apt-get install -y --no-install-recommends socat"; fi
if [ ! -e "$socket" ]; then
  echo "todo=HAProxy's admin socket $socket does not exist (haproxy-socket): \\
in the global section of HAProxy's configuration write '$socket_line', then reload HAProxy and run host-setup again"
elif [ ! -S "$socket" ]; then echo "todo=$socket is not a socket: give haproxy-socket the path of HAProxy's stats socket"
elif as_root runuser -u "$user" -- test -w "$socket" 2>/dev/null; then echo "ok=$user may use HAProxy's admin socket $socket (through its group)"
else
  group=$(stat -c %G "$socket"); mode=$(stat -c %a "$socket")
  # Through the socket's group when it has one of its own that may write; else a group to give it.
  case $mode in *[2367][0-7]) group_writes=yes ;; *) group_writes=no ;; esac
  if [ "$group" != root ] && [ "$group_writes" = yes ]; then
    echo "todo=$user may not use HAProxy's admin socket $socket (group $group, mode $mode): \\
sudo usermod -aG $group $user (the next SSH login of $user has it)"
  else
    echo "todo=$user may not use HAProxy's admin socket $socket (group $group, mode $mode): \\
in the global section of HAProxy's configuration write '$socket_line', \\
then: sudo groupadd -f agent-loop && sudo usermod -aG agent-loop $user && sudo systemctl reload haproxy"
  fi
fi`;

export function haproxySetupCommand(site: HaproxySite, deployUser: string): Argv {
  if (!USER_NAME.test(deployUser)) throw new ConfigurationError(`'${deployUser}' is not a user name`);
  return script('al-haproxy-setup', SETUP_SCRIPT, [deployUser, site.socket, statsSocketLine(site.socket)]);
}

/** host-setup's items for HAProxy on one host: what is fine, and what is left to do with its command. */
export async function haproxySetup(remote: Remote, site: HaproxySite, deployUser: string): Promise<SetupItem[]> {
  const result = await remote.run(haproxySetupCommand(site, deployUser), { timeoutMs: 30_000 });
  return result.stdout.split('\n').flatMap((line): SetupItem[] => {
    const match = /^(ok|todo)=(.+)$/.exec(line);
    return match ? [{ outcome: match[1] as 'ok' | 'todo', what: match[2] as string }] : [];
  });
}
