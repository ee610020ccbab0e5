# PID 1 of a real node: runs inside the node's own PID, mount, network and UTS namespaces
# (made by `unshare --kill-child`, so killing this process, or the test process that started
# `unshare`, kills every process of the node). Usage: init.sh NODE_DIR NODE_NAME
#
# It puts the node's own directories where the kubelet, containerd, CNI and runc hard-code
# host paths, masks the kernel tunables the kubelet rewrites (vm.overcommit_memory,
# kernel.panic, ...; the kubelet writes into copies instead), then reaps orphans until killed.
# None of these mounts is visible outside the node.
set -euo pipefail
node_dir=$1
name=$2

hostname "$name"
# `unshare` made every mount private (nothing leaks to the host); shared again inside the node
# so the kubelet's mount propagation and runc's HostToContainer mounts work.
mount --make-rshared /
for d in run var/lib var/log; do
    mount --bind "$node_dir/root/$d" "/$d"
done
mount --bind "$node_dir/root/etc/resolv.conf" /etc/resolv.conf
for f in vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops \
    kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
    [ -e "/proc/sys/$f" ] || continue
    copy="$node_dir/sysctl/${f//\//.}"
    cat "/proc/sys/$f" >"$copy"
    mount --bind "$copy" "/proc/sys/$f"
done
ip link set lo up
echo ready >"$node_dir/init-ready"

trap 'exit 0' TERM INT
# As PID 1, bash reaps every orphan re-parented to it when SIGCHLD interrupts `wait`.
while :; do
    sleep 3600 &
    wait $! || true
done
