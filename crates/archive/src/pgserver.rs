//! A throwaway PostgreSQL server for tests and benchmarks: Debian's `postgresql` binaries,
//! `initdb` in a temporary directory, listening on a free 127.0.0.1 port, stopped on drop.
//!
//! Like the testbed: when the binaries are missing the caller prints one line and skips, unless
//! `KUBEMEDIC_REQUIRE_TESTBED=1`, where a missing server is a failure.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable that turns a missing PostgreSQL into a failure.
pub const REQUIRE_ENV: &str = "KUBEMEDIC_REQUIRE_TESTBED";

/// Why the server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum PgServerError {
    /// No `initdb`/`postgres` under /usr/lib/postgresql/*/bin nor on PATH.
    #[error(
        "PostgreSQL server binaries not found (install Debian's postgresql package: scripts/setup.sh does)"
    )]
    NotInstalled,
    /// A step failed.
    #[error("{step}: {reason}")]
    Failed {
        /// What was being done.
        step: String,
        /// What went wrong.
        reason: String,
    },
}

/// A running PostgreSQL server in a temporary directory.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
    extra: Vec<String>,
}

fn failed(step: &str, reason: impl ToString) -> PgServerError {
    PgServerError::Failed {
        step: step.to_string(),
        reason: reason.to_string(),
    }
}

/// The newest `/usr/lib/postgresql/<v>/bin` holding `initdb`, else PATH.
fn find_bin() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    dirs.sort();
    if let Some((_, b)) = dirs.pop() {
        return Some(b);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").exists() && d.join("postgres").exists())
    })
}

/// uid and gid of the `postgres` user (initdb refuses to run as root).
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"postgres") && f.len() > 3)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .flatten()
    })
}

fn free_port() -> Result<u16, PgServerError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| failed("finding a free port", e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| failed("finding a free port", e))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

impl PgServer {
    /// Starts a server, or `Ok(None)` when PostgreSQL is not installed and not required.
    pub fn start_or_skip(test: &str) -> Result<Option<PgServer>, PgServerError> {
        match Self::start(&[]) {
            Ok(s) => Ok(Some(s)),
            Err(PgServerError::NotInstalled)
                if std::env::var(REQUIRE_ENV).ok().as_deref() != Some("1") =>
            {
                eprintln!(
                    "{test}: skipped: PostgreSQL is not installed (scripts/setup.sh installs it; {REQUIRE_ENV}=1 makes this a failure)"
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Initialises a cluster and starts the server with extra `-c name=value` settings.
    pub fn start(settings: &[&str]) -> Result<PgServer, PgServerError> {
        Self::start_inner(settings, None)
    }

    /// Like [`PgServer::start`], with `ssl=on` and this certificate chain and key (PEM).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Result<PgServer, PgServerError> {
        Self::start_inner(&[], Some((cert_pem, key_pem)))
    }

    fn start_inner(
        settings: &[&str],
        tls: Option<(&str, &str)>,
    ) -> Result<PgServer, PgServerError> {
        let bin = find_bin().ok_or(PgServerError::NotInstalled)?;
        let run_as = if is_root() {
            Some(postgres_user().ok_or_else(|| {
                failed(
                    "running as root",
                    "initdb refuses root and there is no postgres user (the postgresql package creates it)",
                )
            })?)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("kubemedic-pg-")
            .tempdir()
            .map_err(|e| failed("creating a temporary directory", e))?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| failed("chown of the data directory", e))?;
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| failed("chmod of the data directory", e))?;
        let data = dir.path().join("data");
        let mut init = Command::new(bin.join("initdb"));
        init.args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if let Some((uid, gid)) = run_as {
            use std::os::unix::process::CommandExt;
            init.uid(uid).gid(gid);
        }
        let out = init.output().map_err(|e| failed("running initdb", e))?;
        if !out.status.success() {
            return Err(failed(
                "initdb",
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        let mut extra: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
        if let Some((cert, key)) = tls {
            // The server reads them as its own user and refuses a key others can read.
            for (name, pem) in [("server.crt", cert), ("server.key", key)] {
                let path = dir.path().join(name);
                std::fs::write(&path, pem).map_err(|e| failed("writing the TLS files", e))?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| failed("chmod of the TLS files", e))?;
                if let Some((uid, gid)) = run_as {
                    std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                        .map_err(|e| failed("chown of the TLS files", e))?;
                }
            }
            extra.push("ssl=on".to_string());
            extra.push(format!(
                "ssl_cert_file={}",
                dir.path().join("server.crt").display()
            ));
            extra.push(format!(
                "ssl_key_file={}",
                dir.path().join("server.key").display()
            ));
        }
        let mut server = PgServer {
            bin,
            dir,
            port: free_port()?,
            run_as,
            child: None,
            extra,
        };
        server.start_again()?;
        Ok(server)
    }

    /// Starts the (stopped) server again on the same port and data.
    pub fn start_again(&mut self) -> Result<(), PgServerError> {
        if self.child.is_some() {
            return Ok(());
        }
        let data = self.dir.path().join("data");
        let mut cmd = Command::new(self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .args(["-c", "max_connections=50", "-c", "log_min_messages=fatal"]);
        for s in &self.extra {
            cmd.args(["-c", s]);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(gid);
        }
        let child = cmd.spawn().map_err(|e| failed("starting postgres", e))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = postgres::Config::new()
                .host("127.0.0.1")
                .port(self.port)
                .user("postgres")
                .dbname("postgres")
                .connect_timeout(Duration::from_secs(2))
                .connect(postgres::NoTls)
                .is_ok();
            if ok {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return Err(failed("postgres", format!("exited at start: {status}")));
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(failed("postgres", "not accepting connections after 60 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (fast shutdown, then SIGKILL after 20 s); data stays.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGINT = fast shutdown: disconnect clients, checkpoint, exit.
        if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
            }
        }
    }

    /// Creates a database and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, PgServerError> {
        let mut c = postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect(postgres::NoTls)
            .map_err(|e| failed("connecting", e))?;
        c.batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .map_err(|e| failed("creating a database", e))?;
        Ok(self.url(name))
    }

    /// URL of a database on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory (data under `data/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Process id of the postmaster while it runs (benchmarks count its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}
