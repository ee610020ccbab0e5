#!/usr/bin/env bash
# Installs what the tests need on a fresh machine and builds the testbed.
# Idempotent: a second run only checks. Each phase prints how long it took.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Non-interactive shells (CI) may not have read the profile that puts these on PATH.
for d in "$HOME/.cargo/bin" /usr/local/go/bin "$HOME/go/bin"; do
    case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH

phase_start=$SECONDS
phase() { echo "setup: $1 took $((SECONDS - phase_start))s" >&2; phase_start=$SECONDS; }

# Debian packages the tests use: journal files for the journald source (systemd-journal-remote,
# journalctl), iptables-save for node facts, flock/ss from util-linux/iproute2; the testbed's real
# node: containerd, runc, the CNI plugins, conntrack and nftables (kube-proxy), busybox-static (the
# busybox image), gcc + libc6-dev (the static pause program); musl-tools for the static kubemedic
# binary packed into the node's kubemedic image and deploy/image/build-rootfs (ring compiles C with musl-gcc);
# postgresql: the archive's PostgreSQL tests start a throwaway server (initdb in a temp dir).
# dbus (dbus-daemon) for the agent's systemd-over-D-Bus test.
# ip netns and nft also build the network-probe labs.
apt_packages=(systemd systemd-journal-remote iptables util-linux iproute2 procps
    containerd runc containernetworking-plugins conntrack nftables busybox-static
    gcc libc6-dev musl-tools postgresql dbus)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing Debian packages: ${missing[*]} (run as root or install them)" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
phase "debian packages"

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install Rust with rustup (https://rustup.rs)" >&2
    exit 1
fi
# rust-toolchain.toml pins the toolchain; rustup installs it and its components on first use.
if command -v rustup >/dev/null 2>&1; then
    rustup show active-toolchain >/dev/null
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
    # The real node's kubemedic image is a static musl build.
    rustup target list --installed | grep -qx x86_64-unknown-linux-musl \
        || rustup target add x86_64-unknown-linux-musl >&2
fi
phase "rust toolchain"

if command -v go >/dev/null 2>&1; then
    testbed/prune "$(testbed/build)"
else
    echo "setup: Go not found: the integration tests will be skipped (they fail under KUBEMEDIC_REQUIRE_TESTBED=1)" >&2
fi
phase "testbed build"

# Alertmanager (crates/notify's real-receiver test), built from its Go module and cached.
if command -v go >/dev/null 2>&1; then
    testbed/alertmanager-build >/dev/null
fi
phase "alertmanager build"

# CoreDNS replicas for the network-probe tests (cached like the control plane).
if command -v go >/dev/null 2>&1; then
    testbed/coredns-build >/dev/null
fi
phase "coredns build"
