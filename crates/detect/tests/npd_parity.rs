//! Every NPD reference config parses and behaves as node-problem-detector does on constructed
//! input; kubemedic's healing and restart semantics; plugin results; bad configs.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use kubemedic_detect::config::{
    load_custom_plugin_monitor, load_system_log_monitor, load_system_stats_monitor,
    parse_custom_plugin_monitor, parse_system_log_monitor, parse_system_stats_monitor,
};
use kubemedic_detect::{
    ConditionStatus, LogLine, LogMonitor, NodeConditionSnapshot, PluginExit, PluginMonitor, Report,
    Severity, defaults,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/npd")
        .join(name)
}

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + s).unwrap()
}

fn monitor(name: &str) -> LogMonitor {
    let mut m = LogMonitor::new(load_system_log_monitor(&fixture(name)).unwrap()).unwrap();
    let init = m.start(t(0), &[], None);
    assert!(
        init.iter()
            .all(|r| matches!(r, Report::Condition(c) if c.status == ConditionStatus::False))
    );
    m
}

fn feed(m: &mut LogMonitor, at: i64, line: &str) -> Vec<Report> {
    let mut out = Vec::new();
    m.process(
        LogLine {
            timestamp: t(at),
            message: line,
        },
        &mut out,
    );
    out
}

fn events(r: &[Report]) -> Vec<(String, String, Severity)> {
    r.iter()
        .filter_map(|r| match r {
            Report::Event(e) => Some((e.reason.clone(), e.message.clone(), e.severity)),
            Report::Condition(_) => None,
        })
        .collect()
}

#[test]
fn every_reference_config_parses() {
    for f in [
        "kernel-monitor.json",
        "docker-monitor.json",
        "readonly-monitor.json",
        "systemd-monitor.json",
    ] {
        let c = load_system_log_monitor(&fixture(f)).unwrap();
        assert_eq!(c.buffer_size, 10, "{f}");
        assert!(c.metrics_reporting);
        assert_eq!(c.lookback, std::time::Duration::from_secs(300));
        LogMonitor::new(c).unwrap();
    }
    for f in ["custom-plugin-monitor.json", "health-checker-kubelet.json"] {
        load_custom_plugin_monitor(&fixture(f)).unwrap();
    }
    let stats = load_system_stats_monitor(&fixture("system-stats-monitor.json")).unwrap();
    // The shipped file spells the key `KnownModulesConfigPath`: Go matches it case-insensitively.
    assert_eq!(
        stats.os_feature.known_modules_config_path,
        "guestosconfig/known-modules.json"
    );
    assert_eq!(stats.invoke_interval, std::time::Duration::from_secs(60));
    assert_eq!(stats.disk.lsblk_timeout, std::time::Duration::from_secs(5));
    assert!(stats.disk.include_root_blk && stats.disk.include_all_attached_blk);
    assert_eq!(stats.cpu.metrics_configs.len(), 10);
    let docker = load_system_log_monitor(&fixture("docker-monitor.json")).unwrap();
    assert_eq!(docker.journald_source(), Some("dockerd"));
    let plugin = load_custom_plugin_monitor(&fixture("custom-plugin-monitor.json")).unwrap();
    assert_eq!(plugin.plugin_config.max_output_length, 80);
    assert_eq!(plugin.plugin_config.concurrency, 3);
    assert_eq!(plugin.rules[0].timeout, std::time::Duration::from_secs(3));
}

#[test]
fn kernel_monitor_behaves_as_npd() {
    let mut m = monitor("kernel-monitor.json");
    // The seed's test lines (written to /dev/kmsg with a `kernel: ` prefix), plus a trailing space
    // that kmsg trimming removes.
    let r = feed(
        &mut m,
        1,
        "kernel: BUG: unable to handle kernel NULL pointer dereference at TESTING ",
    );
    assert_eq!(
        events(&r),
        [(
            "KernelOops".into(),
            "kernel: BUG: unable to handle kernel NULL pointer dereference at TESTING".into(),
            Severity::Warn
        )]
    );
    let r = feed(
        &mut m,
        2,
        "kernel: INFO: task docker:20744 blocked for more than 120 seconds.",
    );
    // TaskHung (temporary) and DockerHung (permanent) both fire, in rule order.
    let ev = events(&r);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].0, "TaskHung");
    assert_eq!(
        ev[0].1,
        "kernel: INFO: task docker:20744 blocked for more than 120 seconds."
    );
    assert_eq!(ev[1].0, "DockerHung");
    assert_eq!(
        ev[1].1,
        "Node condition KernelDeadlock is now: True, reason: DockerHung, message: \"kernel: INFO: task docker:20744 blocked for more than 120 seconds.\""
    );
    let kd = m
        .conditions()
        .iter()
        .find(|c| c.condition_type == "KernelDeadlock")
        .unwrap();
    assert_eq!(
        (kd.status, kd.reason.as_str(), kd.transition),
        (ConditionStatus::True, "DockerHung", t(2))
    );
    // Same reason again: no new condition event, no transition (NPD).
    let r = feed(
        &mut m,
        3,
        "INFO: task docker:1 blocked for more than 120 seconds.",
    );
    assert_eq!(
        events(&r).iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["TaskHung"]
    );
    assert!(!r.iter().any(|r| matches!(r, Report::Condition(_))));
    // NPD never heals a log condition on its own: no quietPeriod in the reference config.
    let mut out = Vec::new();
    m.tick(t(1_000_000), &mut out);
    assert!(out.is_empty());
    let r = feed(
        &mut m,
        4,
        "Killed process 1234 (java) total-vm:1234kB, anon-rss:12kB, file-rss:0kB, shmem-rss:0kB",
    );
    assert_eq!(events(&r)[0].0, "OOMKilling");
    assert!(
        feed(&mut m, 5, "divide error: 0000 [#1] SMP ")
            .iter()
            .any(|r| matches!(r, Report::Event(e) if e.reason == "KernelOops"))
    );
    assert!(feed(&mut m, 6, "{1}[Hardware Error]: event severity: fatal").iter().any(
        |r| matches!(r, Report::Condition(c) if c.condition_type == "CperHardwareErrorFatal" && c.status == ConditionStatus::True)
    ));
    let metrics = m.metrics();
    assert_eq!(metrics.counters["TaskHung"], 2);
    assert_eq!(metrics.counters["DockerHung"], 1);
    assert_eq!(metrics.counters["KernelOops"], 2);
    assert_eq!(metrics.counters["Ext4Error"], 0);
    assert!(metrics.gauges[&("KernelDeadlock".to_string(), "DockerHung".to_string())]);
    assert!(!metrics.gauges[&("XfsShutdown".to_string(), "XfsHasShutdown".to_string())]);
}

#[test]
fn ascii_classes_and_unicode_input() {
    let mut m = monitor("kernel-monitor.json");
    // `\d` is ASCII in RE2: Arabic-Indic digits must not match.
    assert!(events(&feed(&mut m, 1, "divide error: 0000 [#١] SMP")).is_empty());
    assert!(
        events(&feed(
            &mut m,
            2,
            "unregister_netdevice: waiting for eth0 to become free. Usage count = ٣"
        ))
        .is_empty()
    );
    assert_eq!(
        events(&feed(
            &mut m,
            3,
            "unregister_netdevice: waiting for eth0 to become free. Usage count = 3"
        ))[0]
            .0,
        "UnregisterNetDevice"
    );
    // Non-ASCII and invalid UTF-8 (decoded lossily) inside `.*` still match, never panic.
    let bytes = b"EXT4-fs error (device sda1): \xff\xfe caf\xc3\xa9 \xe2\x82";
    let line = LogLine::lossy(bytes);
    let r = feed(&mut m, 4, &line);
    assert_eq!(events(&r)[0].0, "Ext4Error");
    assert!(events(&r)[0].1.contains('\u{fffd}'));
}

#[test]
fn one_mebibyte_lines() {
    let mut m = monitor("kernel-monitor.json");
    let big = format!("EXT4-fs error {}", "x".repeat(1 << 20));
    let r = feed(&mut m, 1, &big);
    assert_eq!(events(&r)[0].1.len(), big.len());
    let noise = "y".repeat(1 << 20);
    for i in 0..12 {
        assert!(feed(&mut m, 2 + i, &noise).is_empty());
    }
}

#[test]
fn readonly_and_docker_monitors() {
    let mut ro = monitor("readonly-monitor.json");
    let r = feed(
        &mut ro,
        1,
        "EXT4-fs (sda1): Remounting filesystem read-only",
    );
    let c = r
        .iter()
        .find_map(|r| {
            if let Report::Condition(c) = r {
                Some(c)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(
        (c.condition_type.as_str(), c.status, c.reason.as_str()),
        (
            "ReadonlyFilesystem",
            ConditionStatus::True,
            "FilesystemIsReadOnly"
        )
    );
    assert_eq!(c.message, "EXT4-fs (sda1): Remounting filesystem read-only");
    assert_eq!(c.source, "readonly-monitor");

    let mut d = monitor("docker-monitor.json");
    let r = feed(
        &mut d,
        1,
        "OCI runtime start failed: container process is already dead: unknown",
    );
    assert_eq!(events(&r)[0].0, "DockerContainerStartupFailure");
    let r = feed(
        &mut d,
        2,
        "Handler for GET /containers/json returned error: readlink /var/lib/docker/overlay2/l/abc: invalid argument",
    );
    assert!(r.iter().any(|r| matches!(r, Report::Condition(c) if c.condition_type == "CorruptDockerOverlay2" && c.status == ConditionStatus::True)));
}

const MULTI: &str = r#"{
  "plugin": "filelog",
  "pluginConfig": {"timestamp": "^.{15}", "message": "kernel: \\[.*\\] (.*)", "timestampFormat": "Jan _2 15:04:05"},
  "logPath": "/var/log/kern.log",
  "bufferSize": 3,
  "source": "multi",
  "conditions": [{"type": "Stuck", "reason": "NotStuck", "message": "fine", "quietPeriod": "10m",
                  "recoveryPattern": "stuck thing recovered"}],
  "rules": [
    {"type": "temporary", "reason": "TwoLines", "pattern": "first part\\nsecond part"},
    {"type": "permanent", "condition": "Stuck", "reason": "IsStuck", "pattern": "thing is stuck",
     "quietPeriod": "1m"}
  ]
}"#;

#[test]
fn multi_line_patterns_report_all_matched_lines() {
    let mut m = LogMonitor::new(parse_system_log_monitor("multi.json", MULTI).unwrap()).unwrap();
    m.start(t(0), &[], None);
    assert!(feed(&mut m, 1, "first part").is_empty());
    let r = feed(&mut m, 2, "second part");
    let Report::Event(e) = &r[0] else {
        panic!("{r:?}")
    };
    assert_eq!(e.message, "first part\nsecond part");
    // The event time is the first matched line's (NPD).
    assert_eq!(e.time, t(1));
    // filelog does not trim: a trailing space breaks the `\z` anchor, as in NPD.
    assert!(feed(&mut m, 3, "first part").is_empty());
    assert!(feed(&mut m, 4, "second part ").is_empty());
}

/// NPD v1.31+ `patternGeneratedMessageSuffix`: NPD's generateMessage writes "<lines>; <suffix>"
/// for events and conditions alike.
#[test]
fn pattern_generated_message_suffix_follows_npd() {
    let config = r#"{"plugin": "kmsg", "source": "kernel-monitor",
      "conditions": [{"type": "KernelDeadlock", "reason": "KernelHasNoDeadlock", "message": "ok"}],
      "rules": [
        {"type": "temporary", "reason": "OOMKilling", "pattern": "Killed process .*",
         "patternGeneratedMessageSuffix": "see https://runbooks.example/oom"},
        {"type": "permanent", "condition": "KernelDeadlock", "reason": "DockerHung",
         "pattern": "task docker:\\w+ blocked.*", "patternGeneratedMessageSuffix": "restart docker"}
      ]}"#;
    let mut m = LogMonitor::new(parse_system_log_monitor("suffix.json", config).unwrap()).unwrap();
    m.start(t(0), &[], None);
    let r = feed(&mut m, 1, "Killed process 7 (x)");
    assert_eq!(
        events(&r)[0].1,
        "Killed process 7 (x); see https://runbooks.example/oom"
    );
    let r = feed(
        &mut m,
        2,
        "task docker:1 blocked for more than 120 seconds.",
    );
    let cond = r
        .iter()
        .find_map(|r| match r {
            Report::Condition(c) => Some(c),
            Report::Event(_) => None,
        })
        .unwrap();
    assert_eq!(
        cond.message,
        "task docker:1 blocked for more than 120 seconds.; restart docker"
    );
}

#[test]
fn conditions_heal_by_quiet_period_and_recovery_pattern() {
    let mut m = LogMonitor::new(parse_system_log_monitor("multi.json", MULTI).unwrap()).unwrap();
    m.start(t(0), &[], None);
    feed(&mut m, 10, "the thing is stuck");
    assert_eq!(m.conditions()[0].status, ConditionStatus::True);
    let mut out = Vec::new();
    m.tick(t(69), &mut out);
    assert!(out.is_empty(), "the rule's 1m quiet period has not elapsed");
    feed(&mut m, 60, "the thing is stuck"); // renews the quiet period
    m.tick(t(110), &mut out);
    assert!(out.is_empty());
    m.tick(t(120), &mut out);
    let Some(Report::Condition(c)) = out.last() else {
        panic!("{out:?}")
    };
    assert_eq!(
        (
            c.status,
            c.reason.as_str(),
            c.message.as_str(),
            c.transition
        ),
        (ConditionStatus::False, "NotStuck", "fine", t(120))
    );
    let Report::Event(e) = &out[0] else { panic!() };
    assert_eq!(e.severity, Severity::Info);
    assert_eq!(
        e.message,
        "Node condition Stuck is now: False, reason: NotStuck, message: \"fine\""
    );
    assert!(!m.metrics().gauges[&("Stuck".to_string(), "IsStuck".to_string())]);

    feed(&mut m, 200, "the thing is stuck");
    assert_eq!(m.conditions()[0].status, ConditionStatus::True);
    let r = feed(&mut m, 201, "stuck thing recovered");
    assert!(
        r.iter()
            .any(|r| matches!(r, Report::Condition(c) if c.status == ConditionStatus::False))
    );
    assert_eq!(m.conditions()[0].transition, t(201));
}

#[test]
fn restart_keeps_node_conditions_until_healed() {
    let seed = NodeConditionSnapshot {
        condition_type: "Stuck".into(),
        status: ConditionStatus::True,
        reason: "IsStuck".into(),
        message: "the thing is stuck".into(),
        last_transition: t(-30),
    };
    let mut m = LogMonitor::new(parse_system_log_monitor("multi.json", MULTI).unwrap()).unwrap();
    let init = m.start(t(0), std::slice::from_ref(&seed), None);
    let Report::Condition(c) = &init[0] else {
        panic!()
    };
    assert_eq!(
        (c.status, c.reason.as_str(), c.transition),
        (ConditionStatus::True, "IsStuck", t(-30))
    );
    let mut out = Vec::new();
    m.tick(t(29), &mut out);
    assert!(
        out.is_empty(),
        "quiet period counts from lastTransitionTime"
    );
    m.tick(t(30), &mut out);
    assert!(matches!(out.last(), Some(Report::Condition(c)) if c.status == ConditionStatus::False));

    // A kernel condition set before the last boot is not kept.
    let mut k = monitor("kernel-monitor.json");
    let seed = NodeConditionSnapshot {
        condition_type: "KernelDeadlock".into(),
        status: ConditionStatus::True,
        reason: "DockerHung".into(),
        message: "m".into(),
        last_transition: t(-100),
    };
    let init = k.start(t(0), std::slice::from_ref(&seed), Some(t(-200)));
    assert!(init.iter().any(|r| matches!(r, Report::Condition(c) if c.condition_type == "KernelDeadlock" && c.status == ConditionStatus::True)));
    let init = k.start(t(0), &[seed], Some(t(-50)));
    assert!(
        init.iter()
            .all(|r| matches!(r, Report::Condition(c) if c.status == ConditionStatus::False))
    );
}

#[test]
fn plugin_results_follow_npd() {
    let cfg = load_custom_plugin_monitor(&fixture("custom-plugin-monitor.json")).unwrap();
    let mut m = PluginMonitor::new(cfg);
    let init = m.start(t(0), &[]);
    assert_eq!(init.len(), 1);
    let mut out = Vec::new();
    // rule 0 temporary, rule 1 permanent NTPProblem.
    let ok = m.result(1, PluginExit::Code(0), b"  ntp ok \n");
    assert_eq!(
        (ok.status, ok.message.as_str()),
        (ConditionStatus::False, "ntp ok")
    );
    m.apply(&ok, t(1), &mut out);
    assert!(out.is_empty());
    let long = "x".repeat(200);
    let bad = m.result(1, PluginExit::Code(1), long.as_bytes());
    assert_eq!(bad.message.len(), 80);
    m.apply(&bad, t(2), &mut out);
    assert!(matches!(&out[..], [Report::Event(e), Report::Condition(c)]
        if e.severity == Severity::Warn && e.reason == "NTPIsDown" && c.status == ConditionStatus::True && c.message.len() == 80));
    out.clear();
    // Unknown (exit 2) from True: default reason, the plugin's message.
    let unk = m.result(1, PluginExit::Code(2), b"cannot tell");
    m.apply(&unk, t(3), &mut out);
    assert!(matches!(&out[..], [Report::Event(e), Report::Condition(c)]
        if e.severity == Severity::Info && c.status == ConditionStatus::Unknown && c.reason == "NTPIsUp" && c.message == "cannot tell"));
    out.clear();
    let timeout = m.result(1, PluginExit::TimedOut, b"partial");
    assert_eq!(timeout.status, ConditionStatus::Unknown);
    // NPD's timeout text, cut to max_output_length (80) like any output.
    assert_eq!(
        timeout.message,
        "Timeout when running plugin \"./config/plugin/check_ntp.sh\": state - signal: kill"
    );
    assert_eq!(
        m.result(0, PluginExit::Failed, b"").status,
        ConditionStatus::Unknown
    );
    // OK from Unknown: back to the default message.
    m.apply(&ok, t(4), &mut out);
    assert!(
        matches!(out.last(), Some(Report::Condition(c)) if c.status == ConditionStatus::False && c.message == "ntp service is up")
    );
    out.clear();
    // Temporary rule: events for NonOK and Unknown only.
    m.apply(&m.result(0, PluginExit::Code(0), b"fine"), t(5), &mut out);
    assert!(out.is_empty());
    m.apply(&m.result(0, PluginExit::Code(3), b"odd"), t(6), &mut out);
    assert_eq!(
        events(&out),
        [("NTPIsDown".into(), "odd".into(), Severity::Warn)]
    );
    assert_eq!(m.metrics().counters["NTPIsDown"], 2);
}

#[test]
fn plugin_restart_and_message_updates() {
    let json = r#"{"plugin":"custom","pluginConfig":{"enable_message_change_based_condition_update":true,"skip_initial_status":true},
      "source":"p","conditions":[{"type":"C","reason":"Fine","message":"fine"}],
      "rules":[{"type":"permanent","condition":"C","reason":"Broken","path":"/bin/true"}]}"#;
    let mut m = PluginMonitor::new(parse_custom_plugin_monitor("p.json", json).unwrap());
    let seed = NodeConditionSnapshot {
        condition_type: "C".into(),
        status: ConditionStatus::True,
        reason: "Broken".into(),
        message: "broken 1".into(),
        last_transition: t(-5),
    };
    assert!(m.start(t(0), &[seed]).is_empty(), "skip_initial_status");
    let mut out = Vec::new();
    m.apply(
        &m.result(0, PluginExit::Code(1), b"broken 1"),
        t(1),
        &mut out,
    );
    assert!(out.is_empty(), "no flap after a restart");
    m.apply(
        &m.result(0, PluginExit::Code(1), b"broken 2"),
        t(2),
        &mut out,
    );
    assert!(matches!(out.last(), Some(Report::Condition(c)) if c.message == "broken 2"));
}

#[test]
fn bad_configs_name_file_path_and_reason() {
    let cases: &[(&str, &str, &str)] = &[
        (r#"{"plugin":"syslog"}"#, "plugin", "unknown log plugin"),
        (
            r#"{"plugin":"kmsg","bufferSize":-1}"#,
            "bufferSize",
            "must be positive",
        ),
        (
            r#"{"plugin":"kmsg","bufferSize":"10"}"#,
            "bufferSize",
            "expected an integer",
        ),
        (
            r#"{"plugin":"kmsg","lookback":"5 minutes"}"#,
            "lookback",
            "invalid Go duration",
        ),
        (
            r#"{"plugin":"kmsg","rules":[{"type":"temporary","reason":"A","pattern":"ok"},{"type":"temporary","reason":"B","pattern":"ok"},{"type":"temporary","reason":"C","pattern":"ok"},{"type":"temporary","reason":"D","pattern":"a(?=b)"}]}"#,
            "rules[3].pattern",
            "look-around",
        ),
        (
            r#"{"plugin":"kmsg","rules":[{"type":"permanent","condition":"Nope","reason":"R","pattern":"x"}]}"#,
            "rules[0].condition",
            "not declared",
        ),
        (
            r#"{"plugin":"kmsg","rules":[{"type":"sometimes","reason":"R","pattern":"x"}]}"#,
            "rules[0].type",
            "temporary",
        ),
        (
            r#"{"plugin":"filelog","pluginConfig":{"timestamp":"x","message":"(.*)"}}"#,
            "pluginConfig.timestampFormat",
            "required",
        ),
        (
            r#"{"plugin":"kmsg","conditions":[{"type":"A","quietPeriod":"-5m"}]}"#,
            "conditions[0].quietPeriod",
            "negative",
        ),
    ];
    for (json, path, reason) in cases {
        let e = parse_system_log_monitor("bad.json", json).unwrap_err();
        assert_eq!(e.file, "bad.json");
        assert_eq!(&e.json_path, path, "{json}");
        assert!(e.reason.contains(reason), "{json}: {}", e.reason);
        assert!(
            e.to_string().starts_with(&format!("bad.json: {path}: ")),
            "{e}"
        );
    }
    let e = parse_system_log_monitor("bad.json", "{\n  \"plugin\": \"kmsg\",\n  \"rules\": [\n}")
        .unwrap_err();
    assert_eq!(e.line_column.map(|(l, _)| l), Some(4));
    assert!(e.to_string().starts_with("bad.json: line 4 column"));
    let e = parse_custom_plugin_monitor(
        "p.json",
        r#"{"plugin":"custom","pluginConfig":{"timeout":"5s"},"rules":[{"type":"temporary","reason":"R","path":"/x","timeout":"10s"}]}"#,
    )
    .unwrap_err();
    assert_eq!(e.json_path, "rules[0].timeout");
    let e = parse_system_stats_monitor(
        "s.json",
        r#"{"invokeInterval":"1s","disk":{"lsblkTimeout":"5s"}}"#,
    )
    .unwrap_err();
    assert_eq!(e.json_path, "disk.lsblkTimeout");
    // Keys are case-insensitive like Go's encoding/json.
    let c = parse_system_log_monitor(
        "ok.json",
        r#"{"Plugin":"kmsg","BUFFERSIZE":3,"Source":"s"}"#,
    )
    .unwrap();
    assert_eq!((c.buffer_size, c.source.as_str()), (3, "s"));
}

#[test]
fn embedded_defaults_parse_and_catch_the_seed_failures() {
    assert!(defaults::all().len() >= 4);
    defaults::system_stats_monitor().unwrap();
    let mut monitors: Vec<LogMonitor> = defaults::system_log_monitors()
        .unwrap()
        .into_iter()
        .map(|c| LogMonitor::new(c).unwrap())
        .collect();
    for m in &mut monitors {
        m.start(t(0), &[], None);
    }
    let mut feed_all = |line: &str| -> Vec<String> {
        let mut out = Vec::new();
        for m in &mut monitors {
            m.process(
                LogLine {
                    timestamp: t(1),
                    message: line,
                },
                &mut out,
            );
        }
        let mut reasons: Vec<String> = out
            .iter()
            .map(|r| match r {
                Report::Event(e) => e.reason.clone(),
                Report::Condition(c) => format!("{}={}", c.condition_type, c.status.as_str()),
            })
            .collect();
        reasons.dedup();
        reasons
    };
    let cases: &[(&str, &str)] = &[
        (
            "INFO: task docker:20744 blocked for more than 120 seconds.",
            "KernelDeadlock=True",
        ),
        (
            "runc:[1:CHILD]: page allocation failure: order:6, mode:0x10c0d0",
            "MemoryFragmentation",
        ),
        (
            "mysqld: page allocation failure. order:4, mode:0x10c0d0",
            "MemoryFragmentation",
        ),
        (
            "nf_conntrack: table full, dropping packet",
            "ConntrackTableFull=True",
        ),
        (
            "EXT4-fs (vda1): Remounting filesystem read-only",
            "ReadonlyFilesystem=True",
        ),
        (
            "general protection fault: 0000 [#1] SMP NOPTI",
            "KernelOops",
        ),
        (
            "is currently holding the xtables lock; waiting (47s) for it to exit...\\nAnother app is currently holding the xtables lock; waiting (49s) for it to exit...",
            "IptablesLockContention=True",
        ),
        (
            "\"Skipping pod synchronization\" err=\"PLEG is not healthy: pleg was last seen active 3m0.5s ago; threshold is 3m0s\"",
            "ContainerRuntimeUnresponsive=True",
        ),
        (
            "E0123 14:15:31.352386 26037 remote_runtime.go:91] RunPodSandbox from runtime service failed: rpc error: code = DeadlineExceeded desc = context deadline exceeded",
            "ContainerRuntimeUnresponsive=True",
        ),
        (
            // The kubelet every 5 s while the CNI config is missing or broken (kubelet 1.37).
            "E1201 08:02:11.503212    4242 kubelet.go:3117] \"Container runtime network not ready\" networkReady=\"NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized\"",
            "CNIFailure=True",
        ),
        (
            "E0927 14:37:21.922965 14109 kubelet.go:1234] ContainerGCFailed rpc error: code = DeadlineExceeded",
            "ContainerGCFailed",
        ),
        (
            "write /var/lib/kubelet/device-plugins/.728425055: no space left on device, which is unexpected.",
            "NoSpaceLeftOnDevice",
        ),
    ];
    for (line, want) in cases {
        let got = feed_all(line);
        assert!(
            got.iter().any(|g| g == want),
            "{line:?}: got {got:?}, want {want}"
        );
    }
    // order:0 is not fragmentation.
    assert!(
        !feed_all("swapper: page allocation failure: order:0, mode:0x20")
            .contains(&"MemoryFragmentation".to_string())
    );
    let _ = SignedDuration::ZERO;
}
