//! Hosts built from Linux network namespaces for tests of network probes: one switch namespace
//! holding a bridge, one namespace per host with a veth on it, and a veth from this process's
//! namespace so the test (and a forwarder to the testbed apiserver) can reach every host.
//!
//! ```text
//!   test process (host ns) 10.213.S.1 ─┐
//!                                      ├─ br0 (switch ns) ─┬─ eth0 10.213.S.10 (host ns "n0")
//!                                      │                   ├─ eth0 10.213.S.11 (host ns "n1")
//!                                      │                   └─ ...
//! ```
//!
//! Everything carries the prefix `kmpr-` (namespaces) or `kmpr` (the one link in this
//! process's namespace) and the owner's pid and start time, so nothing collides with another
//! engineer's namespaces, and what a killed test left behind is removed by the next
//! [`Lab::create`] ([`reap`]). Dropping a lab kills its processes, deletes its namespaces (which
//! deletes their links, bridge and nft rules with them) and its `/etc/netns/<ns>` files.
//! Needs root, `ip` (iproute2) and, for [`Lab::isolate`], `nft`.
//!
//! The kernel's ARP table is one table for all network namespaces, with one limit
//! (`net.ipv4.neigh.default.gc_thresh3`, 1024 by default): a lab of 51 hosts that all talk to
//! each other needs about 51 × 60 entries, and past the limit new neighbours are refused
//! ("neighbour table overflow", `table_fulls` in `/proc/net/stat/arp_cache`), so checks time out
//! at random. A lab raises the limits to what its addresses can need ([`Lab::add_host`]) and the
//! last lab of the process puts the values it found back.

use crate::error::TestbedError;
use crate::process::{Process, log_tail};
use crate::sys;
use crate::workdir::WorkDir;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Namespace name prefix of every lab.
pub const PREFIX: &str = "kmpr-";
const ETC_NETNS: &str = "/etc/netns";

/// One host of a lab: a network namespace with an address on the lab's bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabHost {
    /// Short role name given at creation (`n0`, `dns`).
    pub role: String,
    /// The namespace (`ip netns exec <ns> ...`).
    pub ns: String,
    /// Its first address.
    pub ip: Ipv4Addr,
}

/// A running lab.
#[derive(Debug)]
pub struct Lab {
    tag: String,
    subnet: [u8; 3],
    switch: String,
    host_link: String,
    hosts: Mutex<Vec<LabHost>>,
    procs: Mutex<Vec<Process>>,
    next_ip: AtomicU8,
    dir: WorkDir,
    /// This lab holds a raise of the ARP table limits ([`NeighbourLimits`]).
    raised_neighbours: std::sync::atomic::AtomicBool,
}

/// The kernel's ARP table limits, `gc_thresh1..3`.
const GC_THRESH: [&str; 3] = [
    "/proc/sys/net/ipv4/neigh/default/gc_thresh1",
    "/proc/sys/net/ipv4/neigh/default/gc_thresh2",
    "/proc/sys/net/ipv4/neigh/default/gc_thresh3",
];

/// The ARP table limits as this process found them, while some lab holds them raised.
struct NeighbourLimits {
    original: Option<[u64; 3]>,
    holders: usize,
}

static NEIGHBOUR_LIMITS: Mutex<NeighbourLimits> = Mutex::new(NeighbourLimits {
    original: None,
    holders: 0,
});

fn read_thresholds() -> Option<[u64; 3]> {
    let mut out = [0u64; 3];
    for (slot, path) in out.iter_mut().zip(GC_THRESH) {
        *slot = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    }
    Some(out)
}

fn write_thresholds(values: [u64; 3]) -> std::io::Result<()> {
    // thresh1 <= thresh2 <= thresh3 at every step: raise from the top, lower from the bottom.
    let current = read_thresholds().unwrap_or(values);
    let order: Vec<usize> = if values[2] >= current[2] {
        vec![2, 1, 0]
    } else {
        vec![0, 1, 2]
    };
    for i in order {
        std::fs::write(GC_THRESH[i], values[i].to_string())?;
    }
    Ok(())
}

/// ARP entries a lab with `addresses` addresses may need: every namespace (hosts, the switch,
/// this process's) may hold an entry for every address.
fn neighbour_need(addresses: u64) -> u64 {
    (addresses + 2) * (addresses + 2)
}

fn run(args: &[&str]) -> Result<Output, TestbedError> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TestbedError::io(args[0], e))?;
    if !out.status.success() {
        return Err(TestbedError::Usage(format!(
            "`{}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out)
}

fn run_input(args: &[&str], input: &str) -> Result<(), TestbedError> {
    use std::io::Write;
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| TestbedError::io(args[0], e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| TestbedError::io(args[0], e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| TestbedError::io(args[0], e))?;
    if !out.status.success() {
        return Err(TestbedError::Usage(format!(
            "`{}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Whether labs can run here: root, `ip` and `nft` present. `Err` says what is missing.
pub fn available() -> Result<(), String> {
    if !sys::is_root() {
        return Err("network namespaces need root".into());
    }
    for tool in ["ip", "nft"] {
        let ok = Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!(
                "`{tool}` is not installed (scripts/setup.sh installs it)"
            ));
        }
    }
    Ok(())
}

/// The owner (pid, start time) encoded in a lab namespace name `kmpr-<pid>-<start>-<n>-<role>`.
fn owner(name: &str) -> Option<(u32, u64)> {
    let rest = name.strip_prefix(PREFIX)?;
    let mut parts = rest.splitn(4, '-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    parts.next()?.parse::<usize>().ok()?;
    parts.next()?;
    Some((pid, start))
}

/// Deletes lab namespaces (and their `/etc/netns` files) whose owning process is gone;
/// returns their names. Processes still running inside them are killed first.
pub fn reap() -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return removed;
    };
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    for line in listing.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some((pid, start)) = owner(name) else {
            continue;
        };
        if sys::process_alive(pid) && sys::process_start_time(pid) == Some(start) {
            continue;
        }
        kill_inside(name);
        if run(&["ip", "netns", "del", name]).is_ok() {
            removed.push(name.to_string());
        }
        let _ = std::fs::remove_dir_all(Path::new(ETC_NETNS).join(name));
    }
    // resolv.conf directories whose namespace is already gone.
    if let Ok(entries) = std::fs::read_dir(ETC_NETNS) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some((pid, start)) = owner(&name)
                && !(sys::process_alive(pid) && sys::process_start_time(pid) == Some(start))
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    removed
}

/// Kills every process whose network namespace is `ns`.
fn kill_inside(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
        {
            sys::kill_pid(pid, libc::SIGKILL);
        }
    }
}

fn free_subnet() -> Option<[u8; 3]> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let used = Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    let routes = Command::new("ip")
        .args(["-4", "route", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    let seed = std::process::id() as usize;
    for _ in 0..256 {
        let s = ((seed + NEXT.fetch_add(1, Ordering::Relaxed) * 7) % 250 + 1) as u8;
        let needle = format!("10.213.{s}.");
        if !used.contains(&needle) && !routes.contains(&needle) {
            return Some([10, 213, s]);
        }
    }
    None
}

impl Lab {
    /// Creates an empty lab (the switch and this process's link to it). `Err(Unavailable)`
    /// when this machine cannot run labs.
    pub fn create() -> Result<Lab, TestbedError> {
        available().map_err(TestbedError::Unavailable)?;
        reap();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let pid = std::process::id();
        let start = sys::process_start_time(pid).unwrap_or(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{PREFIX}{pid}-{start}-{n}");
        let subnet = free_subnet()
            .ok_or_else(|| TestbedError::Usage("no free 10.213.x.0/24 subnet".into()))?;
        let switch = format!("{tag}-sw");
        let host_link = format!("kmpr{}-{n}", pid % 100_000);
        let lab = Lab {
            tag,
            subnet,
            switch: switch.clone(),
            host_link: host_link.clone(),
            hosts: Mutex::new(Vec::new()),
            procs: Mutex::new(Vec::new()),
            next_ip: AtomicU8::new(10),
            dir: WorkDir::create()?,
            raised_neighbours: std::sync::atomic::AtomicBool::new(false),
        };
        // From here on, Drop cleans up whatever was made.
        run(&["ip", "netns", "add", &switch])?;
        run(&["ip", "-n", &switch, "link", "set", "lo", "up"])?;
        run(&["ip", "-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        run(&["ip", "-n", &switch, "link", "set", "br0", "up"])?;
        run(&[
            "ip", "link", "add", &host_link, "type", "veth", "peer", "name", "up0", "netns",
            &switch,
        ])?;
        run(&[
            "ip", "-n", &switch, "link", "set", "up0", "master", "br0", "up",
        ])?;
        let gw = format!("{}/24", lab.host_ip());
        run(&["ip", "addr", "add", &gw, "dev", &host_link])?;
        run(&["ip", "link", "set", &host_link, "up"])?;
        Ok(lab)
    }

    /// This process's address on the lab network (hosts' default gateway).
    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.subnet[0], self.subnet[1], self.subnet[2], 1)
    }

    /// An unused address of the lab network (for extra addresses on a host).
    pub fn next_address(&self) -> Ipv4Addr {
        let last = self.next_ip.fetch_add(1, Ordering::Relaxed);
        Ipv4Addr::new(self.subnet[0], self.subnet[1], self.subnet[2], last)
    }

    /// Raises the kernel's ARP table limits (global, shared by every namespace) so that every
    /// address this lab has handed out can be a neighbour in every one of its namespaces; never
    /// lowers them. The values found are put back when the last lab that raised them drops. A
    /// limit that cannot be written is said on stderr, not an error: small labs fit the defaults.
    fn reserve_neighbours(&self) {
        let addresses = u64::from(self.next_ip.load(Ordering::Relaxed).saturating_sub(10));
        let need = neighbour_need(addresses);
        let Ok(mut limits) = NEIGHBOUR_LIMITS.lock() else {
            return;
        };
        let Some(current) = read_thresholds() else {
            return;
        };
        if current[1] >= need && current[2] >= 2 * need {
            return;
        }
        let wanted = [current[0], current[1].max(need), current[2].max(2 * need)];
        if let Err(e) = write_thresholds(wanted) {
            eprintln!(
                "netlab: cannot raise net.ipv4.neigh.default.gc_thresh2/3 to {}/{} ({e}): \
                 a lab this size may see neighbour table overflows",
                wanted[1], wanted[2]
            );
            return;
        }
        if limits.original.is_none() {
            limits.original = Some(current);
        }
        if !self.raised_neighbours.swap(true, Ordering::Relaxed) {
            limits.holders += 1;
        }
    }

    /// Adds a host named `role`.
    pub fn add_host(&self, role: &str) -> Result<LabHost, TestbedError> {
        let index = self.hosts.lock().map(|h| h.len()).unwrap_or(0);
        let ns = format!("{}-{role}", self.tag);
        let ip = self.next_address();
        self.reserve_neighbours();
        run(&["ip", "netns", "add", &ns])?;
        let host = LabHost {
            role: role.to_string(),
            ns: ns.clone(),
            ip,
        };
        if let Ok(mut h) = self.hosts.lock() {
            h.push(host.clone());
        }
        let port = format!("p{index}");
        run(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
        run(&[
            "ip",
            "-n",
            &self.switch,
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &ns,
        ])?;
        run(&[
            "ip",
            "-n",
            &self.switch,
            "link",
            "set",
            &port,
            "master",
            "br0",
            "up",
        ])?;
        run(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{ip}/24"),
            "dev",
            "eth0",
        ])?;
        run(&["ip", "-n", &ns, "link", "set", "eth0", "up"])?;
        run(&[
            "ip",
            "-n",
            &ns,
            "route",
            "add",
            "default",
            "via",
            &self.host_ip().to_string(),
        ])?;
        Ok(host)
    }

    /// Adds another address to `host`'s interface.
    pub fn add_address(&self, host: &LabHost, ip: Ipv4Addr) -> Result<(), TestbedError> {
        self.reserve_neighbours();
        run(&[
            "ip",
            "-n",
            &host.ns,
            "addr",
            "add",
            &format!("{ip}/24"),
            "dev",
            "eth0",
        ])?;
        Ok(())
    }

    /// Writes the resolv.conf processes started in `host` see.
    pub fn write_resolv_conf(&self, host: &LabHost, text: &str) -> Result<(), TestbedError> {
        let dir = Path::new(ETC_NETNS).join(&host.ns);
        std::fs::create_dir_all(&dir).map_err(|e| TestbedError::io(&dir, e))?;
        let file = dir.join("resolv.conf");
        std::fs::write(&file, text).map_err(|e| TestbedError::io(&file, e))
    }

    /// Runs a command in `host` to completion.
    pub fn exec(&self, host: &LabHost, args: &[&str]) -> Result<Output, TestbedError> {
        let mut full = vec!["ip", "netns", "exec", host.ns.as_str()];
        full.extend_from_slice(args);
        run(&full)
    }

    /// Starts `program` in `host` (dies with this process); its output goes to
    /// [`Lab::log_path`]`(name)`. Returns its pid.
    pub fn spawn(
        &self,
        host: &LabHost,
        name: &str,
        program: &Path,
        args: &[String],
        envs: &[(String, String)],
    ) -> Result<u32, TestbedError> {
        let mut full = vec![
            "netns".to_string(),
            "exec".to_string(),
            host.ns.clone(),
            program.display().to_string(),
        ];
        full.extend(args.iter().cloned());
        let p = Process::start(name, Path::new("ip"), &full, envs, &self.log_path(name))?;
        let pid = p.pid();
        if let Ok(mut procs) = self.procs.lock() {
            procs.push(p);
        }
        Ok(pid)
    }

    /// Kills the process started as `name`.
    pub fn stop(&self, name: &str) {
        if let Ok(mut procs) = self.procs.lock() {
            procs.retain_mut(|p| {
                if p.name == name {
                    p.kill();
                    false
                } else {
                    true
                }
            });
        }
    }

    /// The pid of the process started as `name`.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.procs
            .lock()
            .ok()?
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.pid())
    }

    /// Stops (SIGSTOP) or resumes (SIGCONT) the process started as `name`: a server that
    /// accepts nothing and answers nothing, without a restart.
    pub fn pause(&self, name: &str, paused: bool) {
        if let Some(pid) = self.pid(name) {
            sys::kill_pid(pid, if paused { libc::SIGSTOP } else { libc::SIGCONT });
        }
    }

    /// Whether the process started as `name` still runs.
    pub fn running(&self, name: &str) -> bool {
        self.procs.lock().is_ok_and(|mut procs| {
            procs
                .iter_mut()
                .any(|p| p.name == name && p.exited().is_none())
        })
    }

    /// Where the output of the process started as `name` goes.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// The last `lines` lines of that output.
    pub fn log_tail(&self, name: &str, lines: usize) -> String {
        log_tail(&self.log_path(name), lines)
    }

    /// Cuts `host` off the lab network, except from this process's address (the way a broken
    /// CNI leaves a node reachable by the host network but not by pods): an nft table inside
    /// the host drops everything else.
    pub fn isolate(&self, host: &LabHost) -> Result<(), TestbedError> {
        let gw = self.host_ip();
        let rules = format!(
            "table inet kmpr_cut {{\n\
             chain input {{ type filter hook input priority -10; policy drop; iif lo accept; ip saddr {gw} accept; }}\n\
             chain output {{ type filter hook output priority -10; policy drop; oif lo accept; ip daddr {gw} accept; }}\n\
             }}\n"
        );
        self.nft(host, &rules)
    }

    /// Loads an nft ruleset (as `nft -f` reads it) inside `host`.
    pub fn nft(&self, host: &LabHost, rules: &str) -> Result<(), TestbedError> {
        run_input(&["ip", "netns", "exec", &host.ns, "nft", "-f", "-"], rules)
    }

    /// Undoes [`Lab::isolate`].
    pub fn reconnect(&self, host: &LabHost) -> Result<(), TestbedError> {
        self.exec(host, &["nft", "delete", "table", "inet", "kmpr_cut"])
            .map(|_| ())
    }

    /// Sets `host`'s interface down (nothing in or out, the host network included).
    pub fn link_down(&self, host: &LabHost, down: bool) -> Result<(), TestbedError> {
        run(&[
            "ip",
            "-n",
            &host.ns,
            "link",
            "set",
            "eth0",
            if down { "down" } else { "up" },
        ])?;
        if !down {
            let _ = run(&[
                "ip",
                "-n",
                &host.ns,
                "route",
                "replace",
                "default",
                "via",
                &self.host_ip().to_string(),
            ]);
        }
        Ok(())
    }

    /// The hosts added so far.
    pub fn hosts(&self) -> Vec<LabHost> {
        self.hosts.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// Every namespace of this lab.
    pub fn namespaces(&self) -> Vec<String> {
        let mut all: Vec<String> = self.hosts().into_iter().map(|h| h.ns).collect();
        all.push(self.switch.clone());
        all
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Ok(mut procs) = self.procs.lock() {
            for p in procs.iter_mut() {
                p.kill();
            }
            procs.clear();
        }
        for ns in self.namespaces() {
            kill_inside(&ns);
            let _ = run(&["ip", "netns", "del", &ns]);
            let _ = std::fs::remove_dir_all(Path::new(ETC_NETNS).join(&ns));
        }
        // Deleting the switch namespace deleted the peer, and with it this link; make sure.
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .stderr(Stdio::null())
            .status();
        if self.raised_neighbours.load(Ordering::Relaxed)
            && let Ok(mut limits) = NEIGHBOUR_LIMITS.lock()
        {
            limits.holders = limits.holders.saturating_sub(1);
            if limits.holders == 0
                && let Some(original) = limits.original.take()
                && let Err(e) = write_thresholds(original)
            {
                eprintln!("netlab: cannot restore the ARP table limits {original:?}: {e}");
            }
        }
    }
}

/// CoreDNS built by `testbed/coredns-build` (cached); `None` (after one line on stderr) when it
/// cannot be built, unless `KUBEMEDIC_REQUIRE_TESTBED=1`, which panics instead.
pub fn coredns_binary() -> Option<PathBuf> {
    static BIN: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let result = BIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testbed/coredns-build");
        let out = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let path = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .map(|l| PathBuf::from(l.trim()))
            .ok_or_else(|| "coredns-build printed no path".to_string())?;
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{} is not a file", path.display()))
        }
    });
    match result {
        Ok(p) => Some(p.clone()),
        Err(e) if crate::required() => {
            panic!(
                "kubemedic-testbed: CoreDNS required ({}=1) but unavailable: {e}",
                crate::REQUIRE_ENV
            )
        }
        Err(e) => {
            eprintln!("kubemedic-testbed: CoreDNS unavailable ({e}); skipping");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_parses_only_lab_names() {
        assert_eq!(owner("kmpr-12-34-0-sw"), Some((12, 34)));
        assert_eq!(owner("kmpr-12-34-0-n-1"), Some((12, 34)));
        assert_eq!(owner("kmpr-12-34-x-sw"), None);
        assert_eq!(owner("kmpr-12-34-0"), None);
        assert_eq!(owner("other-12-34-0-sw"), None);
    }
}
