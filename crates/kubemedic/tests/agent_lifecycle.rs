//! The agent binary's life cycle, without a cluster and without root: SIGTERM/SIGINT stop it
//! and kill its running plugins' whole process groups; text mode prints conditions as changes
//! (a condition that starts False is OK, not HEALED) with plugin output made terminal-safe;
//! standalone /healthz lists only what runs; a `--host-proc` with no /proc and a host without
//! a journal make their source degraded, said once; a port in use is said once.
#![allow(clippy::unwrap_used)]

use kubemedic_testbed::child;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// The binary run to its end (at most `WAIT`).
fn kubemedic(args: &[&str]) -> std::process::Output {
    child::output(
        Command::new(env!("CARGO_BIN_EXE_kubemedic")).args(args),
        WAIT,
    )
    .unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A custom-plugin-monitor with one permanent rule running `plugin`.
fn plugin_monitor(dir: &Path, plugin: &Path, interval: &str, timeout: &str) -> PathBuf {
    let config = json!({
        "plugin": "custom",
        "pluginConfig": {"invoke_interval": interval, "timeout": timeout,
                          "max_output_length": 200, "concurrency": 1},
        "source": "test-plugin-monitor",
        "conditions": [{"type": "TestProblem", "reason": "TestIsFine", "message": "all good"}],
        "rules": [{"type": "permanent", "condition": "TestProblem", "reason": "TestBroken",
                   "path": plugin.to_str().unwrap()}]
    });
    let path = dir.join("plugin-monitor.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// The agent binary, stdout lines arriving on a channel, stderr collected.
struct Agent {
    process: Child,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    port: u16,
}

impl Agent {
    fn start(args: &[&str]) -> Agent {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubemedic"));
        cmd.arg("agent")
            .args(["--standalone", "--hostname-override", "lifecycle-test"])
            .args(["--port", &port.to_string(), "--prometheus-port", "0"])
            .args(["--iptables-save", ""])
            .args(args)
            .env_remove("KUBECONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        child::die_with_test(child::reset_signals(&mut cmd));
        let mut process = cmd.spawn().unwrap();
        let stdout = process.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = process.stderr.take().unwrap();
        let collected = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    return;
                }
                collected
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Agent {
            process,
            lines,
            stderr,
            port,
        }
    }

    /// The next stdout line satisfying `pred`, failing the test after `WAIT`.
    fn line(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| {
                    panic!("timed out waiting for {what}; stderr:\n{}", self.stderr())
                });
            match self.lines.recv_timeout(left) {
                Ok(l) if pred(&l) => return l,
                Ok(_) => {}
                Err(_) => panic!("timed out waiting for {what}; stderr:\n{}", self.stderr()),
            }
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `/healthz` as JSON, once the server answers.
    fn healthz(&self) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = http_get(self.port, "/healthz") {
                return serde_json::from_str(&v).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "/healthz never answered; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` and waits (with a deadline) for the agent to exit.
    fn stop(&mut self, signal: rustix::process::Signal) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.process.id() as i32).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
        child::wait(&mut self.process, WAIT)
            .unwrap_or_else(|e| panic!("agent did not stop on {signal:?}: {e}"))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = child::wait(&mut self.process, WAIT);
    }
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s =
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(2))
            .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// Live (not a zombie) process `pid`, with its parent.
fn alive_with_parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    (state != "Z" && state != "X").then_some(ppid)
}

#[test]
fn stop_signals_kill_running_plugins_and_their_children() {
    use rustix::process::Signal;
    for signal in [Signal::TERM, Signal::INT] {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        // The plugin leaves a long sleep running and waits for it, as a slow check would.
        let plugin = script(
            dir.path(),
            "slow-check",
            &format!(
                "sleep 1000 &\necho $! > {}.tmp\nmv {0}.tmp {0}\nwait",
                pidfile.display()
            ),
        );
        let config = plugin_monitor(dir.path(), &plugin, "1h", "10m");
        let mut agent = Agent::start(&[&format!(
            "--config.custom-plugin-monitor={}",
            config.display()
        )]);
        let deadline = Instant::now() + WAIT;
        while !pidfile.exists() {
            assert!(
                Instant::now() < deadline,
                "plugin never ran; stderr:\n{}",
                agent.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let sleeper: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            alive_with_parent(sleeper).is_some(),
            "the plugin's child runs"
        );

        let status = agent.stop(signal);
        assert!(status.success(), "{signal:?}: agent exited with {status}");
        // Gone (or a zombie for init to reap): never alive with PPID 1.
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(ppid) = alive_with_parent(sleeper) {
            assert!(
                Instant::now() < deadline,
                "{signal:?}: the plugin's child {sleeper} survived the agent (parent now {ppid})"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn text_mode_prints_changes_and_shows_plugin_output_safely() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    std::fs::write(&code, "0").unwrap();
    // Output that would set the terminal's title, clear it and rewrite the line.
    let plugin = script(
        dir.path(),
        "check",
        &format!(
            "printf 'disk bad\\033]0;pwned\\007\\033[2J\\rHEALED\\n'\nexit $(cat {})",
            code.display()
        ),
    );
    let config = plugin_monitor(dir.path(), &plugin, "200ms", "5s");
    let agent = Agent::start(&[
        "--output",
        "text",
        &format!("--config.custom-plugin-monitor={}", config.display()),
    ]);
    let first = agent.line("the initial state", |l| l.contains("TestProblem="));
    assert!(
        first.contains(" OK ") && first.contains("TestProblem=False TestIsFine: all good"),
        "a condition that starts False is OK, not HEALED: {first}"
    );
    std::fs::write(&code, "1").unwrap();
    let problem = agent.line("the problem", |l| l.contains("TestProblem=True"));
    assert!(problem.contains(" PROBLEM "), "{problem}");
    assert!(
        problem.ends_with("TestBroken: disk bad\\x1b]0;pwned\\x07\\x1b[2J\\rHEALED"),
        "{problem:?}"
    );
    assert!(!problem.chars().any(|c| c.is_control()), "{problem:?}");
    std::fs::write(&code, "0").unwrap();
    let healed = agent.line("the recovery", |l| l.contains("TestProblem=False"));
    assert!(healed.contains(" HEALED "), "{healed}");
}

#[test]
fn standalone_healthz_lists_what_runs_and_a_proc_that_is_not_there() {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    std::fs::write(
        &stats,
        r#"{"cpu":{"metricsConfigs":{"cpu/load_1m":{"displayName":"cpu/load_1m"}}}}"#,
    )
    .unwrap();
    let nowhere = dir.path().join("no-proc-here");
    let agent = Agent::start(&[
        &format!("--config.system-stats-monitor={}", stats.display()),
        "--host-proc",
        nowhere.to_str().unwrap(),
        "--facts-interval",
        "1s",
    ]);
    let deadline = Instant::now() + WAIT;
    let health = loop {
        let h = agent.healthz();
        if h["degraded"].as_array().is_some_and(|d| !d.is_empty()) {
            break h;
        }
        assert!(
            Instant::now() < deadline,
            "stats source never degraded: {h:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let sources = health["sources"].as_array().unwrap();
    assert!(
        sources.iter().all(|s| s["source"] != "kubernetes-exporter"),
        "no exporter runs in standalone mode: {health:#}"
    );
    let stats = sources
        .iter()
        .find(|s| s["source"] == "system-stats-monitor")
        .unwrap_or_else(|| panic!("{health:#}"));
    assert_eq!(stats["state"], "degraded", "{health:#}");
    let detail = stats["detail"].as_str().unwrap();
    assert!(
        detail.contains("--host-proc") && detail.contains("no-proc-here"),
        "{detail}"
    );
    assert_eq!(health["degraded"], json!(["system-stats-monitor"]));
    // No facts pretend to have been collected.
    let facts: Value = serde_json::from_str(&http_get(agent.port, "/facts").unwrap()).unwrap();
    assert!(facts["collectedAt"].is_null(), "{facts:#}");
}

#[test]
fn a_host_without_a_journal_is_said_once_and_retried_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("journal");
    std::fs::create_dir(&empty).unwrap();
    let config = dir.path().join("journal-monitor.json");
    std::fs::write(
        &config,
        json!({"plugin": "journald", "pluginConfig": {"source": "dockerd"},
               "logPath": empty.to_str().unwrap(), "source": "journal-monitor",
               "conditions": [], "rules": []})
        .to_string(),
    )
    .unwrap();
    let agent = Agent::start(&[&format!("--config.system-log-monitor={}", config.display())]);
    // journalctl (the real one; absent, it cannot start: the same path) fails on an empty
    // journal. Wait for three failures: 0.5 s, 1 s and 2 s of backoff.
    let deadline = Instant::now() + WAIT;
    let source = loop {
        let h = agent.healthz();
        let s = h["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"] == "journal-monitor")
            .cloned()
            .unwrap_or_else(|| panic!("{h:#}"));
        if s["errors"].as_u64().unwrap() >= 3 {
            break s;
        }
        assert!(Instant::now() < deadline, "journalctl not retried: {s:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(source["state"], "degraded", "{source:#}");
    let said = agent
        .stderr()
        .lines()
        .filter(|l| l.contains("journalctl failed"))
        .count();
    assert_eq!(
        said,
        1,
        "the same failure is said once:\n{}",
        agent.stderr()
    );
}

#[test]
fn a_port_in_use_is_said_once() {
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = kubemedic(&[
        "agent",
        "--standalone",
        "--port",
        &port,
        "--prometheus-port",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("Address already in use").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn print_default_config_takes_the_name_with_or_without_json() {
    for name in ["kernel-monitor", "kernel-monitor.json"] {
        let out = child::output(
            Command::new(env!("CARGO_BIN_EXE_kubemedic")).args([
                "agent",
                "--print-default-config",
                name,
            ]),
            WAIT,
        )
        .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(config["source"], "kernel-monitor", "{name}");
    }
    let out = child::output(
        Command::new(env!("CARGO_BIN_EXE_kubemedic")).args([
            "agent",
            "--print-default-config",
            "kernel",
        ]),
        WAIT,
    )
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("known: kernel-monitor, docker-monitor"),
        "{stderr}"
    );
}
