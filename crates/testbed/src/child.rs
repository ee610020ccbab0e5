//! Child processes of tests: independent of the signal dispositions the test process inherited,
//! and never waited for without a deadline.
//!
//! CI may run the tests as a background job, where SIGINT and SIGQUIT arrive ignored and stay
//! ignored across `exec`; a test that stops a child with SIGINT would then wait forever. Every
//! helper here resets the child's signals to their defaults and bounds every wait.
//!
//! ```no_run
//! use std::process::Command;
//! use std::time::Duration;
//! let out = kubemedic_testbed::child::output(
//!     Command::new("true").arg("x"),
//!     Duration::from_secs(60),
//! )
//! .unwrap();
//! assert!(out.status.success());
//! ```

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::sys;

/// How often a waiting child is polled.
const POLL: Duration = Duration::from_millis(20);

/// Makes `cmd`'s child start with every signal at its default disposition and an empty signal
/// mask, whatever this process inherited.
pub fn reset_signals(cmd: &mut Command) -> &mut Command {
    sys::default_signals(cmd);
    cmd
}

/// Makes `cmd`'s child die (SIGKILL) when the thread that spawns it ends: spawned from a test's
/// thread, it cannot outlive the test even when the test panics before killing it.
pub fn die_with_test(cmd: &mut Command) -> &mut Command {
    sys::die_with_spawning_thread(cmd);
    cmd
}

/// Waits at most `timeout` for `child` to exit. When it has not, it is killed (SIGKILL) and
/// reaped, and the error (kind `TimedOut`) says how long it was given.
pub fn wait(child: &mut Child, timeout: Duration) -> io::Result<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "process {} did not exit within {timeout:?}; killed",
                    child.id()
                ),
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// Runs `cmd` to the end like [`Command::output`] (stdin `/dev/null`, stdout and stderr
/// captured), with default signal dispositions, for at most `timeout`: a child still running
/// then, or whose output pipes stay open (a grandchild holding them), is an error of kind
/// `TimedOut`; the child is killed.
pub fn output(cmd: &mut Command, timeout: Duration) -> io::Result<Output> {
    let deadline = Instant::now() + timeout;
    let program = format!("{:?}", cmd.get_program());
    reset_signals(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let (tx, rx) = mpsc::channel();
    let mut pending = 0;
    if let Some(pipe) = child.stdout.take() {
        drain(pipe, 1, tx.clone());
        pending += 1;
    }
    if let Some(pipe) = child.stderr.take() {
        drain(pipe, 2, tx.clone());
        pending += 1;
    }
    drop(tx);
    let status = wait(&mut child, timeout)
        .map_err(|e| io::Error::new(e.kind(), format!("{program}: {e}")))?;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    for _ in 0..pending {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.max(POLL)) {
            Ok((1, bytes)) => stdout = bytes,
            Ok((_, bytes)) => stderr = bytes,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{program} exited ({status}) but its output stayed open past {timeout:?} (a process it started still holds it)"
                    ),
                ));
            }
        }
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Reads `pipe` to the end on a thread and sends what it read, tagged with `fd`.
fn drain(mut pipe: impl Read + Send + 'static, fd: u8, tx: mpsc::Sender<(u8, Vec<u8>)>) {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send((fd, bytes));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_captures_both_streams() {
        let out = output(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    fn output_gives_up_at_the_deadline() {
        let started = Instant::now();
        let err = output(Command::new("sleep").arg("600"), Duration::from_millis(300)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    /// `SigIgn` and `SigBlk` of a child started with `cmd`, as /proc shows them to it.
    fn ignored_and_blocked(cmd: &mut Command) -> String {
        let out = output(
            cmd.args(["-E", "^Sig(Ign|Blk)", "/proc/self/status"]),
            Duration::from_secs(30),
        )
        .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    const INNER_ENV: &str = "KUBEMEDIC_TESTBED_CHILD_INNER";

    #[test]
    fn signals_are_reset_even_when_this_process_ignores_them() {
        if std::env::var_os(INNER_ENV).is_some() {
            // Here SIGINT and SIGQUIT are ignored, as in a background job of a script. A plain
            // spawn passes that on (the control); `output` does not.
            let plain = std::process::Command::new("grep")
                .args(["-E", "^SigIgn", "/proc/self/status"])
                .output()
                .unwrap();
            let plain = String::from_utf8(plain.stdout).unwrap();
            assert!(
                !plain.contains("0000000000000000"),
                "control: the inherited ignores should reach a plain child: {plain}"
            );
            let reset = ignored_and_blocked(&mut Command::new("grep"));
            // Signals 1-31; 32 and 33 are glibc's own and cannot be reset through it.
            for line in reset.lines() {
                let (name, mask) = line.split_once(":\t").unwrap();
                let mask = u64::from_str_radix(mask, 16).unwrap();
                assert_eq!(mask & 0x7fff_ffff, 0, "{name} of the reset child: {reset}");
            }
            return;
        }
        // Re-run this very test in a process that inherits SIGINT and SIGQUIT ignored.
        let exe = std::env::current_exe().unwrap();
        let out = output(
            Command::new("bash")
                .arg("-c")
                .arg("trap '' INT QUIT; exec \"$0\" --exact child::tests::signals_are_reset_even_when_this_process_ignores_them --nocapture")
                .arg(exe)
                .env(INNER_ENV, "1"),
            Duration::from_secs(60),
        )
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "{text}");
    }
}
