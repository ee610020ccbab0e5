//! Rule-matching throughput: lines/s through `LogMonitor::process` on one thread.
//!
//! `bench/rules.sh` runs it with `KUBEMEDIC_BENCH_LINES=<file>` and the NPD configs as arguments
//! after `--`; without that it measures a small built-in sample so `cargo bench` always works.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use kubemedic_detect::config::load_system_log_monitor;
use kubemedic_detect::matcher::LogMatcher;
use kubemedic_detect::{LogLine, LogMonitor, Report};

fn main() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let mut configs: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.ends_with(".json"))
        .collect();
    if configs.is_empty() {
        configs = [
            "kernel-monitor.json",
            "docker-monitor.json",
            "readonly-monitor.json",
        ]
        .iter()
        .map(|f| format!("{manifest}/tests/fixtures/npd/{f}"))
        .collect();
    }
    let text = match std::env::var("KUBEMEDIC_BENCH_LINES") {
        Ok(path) => std::fs::read_to_string(path).unwrap(),
        Err(_) => {
            let mut s = String::new();
            for i in 0..200_000 {
                if i % 100 == 0 {
                    s.push_str("INFO: task docker:20744 blocked for more than 120 seconds.\n");
                } else {
                    s.push_str(
                        "IPv6: ADDRCONF(NETDEV_CHANGE): calid9519d52695: link becomes ready\n",
                    );
                }
            }
            s
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    let now = jiff::Timestamp::now();
    let mut monitors: Vec<LogMonitor> = configs
        .iter()
        .map(|c| {
            LogMonitor::new(load_system_log_monitor(std::path::Path::new(c)).unwrap()).unwrap()
        })
        .collect();
    for m in &mut monitors {
        m.start(now, &[], None);
    }
    let mut out: Vec<Report> = Vec::new();
    let mut events = 0usize;
    let start = Instant::now();
    for line in &lines {
        for m in &mut monitors {
            m.process(
                LogLine {
                    timestamp: now,
                    message: line,
                },
                &mut out,
            );
            events += out.iter().filter(|r| matches!(r, Report::Event(_))).count();
            out.clear();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    // Untimed cross-check with NPD's figure: how many (line, rule) pairs matched, counting
    // permanent rules that match while their condition is already True (which emit nothing).
    let mut matches = 0usize;
    for c in &configs {
        let cfg = load_system_log_monitor(std::path::Path::new(c)).unwrap();
        let patterns: Vec<&str> = cfg.rules.iter().map(|r| r.pattern.as_str()).collect();
        let mut matcher = LogMatcher::new(&patterns, cfg.buffer_size).unwrap();
        let mut found = Vec::new();
        for line in &lines {
            found.clear();
            matcher.push(now, line.trim(), &mut found);
            matches += found.len();
        }
    }
    println!(
        "{{\"impl\":\"kubemedic\",\"lines\":{},\"matches\":{},\"events\":{},\"seconds\":{:.3},\"lines_per_second\":{:.0}}}",
        lines.len(),
        matches,
        events,
        secs,
        lines.len() as f64 / secs
    );
}
