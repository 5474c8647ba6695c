#!/usr/bin/env bash
# Start a throw-away single-node Ceph (1 mon, 1 OSD, no mgr, auth "none") + radosgw (beast) on 127.0.0.1:
# a real S3 with Object Lock for the audit-export tests (test/support/s3.ts runs this script).
# Usage: scripts/s3/start-rgw.sh [DATA_DIR]    (default ${TMPDIR:-/tmp}/spendtrail-rgw)
#   env: RGW_PORT(7480) MON_PORT(3300) OBJECTSTORE(memstore|bluestore) S3_ACCESS_KEY S3_SECRET_KEY
# Needs: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw curl jq uuid-runtime
# Idempotent and safe to run concurrently (a lock on DATA_DIR/start.lock): daemons already running
# from DATA_DIR are reused, missing ones are (re)started.
# Prints on stdout, one per line: S3_ENDPOINT= S3_ACCESS_KEY= S3_SECRET_KEY= S3_REGION= RGW_DATA_DIR=
# (progress and errors go to stderr). Stop with: scripts/s3/stop-rgw.sh DATA_DIR [--purge]
# Origin: the tested recipe in the shared services notes (s3-object-lock); keep the gotchas below.
set -euo pipefail
DEFAULT_DIR=${TMPDIR:-/tmp}/spendtrail-rgw
D=$(mkdir -p "${1:-$DEFAULT_DIR}" && cd "${1:-$DEFAULT_DIR}" && pwd)
CONF=$D/ceph.conf
RGW_PORT=${RGW_PORT:-7480}
MON_PORT=${MON_PORT:-3300}
if [[ -f $CONF ]]; then  # ports are fixed once the conf exists
  RGW_PORT=$(grep -oP 'endpoint=127\.0\.0\.1:\K\d+' "$CONF")
  MON_PORT=$(grep -oP '^mon_host = v2:127\.0\.0\.1:\K\d+' "$CONF")
fi
# memstore: RAM only, fastest, wiped whenever the OSD stops. bluestore: sparse 10 GiB file, survives restarts.
OBJECTSTORE=${OBJECTSTORE:-$( (grep -oP '^osd_objectstore = \K\w+' "$CONF" 2>/dev/null) || echo memstore)}
AK=${S3_ACCESS_KEY:-AUDITTESTACCESSKEY01}
SK=${S3_SECRET_KEY:-auditTestSecretKey0000000000000000000001}
CEPH=(ceph -c "$CONF" --connect-timeout 10)

for tool in ceph ceph-mon ceph-osd radosgw radosgw-admin curl jq uuidgen flock; do
  command -v "$tool" >/dev/null || { echo "[start-rgw] ERROR: $tool not installed (apt-get install ceph-mon ceph-osd radosgw curl jq uuid-runtime)" >&2; exit 127; }
done

# Several test processes may call this at once: one starts the cluster, the others wait and reuse it.
# (fd 9 is closed for the daemons in launch(), or they would hold the lock forever.)
exec 9>"$D/start.lock"
flock -w "${RGW_LOCK_WAIT:-200}" 9 || { echo "[start-rgw] ERROR: timed out waiting for $D/start.lock" >&2; exit 1; }

T0=$(date +%s%N)
log() { echo "[start-rgw +$((($(date +%s%N) - T0) / 1000000))ms] $*" >&2; }
pid() { cat "$D/pids/$1.pid" 2>/dev/null; }
alive() { local p; p=$(pid "$1") && kill -0 "$p" 2>/dev/null; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
s3_up() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$RGW_PORT/"; }
fail() { log "ERROR: $*; logs in $D/log"; tail -n 15 "$D"/log/*.log "$D"/log/*.out >&2 2>/dev/null; exit 1; }
wait_for() { # wait_for SECONDS DAEMON DESCRIPTION CMD...  (fails fast if DAEMON died)
  local t=$1 d=$2 what=$3; shift 3
  for ((i = 0; i < t * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    alive "$d" || fail "$d exited while waiting for $what"
    sleep 0.1
  done
  fail "timeout waiting for $what"
}
launch() { # launch NAME CMD...  (daemon in foreground mode, backgrounded here, PID recorded)
  local name=$1; shift
  log "starting $name"
  nohup "$@" -f -c "$CONF" </dev/null >>"$D/log/$name.out" 2>&1 9>&- &
  echo $! >"$D/pids/$name.pid"
}
stop() { local p; p=$(pid "$1") || return 0
  if kill -0 "$p" 2>/dev/null; then  # radosgw hangs in shutdown when its OSD is gone: SIGKILL after 3 s
    kill "$p"; for ((i = 0; i < 30; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true; while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; fi
  rm -f "$D/pids/$1.pid"; }

ensure_user() {
  if ! radosgw-admin -c "$CONF" user info --uid audit-test >/dev/null 2>&1; then
    radosgw-admin -c "$CONF" user create --uid audit-test --display-name "audit test" \
      --access-key "$AK" --secret-key "$SK" --max-buckets 100000 >/dev/null
  fi
}
report() {
  printf 'S3_ENDPOINT=http://127.0.0.1:%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\nS3_REGION=us-east-1\nRGW_DATA_DIR=%s\n' \
    "$RGW_PORT" "$AK" "$SK" "$D"
}

if alive mon && alive osd && alive rgw && s3_up; then
  [[ -f $D/user.done ]] || { ensure_user; touch "$D/user.done"; }  # a start that died before the user existed
  log "already running in $D (endpoint http://127.0.0.1:$RGW_PORT)"
  report
  exit 0
fi

# memstore keeps nothing once the OSD process is gone: start from scratch then
if [[ -f $CONF ]] && grep -q '^osd_objectstore = memstore' "$CONF" && ! alive osd; then
  stop rgw; stop mon
  rm -rf "${D:?}"/{ceph.conf,mon,osd,pids,run,log,keyring,monmap,osd.uuid,user.done}
fi

mkdir -p "$D"/{mon,osd,pids,run,log}
if [[ ! -f $CONF ]]; then
  cat >"$CONF" <<EOF
[global]
fsid = $(uuidgen)
mon_host = v2:127.0.0.1:$MON_PORT
public_addr = 127.0.0.1
ms_bind_msgr1 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = $D/run
admin_socket = $D/run/\$name.asok
log_file = $D/log/\$name.log
keyring = $D/keyring
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_max_pg_per_osd = 1000
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 1
mon_data_avail_crit = 0
osd_objectstore = $OBJECTSTORE
[mon]
mon_data = $D/mon/\$cluster-\$id
# commit map changes every 50 ms instead of 1 s (radosgw's first start creates its pools one by one)
paxos_propose_interval = 0.05
[osd]
osd_data = $D/osd/\$cluster-\$id
osd_memory_target = 939524096
# keep short PG logs: with the defaults every write stays in the PG log (RAM) for thousands of ops
osd_min_pg_log_entries = 100
osd_max_pg_log_entries = 200
osd_target_pg_log_entries_per_osd = 3000
osd_pg_log_dups_tracked = 200
osd_pg_log_trim_min = 50
bluestore_block_path = $D/osd/block
bluestore_block_create = true
bluestore_block_size = 10737418240
memstore_device_bytes = 4294967296
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw_data = $D/rgw
rgw_thread_pool_size = 64
# radosgw's built-in defaults (auth_client_required=cephx, ms_mon_client_mode=secure) cannot talk to
# an auth "none" cluster: it loops on "get_initial_auth_request returned -13" and never listens
auth_client_required = none
ms_mon_client_mode = crc
EOF
fi
RGW_PORT=$(grep -oP 'endpoint=127\.0\.0\.1:\K\d+' "$CONF")   # ports are fixed once the conf exists
MON_PORT=$(grep -oP '^mon_host = v2:127\.0\.0\.1:\K\d+' "$CONF")
OBJECTSTORE=$(grep -oP '^osd_objectstore = \K\w+' "$CONF")

# --- monitor ---
if [[ ! -d $D/mon/ceph-a ]]; then
  log "creating monitor"
  ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --clobber --fsid "$(ceph-conf -c "$CONF" --lookup fsid)" \
    --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" 2>>"$D/log/mon.out"
fi
if ! alive mon; then
  port_busy "$MON_PORT" && fail "port $MON_PORT (mon) already in use by another process"
  launch mon ceph-mon -i a
fi
wait_for 60 mon "monitor" "${CEPH[@]}" mon stat

# --- OSD ---
if [[ ! -f $D/osd/ceph-0/whoami ]]; then
  log "creating OSD ($OBJECTSTORE)"
  [[ -f $D/osd.uuid ]] || uuidgen >"$D/osd.uuid"
  id=$("${CEPH[@]}" osd new "$(cat "$D/osd.uuid")")
  [[ $id == 0 ]] || fail "unexpected OSD id '$id'"
  mkdir -p "$D/osd/ceph-0"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$(cat "$D/osd.uuid")" >>"$D/log/osd.out" 2>&1
fi
alive osd || launch osd ceph-osd -i 0
wait_for 120 osd "OSD up" bash -c "ceph -c '$CONF' osd dump --format json | jq -e '.osds[0].up == 1'"

# --- radosgw ---
if ! alive rgw; then
  port_busy "$RGW_PORT" && fail "port $RGW_PORT (S3) already in use by another process"
  launch rgw radosgw -n client.rgw.a
fi
wait_for 180 rgw "S3 endpoint http://127.0.0.1:$RGW_PORT" s3_up

ensure_user
touch "$D/user.done"
log "ready: endpoint=http://127.0.0.1:$RGW_PORT access_key=$AK objectstore=$OBJECTSTORE data=$D"
report
