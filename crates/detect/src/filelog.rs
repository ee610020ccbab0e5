//! NPD's filelog translator: timestamp and message extraction from one text line.

use crate::config::{ConfigError, SystemLogMonitorConfig};
use crate::golang::{GoLayout, TimeContext};

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
}

impl FilelogTranslator {
    /// Builds the translator of a filelog monitor.
    pub fn new(config: &SystemLogMonitorConfig) -> Result<FilelogTranslator, ConfigError> {
        let _ = config;
        Err(ConfigError {
            file: String::new(),
            json_path: String::new(),
            line_column: None,
            reason: "not implemented yet".into(),
        })
    }

    /// Translates one line into (timestamp, message).
    pub fn translate(
        &self,
        line: &str,
        context: &TimeContext,
    ) -> Result<(jiff::Timestamp, String), TranslateError> {
        let _ = (line, context, &self.timestamp, &self.message, &self.layout);
        Err(TranslateError("not implemented yet".into()))
    }
}
