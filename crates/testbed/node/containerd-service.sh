# The node's service manager for containerd, as far as the runtime goes: what systemd does for
# `containerd.service` on a real node. Runs containerd and starts it again when the node's
# `restart-containerd` (`RealNode::restart_runtime_command`) asked for a restart before stopping
# it; any other exit of containerd ends this script with containerd's status.
# Usage: containerd-service.sh STATE_DIR CONFIG (inside the node's namespaces).
set -u
state=$1
config=$2
while :; do
    rm -f "$state/restart-requested"
    containerd --config="$config" </dev/null &
    pid=$!
    echo "$pid" >"$state/containerd.pid.new"
    mv "$state/containerd.pid.new" "$state/containerd.pid"
    rc=0
    wait "$pid" || rc=$?
    if [ -e "$state/restart-requested" ]; then
        echo "containerd-service: containerd (pid $pid) exited with $rc; starting it again as asked" >&2
        continue
    fi
    exit "$rc"
done
