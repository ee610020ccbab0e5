//! Alert sinks: Alertmanager v2 (with resolve), Slack, WeCom group robot (2,048-byte text
//! limit), DingTalk robot (HMAC-SHA256 signed, 20 messages per minute: queued and aggregated,
//! never dropped silently), Feishu (signed) and a generic webhook. Alerts are deduplicated by
//! cause and object, grouped by cause, and resolved when they go away.
//!
//! The tracker, templates, payloads, signatures and the rate queue are pure; [`Notifier`] is the
//! HTTP edge.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod alert;
pub mod notifier;
pub mod sink;
pub mod template;

pub use alert::{Alert, AlertKey, Group, Notification, Severity, Status, Tracker};
pub use notifier::{FlushReport, Notifier};
pub use sink::{AlertConfig, ConfigError, Sink, SinkKind};
