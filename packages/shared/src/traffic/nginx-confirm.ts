/**
 * The switch helper's confirmation (nginx-helper.ts), once `nginx -s reload` has exited 0: the
 * new weights are confirmed when a worker this reload started serves them and no process of the
 * previous configuration takes a request any more; otherwise the previous include is put back and
 * nginx reloaded onto it (exit 22). `CLOCK_SHELL` (the clock and a process's state from /proc) goes
 * before the helper writes the file; `CONFIRM_SHELL` ends the helper's text.
 */

export const CLOCK_SHELL = `# Milliseconds from the kernel's uptime (a read, not a process), or from date: for durations only.
now_ms() {
  if read -r up _ < /proc/uptime 2>/dev/null; then ms=$(( \${up%.*} * 1000 + (1\${up#*.} - 100) * 10 )); else ms=$(( $(date +%s%N) / 1000000 )); fi
}
# A process's state, parent and start time (clock ticks since boot, /proc/PID/stat's 22nd field), read
# by the shell itself. Start times are compared with each other only, never with /proc/uptime: a
# container may be given another uptime (LXCFS gives one its own), and every worker would look new.
proc_stat() {
  line=; read -r line < "/proc/$1/stat" 2>/dev/null || [ -n "$line" ] || return 1
  set -- \${line##*) }
  [ $# -ge 20 ] || return 1
  state=$1; ppid=$2; shift 19; start=$1
}`;

export const CONFIRM_SHELL = `deadline=$(( started + confirm_ms ))
# Workers of the previous configuration that only finish connections they had before the reload are
# awaited for a fifth of that (a second at most), then reported as draining.
drain=$(( confirm_ms / 5 )); [ "$drain" -le 1000 ] || drain=1000
drain_until=$(( started + drain ))
status_url="http://127.0.0.1:$status_port/agent-loop/$app"
# One curl asks the status server every 20 ms (--rate, a fresh connection each time so that a new
# worker answers as soon as there is one) and the shell reads its answers (once the shell stops
# reading, curl fails its next write and --fail-early ends it): a process per poll would cost more
# than the reload itself on a busy host. A curl without --rate (before 7.84) fails at once, and the
# loop below polls the slow way for the time that is left.
# Confirmed means that no process of the previous configuration takes a request any more. nginx's
# master forks the new workers, sleeps 100 ms, and only then tells the old ones to stop; each closes
# its listening sockets, finishes the connections it has (a request on one of them still gets the old
# weights, however late it comes) and exits. So the worker that answered must be one this reload
# started, as /proc here shows it (a pid from another PID namespace names another process here), and
# every other child of its master started before the reload must have exited or, once the drain time
# is over, hold no listening socket. What cannot be seen is never taken as done.
kids_of() {
  kids=
  if [ -r "/proc/$1/task/$1/children" ]; then read -r kids < "/proc/$1/task/$1/children"; return 0; fi
  # A kernel without CONFIG_PROC_CHILDREN: every process's parent.
  for stat in /proc/[0-9]*/stat; do
    kid=\${stat#/proc/}; kid=\${kid%/stat}
    proc_stat "$kid" && [ "$ppid" = "$1" ] && kids="$kids $kid"
  done
}
# Whether process $1 holds a listening TCP or unix socket of master $2's network namespace; a table
# that cannot be read counts as one.
listens() {
  fds=$(ls -l "/proc/$1/fd" 2>/dev/null) || return 0
  printf '%s\\n' "$fds" | awk -v net="/proc/$2/net" '
    $NF ~ /^socket:\\[[0-9]+\\]$/ { held[substr($NF, 9, length($NF) - 9)] = 1 }
    END {
      split("tcp tcp6", kinds, " ")
      for (k = 1; k <= 2; k++) {
        file = net "/" kinds[k]; while ((getline line < file) > 0) { split(line, w, " "); if (w[4] == "0A" && (w[10] in held)) exit 0 }
      }
      file = net "/unix"; while ((getline line < file) > 0) { split(line, w, " "); if (w[4] == "00010000" && (w[7] in held)) exit 0 }
      exit 1
    }'
}
# True once no process of the previous configuration under master $1 can take a request: all have
# exited, or the drain time is over and none listens ($left of them still draining). Else $holder may.
old_settled() {
  now_ms; left=0; holder=
  kids_of "$1"
  for kid in $kids; do
    proc_stat "$kid" && [ "$ppid" = "$1" ] && [ "$state" != Z ] && [ "$start" -lt "$born" ] || continue
    left=$(( left + 1 )); holder=$kid
    [ "$ms" -ge "$drain_until" ] || continue
    title=; read -r title < "/proc/$kid/cmdline" 2>/dev/null
    case $title in *"shutting down"*) ;; *"worker process"*) return 1 ;; esac
    if listens "$kid" "$1"; then return 1; fi
  done
  [ "$left" -eq 0 ] || [ "$ms" -ge "$drain_until" ]
}
# "live N all M [draining K]": N ms until a new worker served the new weights, M until no process of
# the previous configuration could take a request, K of them still finishing connections they had.
# Returns 1 to go on polling, 3 when confirming is impossible, 4 at the deadline; $why says why.
first=; why=
served() {
  case "$1" in *"\\"generation\\":\\"$generation\\""*) ;; *) return 1 ;; esac
  [ -n "$first" ] || { now_ms; first=$(( ms - started )); }
  worker=\${1##*\\"worker\\":}; worker=\${worker%%[!0-9]*}
  unseen="so whether a worker of the previous configuration still takes connections cannot be told"
  [ -n "$born" ] || { why="/proc/self/stat cannot be read here, $unseen"; return 3; }
  proc_stat "$worker" || {
    why="the worker that served the new weights (pid $worker) is not in /proc here (does nginx run in another PID namespace?), $unseen"
    return 1; }
  title=; read -r title < "/proc/$worker/cmdline" 2>/dev/null
  case $title in *"worker process"*) [ "$start" -ge "$born" ] ;; *) false ;; esac || {
    why="the worker that served the new weights (pid $worker) is not, in /proc here, an nginx worker this reload started \\
(does nginx run in another PID namespace?), $unseen"
    return 3; }
  master=$ppid
  until old_settled "$master"; do
    [ "$ms" -lt "$deadline" ] || {
      why="a worker of the previous configuration (pid $holder) still took new connections $confirm_ms ms after the reload"; return 4; }
    sleep 0.01
  done
  now_ms; printf 'live %s all %s' "$first" "$(( ms - started ))"; [ "$left" -eq 0 ] || printf ' draining %s' "$left"; echo; exit 0
}
await_served() {
  code=1
  while IFS= read -r body; do
    served "$body"; code=$?
    [ "$code" -lt 3 ] || break
    now_ms; [ "$ms" -lt "$deadline" ] || break
  done
  printf '%s' "$why"; return "$code"
}
polls=$(( confirm_ms / 20 + 1 ))
why=$(curl -s --fail-early --rate 50/s --max-time 1 -H 'Connection: close' -H "Host: agent-loop-$app" "$status_url?[1-$polls]" 2>/dev/null |
  await_served); code=$?
case $why in "live "*) echo "$why"; exit 0 ;; esac
while [ "$code" -lt 3 ]; do
  now_ms; [ "$ms" -lt "$deadline" ] || break
  body=$(curl -s --max-time 1 -H "Host: agent-loop-$app" "$status_url" 2>/dev/null) || body=
  served "$body"; code=$?
  [ "$code" -ge 3 ] || sleep 0.02
done
[ -n "$why" ] || why="its status server did not serve the new weights within $confirm_ms ms"
# The reload said yes but the new weights were not confirmed: put the old file back and reload onto
# it, so a later reload by anyone (a certificate hook) cannot send traffic this run gave up on.
# Only while the file is still the one written here: a newer run may have replaced it meanwhile
# (this program outlives a run that was killed), and its file must stay.
if ! grep -qF "\\"generation\\":\\"$generation\\"" "$file" 2>/dev/null; then
  die 22 "nginx reloaded, but $why; the include has been replaced since, and is left as it is"
fi
restore
if run_nginx -s reload >/dev/null 2>&1 </dev/null; then again=restored; else again="not reloaded"; fi
die 22 "nginx reloaded, but $why; the previous file was put back ($again)"`;
