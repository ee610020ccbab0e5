//! Live calls always end. Against real sockets on 127.0.0.1 that fail the ways a production
//! apiserver or controller can (accepts and never answers, refuses, closes in the middle of a
//! response), every command that talks to a server (`diagnose`, `collect`, `heal plan`,
//! `events`, `crashes`) gives up by itself, exits 2 as docs/diagnose.md says for an unreachable
//! cluster, and says which server and what it was fetching, naming the server once.
//!
//! These servers are hand-written on purpose: a real kube-apiserver cannot be made to hang or
//! to cut a response short. Each test bounds its own wait on the binary (60 s, far above the
//! few seconds the flags allow), so a regression fails instead of hanging.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a test server does with each connection.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Accepts, reads the request, never answers (keeps the connection open).
    Silent,
    /// Answers 200 with a Content-Length it never fulfils, then closes.
    ClosesMidResponse,
}

/// A server on 127.0.0.1 that stops (and drops its connections) when dropped.
struct Server {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        read_request_head(&mut conn);
                        match behaviour {
                            Behaviour::Silent => held.push(conn),
                            Behaviour::ClosesMidResponse => {
                                let _ = conn.write_all(
                                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[{\"metadata\":",
                                );
                                let _ = conn.flush();
                                drop(conn);
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Server {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads up to the end of the request's headers (or what arrives within the read timeout).
fn read_request_head(conn: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// A URL on 127.0.0.1 where nothing listens: the port of a listener just closed.
fn refusing_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// A kubeconfig for a plain-HTTP server without credentials.
fn kubeconfig(dir: &Path, server: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n    namespace: default\ncurrent-context: x\n"
        ),
    )
    .unwrap();
    path
}

struct Run {
    code: Option<i32>,
    stderr: String,
}

fn kubemedic(args: &[&str]) -> Run {
    let out = kubemedic_testbed::child::output(
        Command::new(env!("CARGO_BIN_EXE_kubemedic"))
            .args(args)
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1"),
        Duration::from_secs(60),
    )
    .unwrap_or_else(|e| panic!("kubemedic {args:?} did not end by itself: {e}"));
    Run {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `diagnose` against `server` with `extra` flags.
fn diagnose(server: &str, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), server);
    let mut args = vec!["diagnose", "-A", "--kubeconfig", kc.to_str().unwrap()];
    args.extend_from_slice(extra);
    kubemedic(&args)
}

impl Run {
    /// Exit code 2 (docs/diagnose.md: an unreachable or failing server is an input error) and
    /// every one of `needles` in stderr.
    fn fails_saying(&self, needles: &[&str]) -> &Run {
        assert_eq!(self.code, Some(2), "{}", self.stderr);
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "{needle:?} not in:\n{}",
                self.stderr
            );
        }
        self
    }

    /// The server's address appears exactly once and none of the wrappers' noise does.
    fn names_server_once(&self, server: &str) {
        let addr = server.trim_start_matches("http://");
        assert_eq!(
            self.stderr.matches(addr).count(),
            1,
            "the server should be named once:\n{}",
            self.stderr
        );
        for noise in [
            "ServiceError",
            "HyperError",
            "client error (",
            "error sending request",
        ] {
            assert!(
                !self.stderr.contains(noise),
                "{noise:?} in:\n{}",
                self.stderr
            );
        }
    }
}

#[test]
fn a_server_that_never_answers_ends_each_request_and_names_the_server_and_the_resource() {
    let server = Server::start(Behaviour::Silent);
    diagnose(&server.url, &["--request-timeout", "1s", "--timeout", "1m"])
        .fails_saying(&[
            &format!("cannot list pods in all namespaces from {}", server.url),
            "no answer within 1 s",
        ])
        .names_server_once(&server.url);
}

#[test]
fn the_whole_run_gives_up_at_its_deadline_and_says_what_was_still_being_fetched() {
    let server = Server::start(Behaviour::Silent);
    let run = diagnose(
        &server.url,
        &["--timeout", "2s", "--request-timeout", "10m"],
    );
    run.fails_saying(&[&format!("gave up on {} after 2 s", server.url), "--timeout"]);
    assert!(
        run.stderr.contains("the list of pods in all namespaces")
            || run.stderr.contains("the list of nodes"),
        "{}",
        run.stderr
    );
    run.names_server_once(&server.url);
}

#[test]
fn a_refused_connection_is_said_once_with_the_server() {
    let url = refusing_url();
    let run = diagnose(&url, &[]);
    run.fails_saying(&[&format!(
        "cannot list pods in all namespaces from {url}: cannot connect"
    )]);
    assert!(
        run.stderr.to_lowercase().contains("connection refused"),
        "{}",
        run.stderr
    );
    run.names_server_once(&url);
}

#[test]
fn a_response_cut_short_is_an_error_naming_the_server_and_the_resource() {
    let server = Server::start(Behaviour::ClosesMidResponse);
    let run = diagnose(&server.url, &["--request-timeout", "20s"]);
    run.fails_saying(&[&format!(
        "cannot list pods in all namespaces from {}",
        server.url
    )]);
    assert!(!run.stderr.contains("no answer within"), "{}", run.stderr);
    run.names_server_once(&server.url);
}

#[test]
fn collect_and_heal_plan_end_too() {
    let server = Server::start(Behaviour::Silent);
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), &server.url);
    let kc = kc.to_str().unwrap();
    let out = dir.path().join("dump");
    kubemedic(&[
        "collect",
        out.to_str().unwrap(),
        "-A",
        "--kubeconfig",
        kc,
        "--timeout",
        "2s",
    ])
    .fails_saying(&[&format!("gave up on {} after 2 s", server.url)]);
    kubemedic(&[
        "heal",
        "plan",
        "-A",
        "--kubeconfig",
        kc,
        "--request-timeout",
        "1s",
    ])
    .fails_saying(&[&format!(
        "cannot list pods in all namespaces from {}: no answer within 1 s",
        server.url
    )]);
}

#[test]
fn events_and_crashes_from_a_controller_that_hangs_refuses_or_cuts_short() {
    let silent = Server::start(Behaviour::Silent);
    kubemedic(&["events", "--server", &silent.url, "--request-timeout", "1s"])
        .fails_saying(&[&format!(
            "cannot fetch archived events from the controller at {}: no answer within 1 s",
            silent.url
        )])
        .names_server_once(&silent.url);

    kubemedic(&["crashes", "--server", &silent.url, "--timeout", "1s"]).fails_saying(&[&format!(
        "gave up on the controller at {} after 1 s (--timeout): still waiting for archived crashes",
        silent.url
    )]);

    let refused = refusing_url();
    kubemedic(&["crashes", "--server", &refused])
        .fails_saying(&[&format!(
            "cannot fetch archived crashes from the controller at {refused}: cannot connect"
        )])
        .names_server_once(&refused);

    let cut = Server::start(Behaviour::ClosesMidResponse);
    kubemedic(&["events", "--server", &cut.url])
        .fails_saying(&[&format!(
            "cannot fetch archived events from the controller at {}",
            cut.url
        )])
        .names_server_once(&cut.url);
}

#[test]
fn timeouts_must_be_positive_durations() {
    kubemedic(&["diagnose", "-A", "--timeout", "0s"]).fails_saying(&["must be more than 0"]);
    kubemedic(&["events", "--request-timeout", "30"]).fails_saying(&["a number needs a unit"]);
}
