#!/bin/sh
# The maintenance backup: what the service keeps is its model and its reports.
set -eu
out="${BACKUP_DIR:-${RUNNER_TEMP:-/tmp}/agent-loop-backup}"
mkdir -p "$out"
tar -czf "$out/agent-loop-$(date -u +%Y%m%dT%H%M%SZ).tar.gz" model reports 2>/dev/null || tar -czf "$out/agent-loop-$(date -u +%Y%m%dT%H%M%SZ).tar.gz" model
echo "backup written to $out"
