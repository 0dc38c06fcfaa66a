#!/usr/bin/env bash
# stop-local-slurm.sh - stop the daemons that start-local-slurm.sh started, and
# nothing else: a pid is signalled only if it was recorded in the run folder
# and /proc/PID/comm still names that daemon.
#
#   --cancel-jobs   scancel every job first, so no job outlives slurmd
#   --purge         then delete the controller state, slurmd spool and logs
#                   (the next start is a cold start; job ids begin at 1)
#   --keep-munge    leave munged running
set -euo pipefail
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH}"
RUNDIR=${SQ_SLURM_RUNDIR:-/run/squeeze-slurm}
cancel=0 purge=0 keep_munge=0
for arg in "$@"; do
  case "$arg" in
    --cancel-jobs) cancel=1;;
    --purge) purge=1;;
    --keep-munge) keep_munge=1;;
    -h|--help) sed -n '2,10p' "$0"; exit 0;;
    *) echo "stop-local-slurm: unknown option $arg (see --help)" >&2; exit 2;;
  esac
done
say() { printf '[stop-local-slurm] %s\n' "$*" >&2; }
running() {
  local pid=$1 name=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  case "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" in Z|X|'') return 1;; esac
}

if [ "$cancel" = 1 ] && scontrol ping 2>/dev/null | grep -q 'is UP'; then
  jobs=$(squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    say "cancelling jobs $jobs"
    # shellcheck disable=SC2086  # job ids are digits
    scancel $jobs || true
    for _ in $(seq 100); do [ -z "$(squeue -h -t R,CG -o %A 2>/dev/null)" ] && break; sleep 0.2; done
  fi
fi

daemons=(slurmd slurmctld)
[ "$keep_munge" = 1 ] || daemons+=(munged)
for name in "${daemons[@]}"; do
  file="$RUNDIR/$name.pid"
  [ -f "$file" ] || { say "$name was not started by start-local-slurm.sh; left alone"; continue; }
  pid=$(tr -dc 0-9 < "$file")
  if running "$pid" "$name"; then
    say "stopping $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 150); do running "$pid" "$name" || break; sleep 0.2; done
    if running "$pid" "$name"; then say "$name still running after 30 s: SIGKILL"; kill -KILL "$pid" || true; fi
  fi
  rm -f "$file"
done

if [ "$purge" = 1 ]; then
  for comm in /proc/[0-9]*/comm; do
    case "$(cat "$comm" 2>/dev/null)" in
      slurmctld|slurmd) say "a Slurm daemon we did not start is still running: not purging"; exit 0;;
    esac
  done
  say "purging controller state, spool and logs"
  rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
  rm -f /var/log/slurm/jobcomp.log /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log
fi
say "done"
