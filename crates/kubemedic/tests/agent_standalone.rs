//! End to end through the built binary: real /dev/kmsg lines become JSON lines on stdout in
//! `kubemedic agent --standalone --output json`; a bad config is refused with exit 2. The host's
//! kernel log is shared with every other run: only lines carrying this run's marker count.
#![allow(clippy::unwrap_used)]

use kubemedic_agent::devkmsg::{self, DevKmsgGuard};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A kernel monitor shaped like NPD's reference one (kmsg, 5 min lookback, KernelDeadlock with
/// DockerHung, OOMKilling), but whose patterns only match lines carrying `marker`: /dev/kmsg is
/// shared by every test run on the host, and the lookback replays their lines (another run's
/// hung-task line would already have set KernelDeadlock, so this run's would change nothing).
fn kernel_monitor_config(dir: &std::path::Path, marker: &str) -> std::path::PathBuf {
    let path = dir.join("kernel-monitor.json");
    let config = serde_json::json!({
        "plugin": "kmsg", "logPath": "/dev/kmsg", "lookback": "5m", "bufferSize": 10,
        "source": "kernel-monitor", "metricsReporting": true,
        "conditions": [{"type": "KernelDeadlock", "reason": "KernelHasNoDeadlock",
                        "message": "kernel has no deadlock"}],
        "rules": [
            {"type": "temporary", "reason": "OOMKilling",
             "pattern": format!("Killed process \\d+ \\({marker}\\) total-vm:\\d+kB, anon-rss:\\d+kB, file-rss:\\d+kB.*")},
            {"type": "permanent", "condition": "KernelDeadlock", "reason": "DockerHung",
             "pattern": format!("task docker:{marker} blocked for more than \\w+ seconds\\.")}
        ]
    });
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

struct Agent {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = kubemedic_testbed::child::wait(&mut self.child, Duration::from_secs(30));
    }
}

fn spawn_agent(args: &[&str]) -> Agent {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubemedic"));
    cmd.arg("agent")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    kubemedic_testbed::child::die_with_test(kubemedic_testbed::child::reset_signals(&mut cmd));
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let value: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            if tx.send(value).is_err() {
                return;
            }
        }
    });
    Agent { child, lines: rx }
}

impl Agent {
    fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("timed out waiting for {what}"));
            match self.lines.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }
}

#[test]
fn kmsg_lines_become_json_events_and_conditions() {
    if !devkmsg::available() {
        eprintln!("skipping: /dev/kmsg not writable (not root?)");
        return;
    }
    let _guard = DevKmsgGuard::acquire().unwrap();
    let marker = devkmsg::unique_marker("e2e").replace('-', "_");
    // What another run on this host leaves in the ring buffer, inside the lookback: it must not
    // decide this run's conditions.
    devkmsg::write_line(
        3,
        &format!("INFO: task docker:other_{marker} blocked for more than 120 seconds."),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = kernel_monitor_config(dir.path(), &marker);
    let agent = spawn_agent(&[
        "--standalone",
        "--output",
        "json",
        &format!("--config.system-log-monitor={}", config.display()),
        "--port",
        "0",
        "--prometheus-port",
        "0",
    ]);
    // At start every declared condition is reported False.
    let initial = agent.wait_for(
        "initial KernelDeadlock=False",
        Duration::from_secs(30),
        |v| v["kind"] == "condition" && v["condition"] == "KernelDeadlock",
    );
    assert_eq!(initial["status"], "False");
    assert_eq!(initial["source"], "kernel-monitor");
    assert_eq!(initial["reason"], "KernelHasNoDeadlock");
    let time = initial["time"].as_str().unwrap();
    let _: jiff::Timestamp = time
        .parse()
        .unwrap_or_else(|e| panic!("time {time:?} is not RFC 3339: {e}"));

    // The reader may open /dev/kmsg just after the first lines print: repeat the OOM line until
    // one comes back, which also proves the kmsg path end to end.
    let deadline = Instant::now() + Duration::from_secs(30);
    let event = loop {
        assert!(Instant::now() < deadline, "OOM event never reported");
        devkmsg::write_line(3, &format!("Killed process 4242 ({marker}) total-vm:1000kB, anon-rss:500kB, file-rss:0kB, shmem-rss:0kB")).unwrap();
        if let Ok(v) = agent.lines.recv_timeout(Duration::from_millis(300))
            && v["kind"] == "event"
            && v["message"].as_str().unwrap_or("").contains(&marker)
        {
            break v;
        }
    };
    assert_eq!(event["reason"], "OOMKilling");
    assert_eq!(event["source"], "kernel-monitor");
    assert!(event.get("condition").is_none() && event.get("status").is_none());

    // A permanent rule: DockerHung sets KernelDeadlock True. The trailing space is trimmed as NPD does.
    devkmsg::write_line(
        3,
        &format!("INFO: task docker:{marker} blocked for more than 120 seconds. "),
    )
    .unwrap();
    let cond = agent.wait_for("KernelDeadlock=True", Duration::from_secs(10), |v| {
        v["kind"] == "condition" && v["condition"] == "KernelDeadlock" && v["status"] == "True"
    });
    assert_eq!(cond["reason"], "DockerHung");
    assert!(
        cond["message"].as_str().unwrap().contains(&marker),
        "{cond}"
    );
}

#[test]
fn bad_config_is_refused_with_file_path_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (file, config, path) in [
        (
            "bad-monitor.json",
            r#"{"plugin":"kmsg","source":"x","conditions":[],"rules":[{"type":"temporary","reason":"R","pattern":"(unclosed"}]}"#,
            "rules[0].pattern",
        ),
        // A filelog monitor has no default file: it must name one.
        (
            "my-filelog.json",
            r#"{"plugin":"filelog","pluginConfig":{"timestamp":"^.{15}","message":"(.*)","timestampFormat":"Jan _2 15:04:05"},"source":"f","conditions":[],"rules":[]}"#,
            "logPath",
        ),
    ] {
        let bad = dir.path().join(file);
        std::fs::write(&bad, config).unwrap();
        let out = kubemedic_testbed::child::output(
            Command::new(env!("CARGO_BIN_EXE_kubemedic"))
                .args([
                    "agent",
                    "--standalone",
                    "--port",
                    "0",
                    "--prometheus-port",
                    "0",
                ])
                .arg(format!("--config.system-log-monitor={}", bad.display())),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(file), "{stderr}");
        assert!(stderr.contains(path), "{stderr}");
    }
}

#[test]
fn missing_config_file_is_refused() {
    let out = kubemedic_testbed::child::output(
        Command::new(env!("CARGO_BIN_EXE_kubemedic")).args([
            "agent",
            "--standalone",
            "--config.custom-plugin-monitor=/nonexistent/x.json",
        ]),
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.json"));
}
