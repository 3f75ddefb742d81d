#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for the Slurm test and CI: Debian's munge,
# slurmctld, slurmd and slurm-client, configured under one state folder, started and stopped by
# the PIDs recorded there (other daemons on the machine are left alone).
#
#   scripts/slurm_local.sh install   # apt-get install the packages (root; once per machine)
#   scripts/slurm_local.sh start     # start munged (if not running), slurmctld and slurmd
#   scripts/slurm_local.sh stop      # cancel our jobs, stop the daemons this script started
#
# State, config and logs live in $MINDLENS_SLURM_DIR (default /tmp/mindlens-slurm); clients
# (sbatch, squeue) find the cluster through SLURM_CONF=$MINDLENS_SLURM_DIR/slurm.conf.
set -euo pipefail
dir="${MINDLENS_SLURM_DIR:-/tmp/mindlens-slurm}"
conf="$dir/slurm.conf"

installed() { command -v slurmctld && command -v slurmd && command -v sbatch && command -v munged; } >/dev/null 2>&1
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$(cat "$1")/status" 2>/dev/null; }

case "${1:-}" in
install)
    if installed; then echo "slurm: already installed"; exit 0; fi
    [ "$(id -u)" = 0 ] || { echo "error: installing Slurm needs root (apt-get)" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        munge slurmctld slurmd slurm-client >/dev/null
    echo "slurm: installed $(slurmctld -V)"
    ;;
start)
    installed || { echo "error: Slurm is not installed (scripts/slurm_local.sh install)" >&2; exit 1; }
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    host="$(hostname -s)"
    getent hosts "$host" >/dev/null || echo "127.0.0.1 $host" >> /etc/hosts
    if ! pgrep -x munged >/dev/null; then
        [ -f /etc/munge/munge.key ] || mungekey --create >/dev/null
        install -d -o munge -g munge -m 0755 /run/munge
        runuser -u munge -- /usr/sbin/munged
        sleep 0.2
        cp /run/munge/munged.pid "$dir/munged.pid"
    fi
    munge -n | unmunge >/dev/null || { echo "error: munge does not work" >&2; exit 1; }
    node="$(slurmd -C | head -1)"
    cat > "$conf" <<CONF
ClusterName=mindlens
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$conf"
    slurmctld -c -f "$conf"   # -c: a cold start, no jobs or node states from an earlier run
    slurmd -f "$conf"
    for _ in $(seq 100); do
        if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
            echo "slurm: up (SLURM_CONF=$conf)"; exit 0
        fi
        sleep 0.1
    done
    echo "error: the node did not come up; see $dir/log/" >&2; exit 1
    ;;
stop)
    export SLURM_CONF="$conf"
    alive "$dir/slurmctld.pid" && scancel --full --user "$(id -un)" 2>/dev/null || true
    for d in slurmd slurmctld munged; do
        if alive "$dir/$d.pid"; then kill "$(cat "$dir/$d.pid")"; fi
    done
    for _ in $(seq 50); do
        alive "$dir/slurmd.pid" || alive "$dir/slurmctld.pid" || break
        sleep 0.1
    done
    rm -f "$dir/munged.pid"
    echo "slurm: stopped"
    ;;
*)
    echo "usage: scripts/slurm_local.sh install|start|stop" >&2; exit 2
    ;;
esac
