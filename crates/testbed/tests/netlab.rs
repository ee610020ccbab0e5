//! The network-namespace lab: hosts reach the test process over the bridge, isolation keeps
//! only that path, a downed link cuts everything, and nothing is left behind (dropped labs and
//! labs of dead processes alike).
#![allow(clippy::unwrap_used)]

use kubemedic_testbed::netlab::{self, Lab, PREFIX};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

fn lab_or_skip() -> Option<Lab> {
    match Lab::create() {
        Ok(lab) => Some(lab),
        Err(kubemedic_testbed::TestbedError::Unavailable(why)) => {
            if std::env::var("KUBEMEDIC_REQUIRE_TESTBED").is_ok_and(|v| v == "1") {
                panic!("network lab required but unavailable: {why}");
            }
            eprintln!("network lab unavailable ({why}); skipping");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn namespaces() -> String {
    String::from_utf8(
        Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
}

/// Whether `host` can open a TCP connection to `addr` (bash's /dev/tcp, 2 s bound).
fn connects(lab: &Lab, host: &netlab::LabHost, addr: &str) -> bool {
    let (ip, port) = addr.split_once(':').unwrap();
    lab.exec(
        host,
        &[
            "timeout",
            "2",
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{ip}/{port}"),
        ],
    )
    .is_ok()
}

#[test]
fn hosts_reach_the_test_process_and_isolation_cuts_what_it_should() {
    let Some(lab) = lab_or_skip() else { return };
    let a = lab.add_host("a").unwrap();
    let b = lab.add_host("b").unwrap();
    assert_ne!(a.ip, b.ip);
    let listener = TcpListener::bind((lab.host_ip(), 0)).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    // Accept in the background so connects complete.
    std::thread::spawn(move || {
        for c in listener.incoming() {
            drop(c)
        }
    });
    assert!(connects(&lab, &a, &addr));
    assert!(connects(&lab, &b, &addr));
    lab.isolate(&a).unwrap();
    assert!(
        connects(&lab, &a, &addr),
        "the host network stays reachable"
    );
    lab.reconnect(&a).unwrap();
    lab.link_down(&b, true).unwrap();
    assert!(!connects(&lab, &b, &addr));
    lab.link_down(&b, false).unwrap();
    assert!(connects(&lab, &b, &addr));
    // resolv.conf reaches processes started in the namespace.
    lab.write_resolv_conf(&a, "nameserver 10.213.0.53\n")
        .unwrap();
    let out = lab.exec(&a, &["cat", "/etc/resolv.conf"]).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "nameserver 10.213.0.53\n"
    );
    // A long-running process is killed with the lab.
    let pid = lab
        .spawn(
            &a,
            "sleeper",
            std::path::Path::new("sleep"),
            &["600".into()],
            &[],
        )
        .unwrap();
    assert!(lab.running("sleeper"));
    let names = lab.namespaces();
    drop(lab);
    let after = namespaces();
    for ns in names {
        assert!(!after.contains(&ns), "{ns} left behind");
        assert!(!std::path::Path::new("/etc/netns").join(&ns).exists());
    }
    std::thread::sleep(Duration::from_millis(100));
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains(") Z"),
        "sleeper {pid} survived: {state}"
    );
}

#[test]
fn namespaces_of_dead_owners_are_reaped() {
    if netlab::available().is_err() {
        eprintln!("network lab unavailable; skipping");
        return;
    }
    // A process that has exited: its pid and start time name an orphan.
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    child.wait().unwrap();
    let start: u64 = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().nth(19)?.parse().ok())
        .unwrap_or(1);
    let orphan = format!("{PREFIX}{pid}-{start}-0-orphan");
    assert!(
        Command::new("ip")
            .args(["netns", "add", &orphan])
            .status()
            .unwrap()
            .success()
    );
    std::fs::create_dir_all(format!("/etc/netns/{orphan}")).unwrap();
    // (A lab created by the other test at the same time may reap it first: either way, gone.)
    netlab::reap();
    assert!(!namespaces().contains(&orphan));
    assert!(!std::path::Path::new(&format!("/etc/netns/{orphan}")).exists());
    // Live owners' labs are left alone.
    let Some(lab) = lab_or_skip() else { return };
    lab.add_host("x").unwrap();
    netlab::reap();
    for ns in lab.namespaces() {
        assert!(namespaces().contains(&ns));
    }
}

fn arp_limits() -> [u64; 3] {
    [1, 2, 3].map(|i| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/neigh/default/gc_thresh{i}"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    })
}

/// The kernel's one ARP table serves every namespace: a lab with many addresses raises its
/// limits (51 hosts overflowed the default 1,024 entries and checks timed out at random) and
/// puts back the values it found when it drops.
#[test]
fn a_large_lab_raises_the_arp_table_limits_and_restores_them() {
    let Some(lab) = lab_or_skip() else { return };
    let before = arp_limits();
    let host = lab.add_host("many").unwrap();
    // 60 more addresses: (61 + 2)² = 3,969 possible entries, past the default soft limit.
    for _ in 0..60 {
        lab.add_address(&host, lab.next_address()).unwrap();
    }
    let raised = arp_limits();
    assert_eq!(raised[0], before[0], "gc_thresh1 is left alone");
    assert!(raised[1] >= 63 * 63, "{raised:?}");
    assert!(raised[2] >= 2 * 63 * 63, "{raised:?}");
    drop(lab);
    assert_eq!(arp_limits(), before);
}
