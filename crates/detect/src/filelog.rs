//! NPD's filelog translator: timestamp and message extraction from one text line.
//!
//! Same semantics as NPD's `translator.translate`: the `timestamp` regex's last submatch (or the
//! whole match when it has no group) is parsed with the Go `timestampFormat` layout (in the
//! context's zone, year filled in when the layout has none), the `message` regex's last submatch
//! is the message. Lines containing a `skipList` entry are dropped by [`FilelogTranslator::skips`].

use crate::config::{ConfigError, LogPlugin, SystemLogMonitorConfig};
use crate::golang::{GoLayout, TimeContext};
use crate::re2;

/// A line the translator cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TranslateError(pub String);

/// Extracts timestamp and message from filelog lines (`timestamp`, `message`, `timestampFormat`).
#[derive(Debug)]
pub struct FilelogTranslator {
    timestamp: regex::Regex,
    message: regex::Regex,
    layout: GoLayout,
    skip_list: Vec<String>,
}

fn last_group<'a>(re: &regex::Regex, line: &'a str) -> Option<&'a str> {
    let caps = re.captures(line)?;
    // Go's FindStringSubmatch puts a non-participating group as "": keep that behaviour.
    Some(caps.iter().last().flatten().map_or("", |m| m.as_str()))
}

impl FilelogTranslator {
    /// Builds the translator of a filelog monitor.
    pub fn new(config: &SystemLogMonitorConfig) -> Result<FilelogTranslator, ConfigError> {
        let err = |key: &str, reason: String| ConfigError {
            file: config.source.clone(),
            json_path: format!("pluginConfig.{key}"),
            line_column: None,
            reason,
        };
        if config.plugin != LogPlugin::Filelog {
            return Err(err(
                "",
                format!(
                    "the {} plugin has no filelog translator",
                    config.plugin.as_str()
                ),
            ));
        }
        let get = |key: &str| config.plugin_config.get(key).cloned().unwrap_or_default();
        let timestamp =
            re2::compile(&get("timestamp")).map_err(|e| err("timestamp", e.to_string()))?;
        let message = re2::compile(&get("message")).map_err(|e| err("message", e.to_string()))?;
        let layout = GoLayout::parse(&get("timestampFormat"))
            .map_err(|e| err("timestampFormat", e.to_string()))?;
        Ok(FilelogTranslator {
            timestamp,
            message,
            layout,
            skip_list: config.skip_list.clone(),
        })
    }

    /// Whether the line contains a `skipList` entry and must be ignored.
    pub fn skips(&self, line: &str) -> bool {
        self.skip_list.iter().any(|s| line.contains(s.as_str()))
    }

    /// Translates one line into (timestamp, message).
    pub fn translate(
        &self,
        line: &str,
        context: &TimeContext,
    ) -> Result<(jiff::Timestamp, String), TranslateError> {
        let ts_text = last_group(&self.timestamp, line)
            .ok_or_else(|| TranslateError(format!("no timestamp found in line {line:?}")))?;
        let ts = self
            .layout
            .parse_timestamp(ts_text, context)
            .map_err(|e| TranslateError(format!("failed to parse timestamp: {e}")))?;
        let message = last_group(&self.message, line)
            .ok_or_else(|| TranslateError(format!("no message found in line {line:?}")))?;
        Ok((ts, message.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn syslog_lines() {
        let cfg = crate::config::parse_system_log_monitor(
            "f.json",
            r#"{"plugin":"filelog","pluginConfig":{"timestamp":"^.{15}","message":"kernel: \\[.*\\] (.*)",
               "timestampFormat":"Jan _2 15:04:05"},"skipList":[" audit:"],"source":"f",
               "logPath":"/var/log/kern.log"}"#,
        )
        .unwrap();
        let t = FilelogTranslator::new(&cfg).unwrap();
        let ctx = TimeContext {
            year: 2026,
            zone: jiff::tz::TimeZone::UTC,
        };
        let (ts, msg) = t
            .translate(
                "Jan  3 10:27:47 node kernel: [ 12.345] EXT4-fs error (device sda1): x",
                &ctx,
            )
            .unwrap();
        assert_eq!(ts.to_string(), "2026-01-03T10:27:47Z");
        assert_eq!(msg, "EXT4-fs error (device sda1): x");
        assert!(
            t.translate("Jan  3 10:27:47 node dockerd: hello", &ctx)
                .is_err()
        );
        assert!(t.translate("short", &ctx).is_err());
        assert!(t.skips("Jan  3 10:27:47 node kernel: [1] audit: type=1400"));
    }

    #[test]
    fn a_filelog_monitor_without_log_path_is_refused() {
        let body = r#""plugin":"filelog","pluginConfig":{"timestamp":"^.{15}","message":"(.*)",
               "timestampFormat":"Jan _2 15:04:05"},"source":"f","conditions":[],"rules":[]"#;
        for (extra, reason) in [
            ("", "required by the filelog plugin"),
            (r#","logPath":" ""#, "must not be empty"),
        ] {
            let err = crate::config::parse_system_log_monitor(
                "my-filelog.json",
                &format!("{{{body}{extra}}}"),
            )
            .unwrap_err();
            assert_eq!(err.file, "my-filelog.json");
            assert_eq!(err.json_path, "logPath");
            assert!(err.reason.contains(reason), "{err}");
            let shown = err.to_string();
            assert!(
                shown.contains("my-filelog.json") && shown.contains("logPath"),
                "{shown}"
            );
        }
    }
}
