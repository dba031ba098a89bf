/**
 * The switch helper's template (nginx-helper.ts): the shell function `render` that prints an
 * app's traffic include from the helper's checked arguments (`$app`, `$name`, the ports, the
 * weights, the split key and `$status`, the header's JSON). The include holds both colors'
 * upstreams, a `split_clients` (or a `map` at 0/100) that picks one per request, and the status
 * server that tells which weights are live.
 */
export const RENDER_SHELL = `render() {
  printf '# Managed by agent-loop-actions for the app "%s": every deploy rewrites this file.\\n' "$app"
  printf '# agent-loop: %s\\n' "$status"
  # Each color's upstream lists the other color as a backup: a request that an old worker still
  # sends to a color just stopped (connection refused) is retried on the other one. Only
  # connection errors fall back; an HTTP error from a color is its own.
  upstream='upstream %s_%s {\\n    server 127.0.0.1:%s max_fails=0;\\n    server 127.0.0.1:%s backup;\\n    keepalive 32;\\n}\\n'
  printf "$upstream" "$name" blue "$blue_port" "$green_port"
  printf "$upstream" "$name" green "$green_port" "$blue_port"
  if [ "$blue" -eq 100 ] || [ "$green" -eq 100 ]; then
    if [ "$blue" -eq 100 ]; then only=blue; else only=green; fi
    printf 'map $host $%s {\\n    default %s_%s;\\n}\\n' "$name" "$name" "$only"
  else
    # The smaller share is listed with its percentage, the larger takes the rest.
    if [ "$blue" -le "$green" ]; then minor=blue; share=$blue; major=green; else minor=green; share=$green; major=blue; fi
    printf 'split_clients "%s" $%s {\\n    %s%% %s_%s;\\n    * %s_%s;\\n}\\n' "$split_key" "$name" "$share" "$name" "$minor" "$name" "$major"
  fi
  printf 'server {\\n    listen 127.0.0.1:%s;\\n    server_name agent-loop-%s;\\n    access_log off;\\n' "$status_port" "$app"
  # The answer also names the worker that gave it ($pid), for the confirmation below.
  printf "    location = /agent-loop/%s {\\n        default_type application/json;\\n" "$app"
  printf "        return 200 '%s,\\"worker\\":\\$pid}\\\\\\\\n';\\n    }\\n}\\n" "\${status%?}"
}`;
