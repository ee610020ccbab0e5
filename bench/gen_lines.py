#!/usr/bin/env python3
"""Writes N deterministic, realistic node log lines (kernel + dockerd), about 1% of them matching
node-problem-detector's kernel-monitor, docker-monitor or readonly-monitor rules.
Usage: gen_lines.py N OUT"""
import random
import sys

n, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(20261123)

normal = [
    lambda: f"eth0: renamed from veth{rng.randrange(16**7):07x}",
    lambda: f"IPv6: ADDRCONF(NETDEV_CHANGE): cali{rng.randrange(16**11):011x}: link becomes ready",
    lambda: f"cni0: port {rng.randrange(1, 64)}(veth{rng.randrange(16**8):08x}) entered forwarding state",
    lambda: f"device veth{rng.randrange(16**8):08x} entered promiscuous mode",
    lambda: f"audit: type=1400 audit({rng.randrange(1700000000, 1800000000)}.{rng.randrange(1000):03d}:{rng.randrange(99999)}): apparmor=\"STATUS\" operation=\"profile_load\" profile=\"unconfined\" name=\"cri-containerd.apparmor.d\" pid={rng.randrange(1, 65535)} comm=\"apparmor_parser\"",
    lambda: f"EXT4-fs (sda{rng.randrange(1, 4)}): mounted filesystem with ordered data mode. Opts: (null)",
    lambda: f"overlayfs: upper fs does not support RENAME_WHITEOUT.",
    lambda: f"nfs: server 10.0.{rng.randrange(255)}.{rng.randrange(255)} OK",
    lambda: f"time=\"2026-11-23T10:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(10**9):09d}Z\" level=info msg=\"ignoring event\" container={rng.randrange(16**16):016x} module=libcontainerd namespace=moby topic=/tasks/delete type=\"*events.TaskDelete\"",
    lambda: f"time=\"2026-11-23T10:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z\" level=warning msg=\"cleaning up after shim disconnected\" id={rng.randrange(16**16):016x} namespace=moby",
    lambda: f"I1123 10:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(10**6):06d}    {rng.randrange(1000, 9999)} kubelet.go:2469] \"SyncLoop (PLEG): event for pod\" pod=\"default/web-{rng.randrange(16**5):05x}\" event={{ID:{rng.randrange(16**8):08x} Type:ContainerStarted}}",
    lambda: f"Memory cgroup stats for /kubepods/burstable/pod{rng.randrange(16**8):08x}: cache:{rng.randrange(10**6)}KB rss:{rng.randrange(10**6)}KB",
    lambda: f"TCP: request_sock_TCP: Possible SYN flooding on port {rng.randrange(1, 65535)}. Sending cookies.  Check SNMP counters.",
    lambda: f"xfs_fsr[{rng.randrange(1, 65535)}]: running on /dev/nvme0n1p{rng.randrange(1, 4)}",
]
matching = [
    lambda: f"Out of memory: Killed process {rng.randrange(1, 65535)} (java) total-vm:{rng.randrange(10**7)}kB, anon-rss:{rng.randrange(10**7)}kB, file-rss:{rng.randrange(10**5)}kB, shmem-rss:0kB, UID:0 pgtables:{rng.randrange(10**4)}kB oom_score_adj:{rng.randrange(1000)}",
    lambda: f"INFO: task kworker/{rng.randrange(8)}:{rng.randrange(4)}:{rng.randrange(1, 65535)} blocked for more than 120 seconds.",
    lambda: f"INFO: task docker:{rng.randrange(1, 65535)} blocked for more than 120 seconds.",
    lambda: f"unregister_netdevice: waiting for eth0 to become free. Usage count = {rng.randrange(1, 9)}",
    lambda: "BUG: unable to handle kernel NULL pointer dereference at 0000000000000008",
    lambda: f"divide error: 0000 [#{rng.randrange(1, 4)}] SMP",
    lambda: f"EXT4-fs error (device sda{rng.randrange(1, 4)}): ext4_find_entry:1455: inode #{rng.randrange(10**6)}: comm nginx: reading directory lblock 0",
    lambda: f"Buffer I/O error on dev sdb{rng.randrange(1, 4)}, logical block {rng.randrange(10**8)}, lost async page write",
    lambda: f"XFS (dm-{rng.randrange(4)}): Corruption of in-memory data detected. Shutting down filesystem",
    lambda: f"EXT4-fs (sda{rng.randrange(1, 4)}): Remounting filesystem read-only",
    lambda: f"{{mce: [Hardware Error]: event severity: corrected",
    lambda: "Error trying v2 registry: failed to register layer: rename /var/lib/docker/image/overlay2/layerdb/tmp/write-set-1 /var/lib/docker/image/overlay2/layerdb/sha256/ab: directory not empty",
    lambda: f"level=error msg=\"Handler for GET /containers/json returned error: readlink /var/lib/docker/overlay2/l/{rng.randrange(16**12):012x}: invalid argument\"",
    lambda: "OCI runtime start failed: container process is already dead: unknown",
]
with open(out, "w") as f:
    for _ in range(n):
        gen = rng.choice(matching) if rng.random() < 0.01 else rng.choice(normal)
        f.write(gen() + "\n")
