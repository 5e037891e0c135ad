#!/usr/bin/env bash
# A real Slurm job array (docs/slurm.md): a one-node cluster from Debian 12's slurm-wlm and
# munge, started here as root in a temporary folder (munged as user munge with a generated
# key; slurmctld and slurmd with SlurmUser=root, proctrack/linuxproc, task/none,
# select/cons_tres). `sbatch --array=0-3 --wait` runs a sweep as 4 array tasks, each taking
# its shard from SLURM_ARRAY_TASK_ID; `dln merge` joins them; the result is compared with
# the unsharded sweep byte for byte (run_id, threads and wall times aside; docs/slurm.md).
# The daemons started here are stopped on exit, also on failure.
#   tests/slurm_test.sh DLN_BINARY      exit 0 pass, 1 fail, 77 skipped (not root, no Slurm)
set -euo pipefail
DLN=$(readlink -f "${1:?usage: slurm_test.sh DLN_BINARY}")
skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "the Slurm test runs daemons as root; run it as root (CI does)"
for c in munged slurmctld slurmd sbatch squeue scontrol setpriv /usr/bin/python3; do
  command -v "$c" >/dev/null || skip "$c not found: apt-get install slurm-wlm munge (scripts/install-deps.sh --slurm)"
done
id munge >/dev/null 2>&1 || skip "no user munge (package munge)"

T=$(mktemp -d /tmp/dln-slurm.XXXXXX)
chmod 755 "$T"
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [[ $rc -ne 0 && $rc -ne 77 ]]; then
    echo "--- slurmctld.log"; tail -n 20 "$T/slurmctld.log" 2>/dev/null || true
    echo "--- slurmd.log"; tail -n 20 "$T/slurmd.log" 2>/dev/null || true
    echo "--- job logs"; tail -n 5 "$T"/job_*.out 2>/dev/null || true
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; exit 1; }

# munge: its own key, socket and files, as user munge
mkdir -p "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$T/munge"
chmod 711 "$T/munge" # clients need execute permission to reach the socket
chmod 400 "$T/munge/munge.key"
setpriv --reuid=munge --regid=munge --init-groups munged --foreground --force --key-file="$T/munge/munge.key" \
  --socket="$T/munge/munge.socket" --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" \
  --seed-file="$T/munge/munged.seed" >"$T/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -S "$T/munge/munge.socket" ]] && break; sleep 0.1; done
[[ -S "$T/munge/munge.socket" ]] || fail "munged did not start ($(cat "$T/munge/munged.log" 2>/dev/null))"

# slurm: one node, this host, ports chosen from the folder's name (parallel runs do not clash)
host=$(hostname -s)
base=$((20000 + $(cksum <<<"$T" | cut -d' ' -f1) % 20000))
mkdir -p "$T/state" "$T/spool"
cat >"$T/slurm.conf" <<EOF
ClusterName=dlntest
SlurmctldHost=$host
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=dlntest Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$T/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$T/slurmd.out" 2>&1 &
pids+=($!)
up=0
for _ in $(seq 100); do
  if sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed)'; then up=1; break; fi
  sleep 0.2
done
[[ $up -eq 1 ]] || fail "the node did not come up idle: $(sinfo -h -N 2>&1 || true)"

# the sweep: 2 depths x 4 seeds of a factorization (end points, so endpoints.json too)
cd "$T"
cat >spec.json <<'EOF'
{"rows": 3, "cols": 3, "width": 3, "method": "flow", "t_end": 40, "plot": false,
 "sweep": {"depth": [2, 3], "sigma": [0.1], "seed": {"from": 1, "count": 4}}}
EOF
env -u SLURM_ARRAY_TASK_ID "$DLN" sweep spec.json --out sw --quiet --threads 1
mv sw ref
cat >job.sh <<EOF
#!/bin/sh
exec "$DLN" sweep spec.json --out sw --quiet --threads 1
EOF
chmod +x job.sh
timeout 300 sbatch --array=0-3 --wait --chdir="$T" --output="$T/job_%a.out" --cpus-per-task=1 job.sh >sbatch.out ||
  fail "sbatch --array=0-3 --wait failed: $(cat sbatch.out)"
for i in 0 1 2 3; do
  grep -q "shard $i/4 from the Slurm job array" "job_$i.out" || fail "array task $i did not take shard $i/4: $(cat "job_$i.out")"
  [[ -f sw/ensemble.shard${i}of4.csv ]] || fail "array task $i wrote no sw/ensemble.shard${i}of4.csv"
done
"$DLN" merge sw --quiet --threads 1

# byte for byte: the table and the tally; the summary, manifest and data summaries without
# the lines of run_id and wall times (and, in the manifest, the hashes of these files)
for f in ensemble.csv endpoints.json data/0/target.npy data/0/W1_init.npy data/0/trajectory.csv; do
  cmp "ref/$f" "sw/$f" || fail "sw/$f differs from the unsharded sweep's"
done
strip() { grep -Ev '"(run_id|wall_seconds|run_wall_seconds|runs_per_second|train_wall_seconds)":' "$1"; }
for f in ensemble.json data/0/summary.json; do
  diff <(strip "ref/$f") <(strip "sw/$f") || fail "sw/$f differs from the unsharded sweep's beyond run_id and wall times"
done
/usr/bin/python3 - ref/manifest.json sw/manifest.json <<'EOF' || fail "sw/manifest.json differs from the unsharded sweep's"
import json, sys
def load(p):
    m = json.load(open(p)); m.pop("run_id")
    for f in m["files"]:
        if f["name"].endswith("summary.json") or f["name"] == "ensemble.json": f.pop("bytes"), f.pop("sha256")
    return m
sys.exit(load(sys.argv[1]) != load(sys.argv[2]))
EOF
echo "PASS: sbatch --array=0-3 + dln merge = the unsharded sweep ($(wc -l <sw/ensemble.csv) rows)"
