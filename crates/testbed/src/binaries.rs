//! Locating the control-plane binaries: `testbed/build` builds them (or finds them cached)
//! once per process.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::error::TestbedError;

/// Names of the binaries the testbed runs.
pub(crate) const REQUIRED: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
];

/// Environment variable naming a directory with ready binaries (skips `testbed/build`).
pub const BIN_DIR_ENV: &str = "KUBEMEDIC_TESTBED_BIN_DIR";

/// The repository's build script.
pub fn build_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testbed/build")
}

/// The directory holding the binaries; built on first use, remembered for the process.
pub(crate) async fn bin_dir() -> Result<PathBuf, TestbedError> {
    static BIN_DIR: tokio::sync::OnceCell<Result<PathBuf, String>> =
        tokio::sync::OnceCell::const_new();
    BIN_DIR
        .get_or_init(|| async { resolve().await })
        .await
        .clone()
        .map_err(TestbedError::Unavailable)
}

async fn resolve() -> Result<PathBuf, String> {
    let (dir, source) = match std::env::var_os(BIN_DIR_ENV) {
        Some(dir) => (PathBuf::from(dir), BIN_DIR_ENV),
        None => (run_build().await?, "testbed/build"),
    };
    for name in REQUIRED {
        if !dir.join(name).is_file() {
            return Err(format!(
                "{name} is missing from {} (from {source})",
                dir.display()
            ));
        }
    }
    Ok(dir)
}

/// Runs `testbed/build`, forwarding its build progress to stderr (past the test harness's
/// capture, since a cold build takes many minutes), and returns the last line of its stdout.
async fn run_build() -> Result<PathBuf, String> {
    let script = build_script();
    if !script.is_file() {
        return Err(format!("build script {} not found", script.display()));
    }
    let mut child = tokio::process::Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stderr = child.stderr.take();
    let forward = tokio::spawn(async move {
        let mut last = VecDeque::new();
        if let Some(stderr) = stderr {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // Progress of a real build is worth seeing; anything else ends up in the
                // error, so the skip message stays one line.
                if line.starts_with("testbed/build: build") || line.contains("waiting") {
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
                if last.len() == 5 {
                    last.pop_front();
                }
                last.push_back(line);
            }
        }
        last
    });
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_string(&mut out)
            .await
            .map_err(|e| format!("reading {} output: {e}", script.display()))?;
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for {}: {e}", script.display()))?;
    let last = forward.await.unwrap_or_default();
    if !status.success() {
        let why = last.back().cloned().unwrap_or_default();
        return Err(format!("testbed/build failed ({status}): {why}"));
    }
    out.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| PathBuf::from(l.trim()))
        .ok_or_else(|| "testbed/build printed no binary directory".to_string())
}
