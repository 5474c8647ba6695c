#!/usr/bin/env bash
# Stop the daemons that start-rgw.sh started from DATA_DIR (by recorded PID only).
# Usage: scripts/s3/stop-rgw.sh [DATA_DIR] [--purge]   (default ${TMPDIR:-/tmp}/spendtrail-rgw)
#   --purge also deletes DATA_DIR. With memstore (the default) the data is gone once the OSD stops anyway.
set -uo pipefail
D=${1:-${TMPDIR:-/tmp}/spendtrail-rgw}
[[ $D == --purge ]] && { D=${TMPDIR:-/tmp}/spendtrail-rgw; set -- "$D" --purge; }
for name in rgw osd mon; do
  f=$D/pids/$name.pid
  [[ -f $f ]] || continue
  pid=$(cat "$f")
  # only signal the PID if it still is the ceph daemon we launched (guards against PID reuse)
  if kill -0 "$pid" 2>/dev/null && grep -qaE 'radosgw|ceph-osd|ceph-mon' "/proc/$pid/cmdline"; then
    kill -TERM "$pid"
    for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && { echo "[stop-rgw] $name ($pid) ignored SIGTERM, SIGKILL" >&2; kill -KILL "$pid"; }
    echo "[stop-rgw] stopped $name ($pid)" >&2
  fi
  rm -f "$f"
done
[[ ${2:-} == --purge ]] && rm -rf "${D:?}"
exit 0
