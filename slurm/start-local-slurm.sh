#!/usr/bin/env bash
# start-local-slurm.sh - bring up a real single-node Slurm (munged, slurmctld,
# slurmd) on localhost, for squeeze's integration tests and for trying
# `squeeze submit` on a laptop.  Run as root.  Safe to run again: what already
# runs is kept, a changed slurm.conf restarts only the daemons this script
# started.  Returns when the node is idle and has registered since our start.
#
# Packages come from scripts/setup.sh (munge slurmctld slurmd slurm-client).
#
# Settings, each with the reason (Slurm 22.05 on Debian 12, no systemd):
#   CgroupPlugin=cgroup/v1      slurmd always loads a cgroup plugin; "autodetect"
#                               dies without a usable /sys/fs/cgroup (containers)
#   ProctrackType=linuxproc, TaskPlugin=task/none: no cgroups needed at all
#   AccountingStorageType=none  no slurmdbd: plain `sacct` fails, so finished
#   JobCompType=jobcomp/filetxt jobs are written to a file that `sacct -c` reads
#   SchedulerParameters=batch_sched_delay=0   jobs start in <1 s instead of ~3 s
#   EnforcePartLimits=ALL       a job asking for more CPUs than the node has is
#                               rejected at submit time instead of pending forever
#   SelectTypeParameters=CR_Core  one job per core, so array tasks run side by side
#
# Environment:
#   SQ_SLURM_WAIT=60            seconds to wait for the node to become idle
#   SQ_SLURM_MAX_ARRAY_SIZE=1001  MaxArraySize (Slurm's default is 1001)
#   SQ_SLURM_MIN_JOB_AGE=300    seconds a finished job stays visible to squeue
#   SQ_SLURM_RUNDIR=/run/squeeze-slurm   where the pids of our daemons are kept
set -euo pipefail
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH}"

RUNDIR=${SQ_SLURM_RUNDIR:-/run/squeeze-slurm}
WAIT=${SQ_SLURM_WAIT:-60}
MAX_ARRAY=${SQ_SLURM_MAX_ARRAY_SIZE:-1001}
MIN_JOB_AGE=${SQ_SLURM_MIN_JOB_AGE:-300}
CONF=/etc/slurm/slurm.conf
CGCONF=/etc/slurm/cgroup.conf
STATE=/var/spool/slurmctld
SPOOL=/var/spool/slurmd
LOGS=/var/log/slurm
MARK="# written by squeeze slurm/start-local-slurm.sh"

say() { printf '[start-local-slurm] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (the daemons need it)"
for tool in munged mungekey munge unmunge slurmctld slurmd sinfo scontrol; do
  command -v "$tool" >/dev/null || die "$tool is missing: install munge, slurmctld, slurmd and slurm-client (scripts/setup.sh)"
done
started=$(date +%s)

# running(PID, NAME): the process exists, is not a zombie and is that program
running() {
  local pid=$1 name=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  case "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" in Z|X|'') return 1;; esac
}
pid_in() { [ -f "$1" ] && tr -dc 0-9 < "$1" || true; }

host=$(hostname -s)
getent hosts "$host" >/dev/null || { say "adding $host to /etc/hosts"; echo "127.0.0.1 $host" >> /etc/hosts; }
mkdir -p "$RUNDIR" "$STATE" "$SPOOL" "$LOGS" /etc/slurm
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
install -d -o munge -g munge -m 0711 /var/lib/munge

# --- munge: authentication between the Slurm daemons and the clients
[ -s /etc/munge/munge.key ] || { say "creating the munge key"; mungekey --create --keyfile=/etc/munge/munge.key; }
chown munge:munge /etc/munge/munge.key && chmod 0600 /etc/munge/munge.key
munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }
if ! munge_works; then
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge_works && break; sleep 0.1; done
  munge_works || die "munged did not start (see /var/log/munge/munged.log)"
  pid=$(pid_in /run/munge/munged.pid)
  running "$pid" munged && echo "$pid" > "$RUNDIR/munged.pid"
fi

# --- configuration (the node line is the machine's real topology from slurmd -C)
node=$(slurmd -C | head -n 1)
case "$node" in NodeName=*) ;; *) die "unexpected output of 'slurmd -C': $node";; esac
conf=$(mktemp) cg=$(mktemp)
trap 'rm -f "$conf" "$cg"' EXIT
cat > "$conf" <<EOF
$MARK
ClusterName=squeeze-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
EnforcePartLimits=ALL
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGS/jobcomp.log
MinJobAge=$MIN_JOB_AGE
MaxArraySize=$MAX_ARRAY
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
printf '%s\nCgroupPlugin=cgroup/v1\n' "$MARK" > "$cg"

changed=0
install_conf() {  # install_conf NEW DEST: keeps a copy of a file we did not write
  cmp -s "$1" "$2" && return 0
  if [ -e "$2" ] && ! grep -qF "$MARK" "$2"; then cp -p "$2" "$2.before-squeeze.$(date +%s)"; fi
  install -m 0644 "$1" "$2"
  changed=1
  say "wrote $2"
}
install_conf "$conf" "$CONF"
install_conf "$cg" "$CGCONF"

stop_ours() {  # stop_ours NAME: only a daemon whose pid we recorded
  local pid; pid=$(pid_in "$RUNDIR/$1.pid")
  if running "$pid" "$1"; then
    say "configuration changed: restarting $1 (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 150); do running "$pid" "$1" || break; sleep 0.2; done
    running "$pid" "$1" && kill -KILL "$pid"
  fi
  rm -f "$RUNDIR/$1.pid"
}
if [ "$changed" = 1 ]; then
  stop_ours slurmd
  stop_ours slurmctld
  running "$(pid_in /run/slurmctld.pid)" slurmctld && { scontrol reconfigure || true; }
fi

start() {  # start NAME PIDFILE: the daemon forks itself into the background
  rm -f "$2"
  "/usr/sbin/$1"
  local pid
  for _ in $(seq 100); do
    pid=$(pid_in "$2")
    if running "$pid" "$1"; then echo "$pid" > "$RUNDIR/$1.pid"; say "started $1 (pid $pid)"; return 0; fi
    sleep 0.1
  done
  tail -n 20 "$LOGS/$1.log" >&2 || true
  die "$1 did not start"
}

if running "$(pid_in /run/slurmctld.pid)" slurmctld; then say "slurmctld already running"; else start slurmctld /run/slurmctld.pid; fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.1; done
slurmd_since=0
if running "$(pid_in /run/slurmd.pid)" slurmd; then
  say "slurmd already running"
else
  slurmd_since=$(( $(date +%s) - 1 ))
  start slurmd /run/slurmd.pid
fi

# The controller restores the node's old state from $STATE, so "idle" can show
# before the new slurmd has registered: also require SlurmdStartTime >= our start.
registered() {
  [ "$slurmd_since" = 0 ] && return 0
  local t
  t=$(scontrol -o show node "$host" 2>/dev/null | grep -o 'SlurmdStartTime=[^ ]*' | cut -d= -f2)
  case "$t" in ''|None|Unknown) return 1;; esac
  [ "$(date -d "$t" +%s 2>/dev/null || echo 0)" -ge "$slurmd_since" ]
}
deadline=$(( $(date +%s) + WAIT ))
resumed=0
while :; do
  state=$(sinfo -h -n "$host" -o '%T' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle|mixed|allocated|completing) registered && break;;
    down*|drain*|fail*)
      if [ "$resumed" = 0 ]; then scontrol update NodeName="$host" State=RESUME 2>/dev/null || true; resumed=1; fi;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    sinfo -R >&2 || true
    tail -n 20 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
    die "node $host is not ready after ${WAIT}s (state '${state:-unknown}')"
  fi
  sleep 0.2
done
say "node $host is $state after $(( $(date +%s) - started ))s"
