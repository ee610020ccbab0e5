//! The few raw system calls the testbed needs: child set-up, signals, process liveness.
//!
//! This is the only module allowed `unsafe`; each block is a plain libc call with no pointers
//! escaping it.
#![allow(unsafe_code)]

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `cmd`'s child lead its own process group (so the whole group can be signalled) and
/// die with SIGKILL when the thread that spawned it dies, which includes the whole test
/// process being SIGKILLed.
pub(crate) fn die_with_parent(cmd: &mut Command) {
    cmd.process_group(0);
    die_with_spawning_thread(cmd);
}

/// Sends `signal` to every process in the group led by `pgid`; a group that is gone is fine.
pub(crate) fn kill_group(pgid: u32, signal: i32) {
    let Ok(pgid) = i32::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return; // never signal init's group or "every process" by accident
    }
    // SAFETY: kill takes plain integers.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Sends `signal` to one process; a process that is gone is fine.
pub(crate) fn kill_pid(pid: u32, signal: i32) {
    let Ok(pid) = i32::try_from(pid) else {
        return;
    };
    if pid <= 1 {
        return;
    }
    // SAFETY: kill takes plain integers.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// The start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat),
/// which tells a live process from a later one that reused its pid.
pub(crate) fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // Fields after the name start with field 3 (state); start time is field 22.
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

/// Whether `pid` is a live (not zombie) process.
pub(crate) fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z") | Some("X") | None)
}

/// Makes `cmd`'s child start a new session, detached from the caller's terminal, so that
/// neither Ctrl-C in that terminal nor closing it reaches the child.
pub(crate) fn detach(cmd: &mut Command) {
    // SAFETY: setsid is async-signal-safe and takes no arguments.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Moves the calling thread into the network namespace of process `pid` (only this thread:
/// network namespaces are per thread).
pub(crate) fn enter_netns_of(pid: u32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    // SAFETY: setns takes a file descriptor we own for the duration of the call and a flag.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether this process runs as root (real nodes need it).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The parent of process `pid` (field 4 of /proc/PID/stat).
pub(crate) fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

/// Makes `cmd`'s child start with every signal at its default disposition and none blocked,
/// whatever the caller inherited: a test run as a background job of a script inherits SIGINT
/// and SIGQUIT ignored, and an ignored disposition survives `exec`, so a child that should die
/// from SIGINT would ignore it and be waited for forever.
pub(crate) fn default_signals(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe
    // functions (signal, sigemptyset, sigprocmask) on a stack value, without allocating.
    unsafe {
        cmd.pre_exec(|| {
            for sig in 1..libc::SIGRTMAX() {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    // Numbers the kernel reserves (glibc's internal real-time signals) fail
                    // with EINVAL; nothing to reset there.
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Makes `cmd`'s child die with SIGKILL when the thread that spawns it ends (a test's thread
/// ends with the test, passed or failed), so a helper process never outlives its test.
pub(crate) fn die_with_spawning_thread(cmd: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe
    // functions (prctl, getppid) without allocating.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would kill us.
            if libc::getppid() as u32 != parent {
                return Err(io::Error::other("parent exited before the child started"));
            }
            Ok(())
        });
    }
}
