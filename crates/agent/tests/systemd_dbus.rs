//! The systemd path of `restart-runtime`: a real `dbus-daemon` (Debian's `dbus` package) on a
//! private socket, and on it a stand-in for systemd's Manager object that answers RestartUnit
//! the way systemd does (a job object path). The stand-in is hand-written because this machine's
//! PID 1 is not systemd and `systemd --user` cannot run here; what is real is the bus, the
//! authentication and the message our client sends. Skipped (one line) without dbus-daemon,
//! required under KUBEMEDIC_REQUIRE_TESTBED=1.
#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use kubemedic_agent::remediate::{NodeActionConfig, local};
use kubemedic_heal::action::Action;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (path, interface, unit, mode) of each RestartUnit call the stand-in received.
type Calls = Arc<Mutex<Vec<(String, String, String, String)>>>;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_bus(dir: &std::path::Path) -> Option<(Daemon, std::path::PathBuf)> {
    let bin = ["/usr/bin/dbus-daemon", "/bin/dbus-daemon"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(bin) = bin else {
        if std::env::var("KUBEMEDIC_REQUIRE_TESTBED").as_deref() == Ok("1") {
            panic!("dbus-daemon is required (KUBEMEDIC_REQUIRE_TESTBED=1); install Debian's dbus");
        }
        eprintln!(
            "skipping: no dbus-daemon on this machine; the D-Bus path of restart-runtime is untested here"
        );
        return None;
    };
    let socket = dir.join("bus");
    let config = dir.join("bus.conf");
    std::fs::write(
        &config,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            socket.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin);
    kubemedic_testbed::child::reset_signals(&mut cmd);
    let child = cmd
        .arg(format!("--config-file={}", config.display()))
        .arg("--nofork")
        .arg("--nopidfile")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "dbus-daemon did not create its socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some((daemon, socket))
}

#[tokio::test]
async fn restart_runtime_asks_systemd_over_dbus() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_daemon, socket)) = start_bus(dir.path()) else {
        return;
    };
    // The stand-in for systemd: owns org.freedesktop.systemd1, answers Manager.RestartUnit.
    let conn =
        zbus::connection::Builder::address(format!("unix:path={}", socket.display()).as_str())
            .build()
            .await
            .unwrap();
    conn.request_name("org.freedesktop.systemd1").await.unwrap();
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    let server = conn.clone();
    let task = tokio::spawn(async move {
        let mut stream = zbus::MessageStream::from(&server);
        while let Some(Ok(msg)) = stream.next().await {
            let h = msg.header();
            if h.member().map(|m| m.as_str()) != Some("RestartUnit") {
                continue;
            }
            let (unit, mode): (String, String) = msg.body().deserialize().unwrap();
            seen.lock().unwrap().push((
                h.path().map(|p| p.to_string()).unwrap_or_default(),
                h.interface().map(|i| i.to_string()).unwrap_or_default(),
                unit,
                mode,
            ));
            let job = zbus::ObjectPath::try_from("/org/freedesktop/systemd1/job/42").unwrap();
            server.reply(&h, &job).await.unwrap();
        }
    });
    let cfg = NodeActionConfig {
        dbus_socket: socket.clone(),
        runtime_unit: "containerd.service".into(),
        ..NodeActionConfig::default()
    };
    let msg = local::execute(&Action::RestartRuntime, &cfg).await.unwrap();
    assert_eq!(
        msg,
        "systemd restarting containerd.service (job /org/freedesktop/systemd1/job/42)"
    );
    assert_eq!(
        calls.lock().unwrap().clone(),
        vec![(
            "/org/freedesktop/systemd1".to_string(),
            "org.freedesktop.systemd1.Manager".to_string(),
            "containerd.service".to_string(),
            "replace".to_string()
        )]
    );
    // No systemd on the bus: a clear error, not a hang.
    task.abort();
    let _ = task.await;
    conn.close().await.unwrap();
    let e = local::execute(&Action::RestartKubelet, &cfg)
        .await
        .unwrap_err();
    assert!(e.contains("RestartUnit"), "{e}");
}
