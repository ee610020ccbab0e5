//! What one probe observed: plain data, produced by the I/O edge and consumed by the verdicts.

use std::fmt;
use std::time::Duration;

/// A point in an HTTP check, named as Go's `httptrace` (and so kubenurse's `event` label) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TraceEvent {
    /// Name resolution started.
    DnsStart,
    /// Name resolution finished.
    DnsDone,
    /// TCP connect started.
    ConnectStart,
    /// TCP connect finished.
    ConnectDone,
    /// TLS handshake started.
    TlsHandshakeStart,
    /// TLS handshake finished.
    TlsHandshakeDone,
    /// A connection is ready for the request.
    GotConn,
    /// The request was written.
    WroteRequest,
    /// The first byte of the response arrived.
    GotFirstRespByte,
}

impl TraceEvent {
    /// Every event, in the order they happen.
    pub const ALL: [TraceEvent; 9] = [
        TraceEvent::DnsStart,
        TraceEvent::DnsDone,
        TraceEvent::ConnectStart,
        TraceEvent::ConnectDone,
        TraceEvent::TlsHandshakeStart,
        TraceEvent::TlsHandshakeDone,
        TraceEvent::GotConn,
        TraceEvent::WroteRequest,
        TraceEvent::GotFirstRespByte,
    ];

    /// kubenurse's label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceEvent::DnsStart => "dns_start",
            TraceEvent::DnsDone => "dns_done",
            TraceEvent::ConnectStart => "connect_start",
            TraceEvent::ConnectDone => "connect_done",
            TraceEvent::TlsHandshakeStart => "tls_handshake_start",
            TraceEvent::TlsHandshakeDone => "tls_handshake_done",
            TraceEvent::GotConn => "got_conn",
            TraceEvent::WroteRequest => "wrote_request",
            TraceEvent::GotFirstRespByte => "got_first_resp_byte",
        }
    }
}

/// Why an HTTP check failed, with the kubenurse `event` label it is counted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpFailure {
    /// A traced phase failed (`dns_done`, `connect_done`, `tls_handshake_done`, `wrote_request`).
    Phase {
        /// The phase.
        event: TraceEvent,
        /// The error.
        message: String,
    },
    /// The round trip failed outside a traced phase (timeout awaiting the response, a
    /// malformed response, a closed connection): `round_trip_error`.
    RoundTrip(String),
    /// The server answered with a status other than 200: `status_code_<code>`.
    Status(u16),
}

impl HttpFailure {
    /// The `event` label of `kubenurse_errors_total`.
    pub fn event_label(&self) -> String {
        match self {
            HttpFailure::Phase { event, .. } => event.as_str().to_string(),
            HttpFailure::RoundTrip(_) => "round_trip_error".to_string(),
            HttpFailure::Status(code) => format!("status_code_{code}"),
        }
    }
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpFailure::Phase { event, message } => write!(f, "{}: {message}", event.as_str()),
            HttpFailure::RoundTrip(message) => write!(f, "round_trip_error: {message}"),
            HttpFailure::Status(code) => write!(f, "status_code_{code}"),
        }
    }
}

/// The result of one HTTP check.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOutcome {
    /// Response status, when a response arrived.
    pub status: Option<u16>,
    /// Why it failed; `None` means 200.
    pub failure: Option<HttpFailure>,
    /// Request start to response headers (or to the failure).
    pub elapsed: Duration,
    /// Each traced event that completed without error, with its time since the request started.
    pub events: Vec<(TraceEvent, Duration)>,
}

impl HttpOutcome {
    /// Whether the check passed (status 200).
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// The `code` label of `kubenurse_httpclient_requests_total`: the status, or
    /// `round_trip_error` when no response arrived.
    pub fn code_label(&self) -> String {
        match self.status {
            Some(code) => code.to_string(),
            None => "round_trip_error".to_string(),
        }
    }
}

/// What a DNS server answered to one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DnsResult {
    /// An answer with at least one address.
    Ok,
    /// NXDOMAIN for a name that exists.
    NxDomain,
    /// SERVFAIL (typically: the upstream it forwards to failed).
    ServFail,
    /// REFUSED.
    Refused,
    /// NOERROR without an address.
    NoData,
    /// No answer within the timeout, after every attempt.
    Timeout,
    /// An answer that cannot be parsed, or that does not answer the question asked.
    Malformed,
    /// Truncated over UDP and no usable answer over TCP.
    Truncated,
    /// Anything else (socket errors, other response codes).
    Error,
}

impl DnsResult {
    /// Lower-case name used in JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsResult::Ok => "ok",
            DnsResult::NxDomain => "nxdomain",
            DnsResult::ServFail => "servfail",
            DnsResult::Refused => "refused",
            DnsResult::NoData => "nodata",
            DnsResult::Timeout => "timeout",
            DnsResult::Malformed => "malformed",
            DnsResult::Truncated => "truncated",
            DnsResult::Error => "error",
        }
    }
}

/// The result of one DNS query against one server.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsOutcome {
    /// Classification.
    pub result: DnsResult,
    /// Addresses on success; the reason otherwise.
    pub detail: String,
    /// Query sent to final answer (or timeout).
    pub elapsed: Duration,
}

impl DnsOutcome {
    /// Whether the server resolved the name.
    pub fn ok(&self) -> bool {
        self.result == DnsResult::Ok
    }
}
