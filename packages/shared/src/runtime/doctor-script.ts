import { script, type Argv } from '../hosts';
import { drivesNginx, nginxControl } from '../traffic';
import { inspectArgs, keyValues, parseServerFacts, type RouterTarget, type ServerFacts } from './host-facts';

/**
 * The doctor: every prerequisite a deploy needs on a host, checked as the deploy user itself, each
 * missing one with the exact command that fixes it. Run on its own (host-setup phase doctor) and
 * before a deploy takes its lock, so an unprepared host fails with the whole list, not with the
 * first `Permission denied`.
 */
export interface DoctorTarget {
  stateDir: string;
  includeDir: string;
  nginx: readonly string[];
  /** Empty: not checked (the canary monitor reads it). */
  accessLog: string;
  /** The app whose server block is checked (its proxy_pass and access_log); empty or absent: not checked. */
  app?: string;
  /** The router that moves the host's traffic; absent: nginx. Another router's prerequisites are its registry entry's, and nginx is not checked. */
  router?: RouterTarget;
}

export interface DoctorFacts {
  user: string;
  root: boolean;
  stateDir: 'writable' | 'creatable' | 'denied';
  includeDir: 'writable' | 'missing' | 'denied';
  /** nginx-command starts with sudo. */
  viaSudo: boolean;
  nginxFound: boolean;
  nginxInSbin: string;
  nginxOk: boolean;
  nginxOutput: string;
  curl: boolean;
  accessLog: 'readable' | 'absent' | 'denied' | 'unchecked';
  sudo: boolean;
  /** The app's server block, from nginx -T through the helper; null when not checked or not known. */
  server: ServerFacts | null;
  /** The helper refused `inspect` (installed by an older host-setup): its first line. */
  serverUnknown: string;
  /** nginx was not checked: another router moves the traffic. */
  nginxSkipped?: boolean;
}

const DOCTOR_SCRIPT = `state_dir=$1; include_dir=$2; access_log=$3; app=$4; inspect_log=$5; n=$6; shift 6
echo "user=$(id -un)"; echo "uid=$(id -u)"
if [ -d "$state_dir" ]; then if [ -w "$state_dir" ]; then echo state=writable; else echo state=denied; fi
else
  parent=$state_dir; while [ ! -d "$parent" ]; do parent=$(dirname "$parent"); done
  if [ -w "$parent" ]; then echo state=creatable; else echo state=denied; fi
fi
if [ "$n" -eq 0 ]; then echo nginx=skipped
elif [ ! -d "$include_dir" ]; then echo include=missing; elif [ -w "$include_dir" ]; then echo include=writable; else echo include=denied; fi
# No nginx command line: another router moves the traffic, and nginx is not checked.
if [ "$n" -gt 0 ]; then
# The program nginx-command runs (after sudo and its options), then the helper's argv.
word=; via_sudo=no; i=0
for w; do
  [ "$i" -lt "$n" ] || break; i=$((i + 1))
  [ -z "$word" ] || continue
  case $w in sudo) via_sudo=yes ;; -*) [ "$via_sudo" = yes ] || word=$w ;; *) word=$w ;; esac
done
shift "$n"
echo "via_sudo=$via_sudo"
if command -v "$word" >/dev/null 2>&1; then echo nginx_found=yes; else echo nginx_found=no; fi
case "$word" in */*) ;; *) [ -x "/usr/sbin/$word" ] && echo "nginx_sbin=/usr/sbin/$word" ;; esac
if out=$("$@" check 2>&1 </dev/null); then echo nginx=ok; else echo nginx=failed; fi
printf '%s\\n' "$out" | sed 's/^/nginx_output=/'
if [ -n "$app" ]; then
  if facts=$("$@" inspect "$app" "$inspect_log" 2>&1 </dev/null); then echo "server=$facts"
  else code=$?; case $facts in *usage:*) printf 'server_unknown=%s\\n' "$(printf '%s\\n' "$facts" | head -n 1)" ;; *) echo "server_failed=$code" ;; esac; fi
fi
fi
if command -v curl >/dev/null 2>&1; then echo curl=yes; else echo curl=no; fi
if command -v sudo >/dev/null 2>&1; then echo sudo=yes; else echo sudo=no; fi
if [ -z "$access_log" ]; then echo log=unchecked
elif [ -e "$access_log" ]; then if [ -r "$access_log" ]; then echo log=readable; else echo log=denied; fi
else echo log=absent; fi`;

export function doctorCommand(target: DoctorTarget): Argv {
  const [app, inspectLog] = inspectArgs(target.app ? { app: target.app, accessLog: target.accessLog } : undefined);
  const nginx = drivesNginx(target.router?.name)
    ? [String(target.nginx.length), ...target.nginx, ...nginxControl(target.nginx, target.includeDir)]
    : ['0'];
  return script('al-doctor', DOCTOR_SCRIPT, [
    target.stateDir,
    target.includeDir,
    target.accessLog,
    app,
    inspectLog,
    ...nginx,
  ]);
}

export function parseDoctor(output: string): DoctorFacts {
  const { values, first } = keyValues(output);
  return {
    user: first('user'),
    root: first('uid') === '0',
    stateDir: (['writable', 'creatable'].includes(first('state'))
      ? first('state')
      : 'denied') as DoctorFacts['stateDir'],
    includeDir: (['writable', 'missing'].includes(first('include'))
      ? first('include')
      : 'denied') as DoctorFacts['includeDir'],
    viaSudo: first('via_sudo') === 'yes',
    nginxFound: first('nginx_found') === 'yes',
    nginxInSbin: first('nginx_sbin'),
    nginxOk: first('nginx') === 'ok',
    nginxOutput: (values.get('nginx_output') ?? []).join('\n').trim(),
    curl: first('curl') === 'yes',
    accessLog: (['readable', 'absent', 'denied'].includes(first('log'))
      ? first('log')
      : 'unchecked') as DoctorFacts['accessLog'],
    sudo: first('sudo') === 'yes',
    server: parseServerFacts(first('server')),
    serverUnknown: first('server_unknown'),
    ...(first('nginx') === 'skipped' ? { nginxSkipped: true } : {}),
  };
}
