//! `kubectl-medic`: the kubectl plugin entry point. kubectl runs `kubectl-medic ARGS` for
//! `kubectl medic ARGS`; this replaces itself with the `kubemedic` binary installed in the same
//! directory (both come from `cargo install -p kubemedic`), or the one on PATH.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn kubemedic_path() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("kubemedic")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("kubemedic"))
}

fn main() -> ExitCode {
    let target = kubemedic_path();
    // exec only returns on failure.
    let err = Command::new(&target)
        .args(std::env::args_os().skip(1))
        .env("KUBEMEDIC_INVOKED_AS", "kubectl medic")
        .exec();
    eprintln!(
        "error: kubectl-medic cannot run {}: {err} (install both binaries with `cargo install --path crates/kubemedic`)",
        target.display()
    );
    ExitCode::from(2)
}
