#!/bin/bash
# `systemctl restart containerd` for one testbed real node (the node has no systemd): asks the
# node's containerd-service to start containerd again, stops containerd with SIGTERM (running
# containers survive, as with systemd's KillMode=process) and returns once the new containerd
# answers, or fails after 60 s. Runs on the host; written per node with its paths filled in.
set -euo pipefail
state=@STATE@
init_pid=@INIT_PID@
socket=@SOCKET@
old=$(cat "$state/containerd.pid")
touch "$state/restart-requested"
nsenter --target "$init_pid" --pid -- kill -TERM "$old"
deadline=$((SECONDS + 60))
while :; do
    now=$(cat "$state/containerd.pid" 2>/dev/null || true)
    if [ -n "$now" ] && [ "$now" != "$old" ] && ctr --address "$socket" version >/dev/null 2>&1; then
        echo "containerd restarted on @NODE@ (node pid $old -> $now)"
        exit 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "containerd on @NODE@ did not answer within 60 s of the restart" >&2
        exit 1
    fi
    sleep 0.2
done
