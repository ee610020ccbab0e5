//! The prober's metrics: kubenurse v1.15's series, same names, labels and buckets (its Grafana
//! dashboard and alerts work unchanged), plus kubemedic's per-replica DNS series and verdicts.
//!
//! kubenurse (VictoriaMetrics client, Prometheus-style histograms):
//! - `kubenurse_httpclient_request_duration_seconds{type}` histogram, request start to response;
//! - `kubenurse_httpclient_trace_request_duration_seconds{type,event}` histogram, request start
//!   to each httptrace event;
//! - `kubenurse_httpclient_requests_total{type,code}` counter, `code` the status or
//!   `round_trip_error`;
//! - `kubenurse_errors_total{type,event}` counter, `event` the failed phase, `status_code_<n>` or
//!   `round_trip_error`;
//! - `kubenurse_neighbourhood_incoming_checks` gauge, distinct neighbours that checked this one in
//!   the last minute.
//!
//! Series of neighbours and DNS servers no longer probed are removed, so cardinality stays
//! bounded by the neighbour limit and the DNS server budget, however long the agent runs.

use crate::outcome::{DnsOutcome, HttpOutcome};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

/// Prometheus' (and VictoriaMetrics') default buckets, kubenurse's default.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type Labels = Vec<(String, String)>;

/// Builds histograms with the configured buckets.
#[derive(Debug, Clone)]
pub struct Buckets(Arc<Vec<f64>>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// Checks that custom buckets are usable (kubenurse's `KUBENURSE_HISTOGRAM_BUCKETS` rule:
/// strictly increasing, finite).
pub fn validate_buckets(buckets: &[f64]) -> Result<(), String> {
    if buckets.is_empty() {
        return Err("no buckets".into());
    }
    for w in buckets.windows(2) {
        if w[1] <= w[0] {
            return Err(format!("buckets must increase: {} then {}", w[0], w[1]));
        }
    }
    if let Some(b) = buckets.iter().find(|b| !b.is_finite()) {
        return Err(format!("bucket {b} is not finite"));
    }
    Ok(())
}

/// Live values read at scrape time (from the verdicts and the incoming tracker).
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// Distinct neighbours that checked this node in the last minute.
    pub incoming_checks: usize,
    /// Faults in effect: (kind, subject).
    pub faults: Vec<(String, String)>,
    /// 1 when the pod network is judged unreachable.
    pub pod_network_unreachable: bool,
    /// Neighbours checked.
    pub neighbours: usize,
    /// Nodes expected to check this one.
    pub watchers: usize,
    /// Of those, silent.
    pub silent_watchers: usize,
    /// DNS servers probed.
    pub dns_probed: usize,
    /// DNS replicas known but not probed from this node.
    pub dns_not_probed: usize,
}

/// All metric families of the prober.
#[derive(Debug)]
pub struct ProbeMetrics {
    request_duration: Family<Labels, Histogram, Buckets>,
    trace_duration: Family<Labels, Histogram, Buckets>,
    requests: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    dns_duration: Family<Labels, Histogram, Buckets>,
    dns_requests: Family<Labels, Counter>,
    skipped: Family<Labels, Counter>,
    /// Label sets created per check type / DNS server, to remove them when it goes away.
    created: Mutex<BTreeMap<String, BTreeSet<(u8, Labels)>>>,
}

const REQUEST_DURATION: u8 = 0;
const TRACE_DURATION: u8 = 1;
const REQUESTS: u8 = 2;
const ERRORS: u8 = 3;
const DNS_DURATION: u8 = 4;
const DNS_REQUESTS: u8 = 5;
const SKIPPED: u8 = 6;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl ProbeMetrics {
    /// Families with the given histogram buckets.
    pub fn new(buckets: &[f64]) -> Self {
        let b = Buckets(Arc::new(buckets.to_vec()));
        Self {
            request_duration: Family::new_with_constructor(b.clone()),
            trace_duration: Family::new_with_constructor(b.clone()),
            requests: Family::default(),
            errors: Family::default(),
            dns_duration: Family::new_with_constructor(b),
            dns_requests: Family::default(),
            skipped: Family::default(),
            created: Mutex::new(BTreeMap::new()),
        }
    }

    fn note(&self, owner: &str, family: u8, labels: &Labels) {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(owner.to_string())
            .or_default()
            .insert((family, labels.clone()));
    }

    /// Records one HTTP check of kubenurse type `ty`.
    pub fn record_http(&self, ty: &str, outcome: &HttpOutcome) {
        let code = outcome.code_label();
        let l = labels(&[("type", ty), ("code", &code)]);
        self.requests.get_or_create(&l).inc();
        self.note(ty, REQUESTS, &l);
        if outcome.status.is_some() {
            let l = labels(&[("type", ty)]);
            self.request_duration
                .get_or_create(&l)
                .observe(outcome.elapsed.as_secs_f64());
            self.note(ty, REQUEST_DURATION, &l);
        }
        for (event, at) in &outcome.events {
            let l = labels(&[("type", ty), ("event", event.as_str())]);
            self.trace_duration
                .get_or_create(&l)
                .observe(at.as_secs_f64());
            self.note(ty, TRACE_DURATION, &l);
        }
        if let Some(failure) = &outcome.failure {
            let event = failure.event_label();
            let l = labels(&[("type", ty), ("event", &event)]);
            self.errors.get_or_create(&l).inc();
            self.note(ty, ERRORS, &l);
        }
    }

    /// Records one DNS query.
    pub fn record_dns(&self, server: &str, role: &str, query: &str, outcome: &DnsOutcome) {
        let l = labels(&[("server", server), ("role", role), ("query", query)]);
        self.dns_duration
            .get_or_create(&l)
            .observe(outcome.elapsed.as_secs_f64());
        self.note(server, DNS_DURATION, &l);
        let l = labels(&[
            ("server", server),
            ("role", role),
            ("query", query),
            ("result", outcome.result.as_str()),
        ]);
        self.dns_requests.get_or_create(&l).inc();
        self.note(server, DNS_REQUESTS, &l);
    }

    /// Counts a probe not started because the previous one to the same target still runs.
    pub fn record_skipped(&self, target: &str) {
        let l = labels(&[("type", target)]);
        self.skipped.get_or_create(&l).inc();
        self.note(target, SKIPPED, &l);
    }

    /// Removes every series of check types / DNS servers not in `keep`.
    pub fn retain(&self, keep: &BTreeSet<String>) {
        let mut created = self.created.lock().unwrap_or_else(PoisonError::into_inner);
        let gone: Vec<String> = created
            .keys()
            .filter(|k| !keep.contains(*k))
            .cloned()
            .collect();
        for owner in gone {
            for (family, l) in created.remove(&owner).unwrap_or_default() {
                match family {
                    REQUEST_DURATION => self.request_duration.remove(&l),
                    TRACE_DURATION => self.trace_duration.remove(&l),
                    REQUESTS => self.requests.remove(&l),
                    ERRORS => self.errors.remove(&l),
                    DNS_DURATION => self.dns_duration.remove(&l),
                    DNS_REQUESTS => self.dns_requests.remove(&l),
                    _ => self.skipped.remove(&l),
                };
            }
        }
    }

    /// Number of series of the labelled families (for tests of the bound).
    pub fn series(&self) -> usize {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(BTreeSet::len)
            .sum()
    }

    /// Encodes every family; `gauges` are the values read at scrape time.
    pub fn encode(
        &self,
        gauges: &Gauges,
        encoder: &mut DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        // Counters: prometheus-client appends `_total`, giving kubenurse's names.
        let families: [(&str, &str, &dyn EncodeMetricDyn); 7] = [
            (
                "kubenurse_httpclient_request_duration_seconds",
                "Latency histogram of the checks' requests, by check type (kubenurse).",
                &self.request_duration,
            ),
            (
                "kubenurse_httpclient_trace_request_duration_seconds",
                "Time from request start to each httptrace event, by check type and event (kubenurse).",
                &self.trace_duration,
            ),
            (
                "kubenurse_httpclient_requests",
                "Checks' requests by type and response code, or round_trip_error (kubenurse).",
                &self.requests,
            ),
            (
                "kubenurse_errors",
                "Check errors by type and the event that failed (kubenurse).",
                &self.errors,
            ),
            (
                "kubemedic_probe_dns_duration_seconds",
                "Duration of DNS probes, by server, its role and the query (internal or external name).",
                &self.dns_duration,
            ),
            (
                "kubemedic_probe_dns_requests",
                "DNS probes by server, role, query and result (ok, servfail, nxdomain, refused, nodata, timeout, malformed, truncated, error).",
                &self.dns_requests,
            ),
            (
                "kubemedic_probe_skipped",
                "Probes not started because the previous probe of the same target was still running.",
                &self.skipped,
            ),
        ];
        for (name, help, metric) in families {
            let m = encoder.encode_descriptor(name, help, None, metric.kind())?;
            metric.encode_dyn(m)?;
        }
        let gauge = |encoder: &mut DescriptorEncoder, name: &str, help: &str, v: i64| {
            let m = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            ConstGauge::new(v).encode(m)
        };
        gauge(
            encoder,
            "kubenurse_neighbourhood_incoming_checks",
            "Distinct neighbours that checked this node in the last minute (kubenurse).",
            gauges.incoming_checks as i64,
        )?;
        gauge(
            encoder,
            "kubemedic_probe_pod_network_unreachable",
            "1 when this node's pod network is judged unreachable (the PodNetworkUnreachable condition).",
            i64::from(gauges.pod_network_unreachable),
        )?;
        gauge(
            encoder,
            "kubemedic_probe_neighbours",
            "Neighbours this node checks (its next N nodes on the ring).",
            gauges.neighbours as i64,
        )?;
        gauge(
            encoder,
            "kubemedic_probe_expected_watchers",
            "Nodes whose checks this node should receive.",
            gauges.watchers as i64,
        )?;
        gauge(
            encoder,
            "kubemedic_probe_silent_watchers",
            "Of the expected checking nodes, those not heard from within the silence window.",
            gauges.silent_watchers as i64,
        )?;
        {
            let mut m = encoder.encode_descriptor(
                "kubemedic_probe_dns_servers",
                "DNS replicas known, by whether this node probes them (a bounded number per node).",
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for (state, v) in [
                ("probed", gauges.dns_probed),
                ("not_probed", gauges.dns_not_probed),
            ] {
                let l = labels(&[("state", state)]);
                ConstGauge::new(v as i64).encode(m.encode_family(&l)?)?;
            }
        }
        let mut m = encoder.encode_descriptor(
            "kubemedic_probe_fault",
            "Faults the prober concluded, 1 while in effect (kind, subject).",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (kind, subject) in &gauges.faults {
            let l = labels(&[("kind", kind), ("subject", subject)]);
            ConstGauge::new(1).encode(m.encode_family(&l)?)?;
        }
        Ok(())
    }
}

/// Object-safe view of a metric family.
trait EncodeMetricDyn {
    fn kind(&self) -> prometheus_client::metrics::MetricType;
    fn encode_dyn(
        &self,
        encoder: prometheus_client::encoding::MetricEncoder<'_>,
    ) -> Result<(), std::fmt::Error>;
}

impl<T: EncodeMetric + prometheus_client::metrics::TypedMetric> EncodeMetricDyn for T {
    fn kind(&self) -> prometheus_client::metrics::MetricType {
        T::TYPE
    }

    fn encode_dyn(
        &self,
        encoder: prometheus_client::encoding::MetricEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        self.encode(encoder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{DnsResult, HttpFailure, TraceEvent};
    use prometheus_client::collector::Collector;
    use prometheus_client::registry::Registry;
    use std::time::Duration;

    #[derive(Debug)]
    struct C(Arc<ProbeMetrics>, Gauges);
    impl Collector for C {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            self.0.encode(&self.1, &mut encoder)
        }
    }

    fn text(m: &Arc<ProbeMetrics>, g: Gauges) -> String {
        let mut r = Registry::default();
        r.register_collector(Box::new(C(m.clone(), g)));
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &r).unwrap();
        s
    }

    /// The value of the sample `name{labels}` (label order ignored, as Prometheus does).
    pub(crate) fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut want: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        want.sort();
        text.lines().find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (n, l) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            let mut got: Vec<String> = if l.is_empty() {
                Vec::new()
            } else {
                l.split(',').map(str::to_string).collect()
            };
            got.sort();
            (got == want).then(|| value.parse().ok()).flatten()
        })
    }

    fn ok_outcome() -> HttpOutcome {
        HttpOutcome {
            status: Some(200),
            failure: None,
            elapsed: Duration::from_millis(3),
            events: vec![
                (TraceEvent::ConnectStart, Duration::from_micros(10)),
                (TraceEvent::ConnectDone, Duration::from_micros(300)),
                (TraceEvent::GotConn, Duration::from_micros(310)),
                (TraceEvent::WroteRequest, Duration::from_micros(400)),
                (TraceEvent::GotFirstRespByte, Duration::from_millis(2)),
            ],
        }
    }

    #[test]
    fn kubenurse_series_names_labels_and_buckets() {
        let m = Arc::new(ProbeMetrics::new(&DEFAULT_BUCKETS));
        m.record_http("path_node-b", &ok_outcome());
        m.record_http(
            "me_service",
            &HttpOutcome {
                status: Some(500),
                failure: Some(HttpFailure::Status(500)),
                elapsed: Duration::from_millis(1),
                events: vec![],
            },
        );
        m.record_http(
            "api_server_dns",
            &HttpOutcome {
                status: None,
                failure: Some(HttpFailure::Phase {
                    event: TraceEvent::DnsDone,
                    message: "lookup x: no such host".into(),
                }),
                elapsed: Duration::from_millis(1),
                events: vec![(TraceEvent::DnsStart, Duration::ZERO)],
            },
        );
        let s = text(
            &m,
            Gauges {
                incoming_checks: 3,
                ..Gauges::default()
            },
        );
        let path = [("type", "path_node-b")];
        let le = |b: &'static str| [("type", "path_node-b"), ("le", b)];
        for (name, labels, value) in [
            (
                "kubenurse_httpclient_request_duration_seconds_bucket",
                &le("0.005")[..],
                1.0,
            ),
            (
                "kubenurse_httpclient_request_duration_seconds_bucket",
                &le("10.0")[..],
                1.0,
            ),
            (
                "kubenurse_httpclient_request_duration_seconds_bucket",
                &le("+Inf")[..],
                1.0,
            ),
            (
                "kubenurse_httpclient_request_duration_seconds_count",
                &path[..],
                1.0,
            ),
            (
                "kubenurse_httpclient_trace_request_duration_seconds_bucket",
                &[
                    ("type", "path_node-b"),
                    ("event", "got_first_resp_byte"),
                    ("le", "0.005"),
                ][..],
                1.0,
            ),
            (
                "kubenurse_httpclient_requests_total",
                &[("type", "path_node-b"), ("code", "200")][..],
                1.0,
            ),
            (
                "kubenurse_httpclient_requests_total",
                &[("type", "me_service"), ("code", "500")][..],
                1.0,
            ),
            (
                "kubenurse_errors_total",
                &[("type", "me_service"), ("event", "status_code_500")][..],
                1.0,
            ),
            (
                "kubenurse_httpclient_requests_total",
                &[("type", "api_server_dns"), ("code", "round_trip_error")][..],
                1.0,
            ),
            (
                "kubenurse_errors_total",
                &[("type", "api_server_dns"), ("event", "dns_done")][..],
                1.0,
            ),
            ("kubenurse_neighbourhood_incoming_checks", &[][..], 3.0),
        ] {
            assert_eq!(
                sample(&s, name, labels),
                Some(value),
                "{name} {labels:?} in\n{s}"
            );
        }
        // The 11 default buckets plus +Inf.
        assert_eq!(
            s.lines()
                .filter(
                    |l| l.starts_with("kubenurse_httpclient_request_duration_seconds_bucket{")
                        && l.contains("path_node-b")
                )
                .count(),
            12
        );
        // No duration observation for a request that got no response (as kubenurse).
        assert!(!s.contains(
            "kubenurse_httpclient_request_duration_seconds_count{type=\"api_server_dns\"}"
        ));
    }

    #[test]
    fn series_of_gone_targets_are_removed() {
        let m = Arc::new(ProbeMetrics::new(&DEFAULT_BUCKETS));
        for i in 0..100 {
            m.record_http(&format!("path_n{i}"), &ok_outcome());
            m.record_dns(
                &format!("10.0.0.{i}:53"),
                "replica",
                "internal",
                &DnsOutcome {
                    result: DnsResult::Timeout,
                    detail: String::new(),
                    elapsed: Duration::from_secs(1),
                },
            );
        }
        let before = m.series();
        let keep: BTreeSet<String> = ["path_n1".to_string(), "10.0.0.1:53".to_string()].into();
        m.retain(&keep);
        assert!(m.series() < before / 40, "{} of {before}", m.series());
        let s = text(&m, Gauges::default());
        assert!(s.contains("path_n1\""));
        assert!(!s.contains("path_n2\""));
        assert_eq!(
            sample(
                &s,
                "kubemedic_probe_dns_requests_total",
                &[
                    ("server", "10.0.0.1:53"),
                    ("role", "replica"),
                    ("query", "internal"),
                    ("result", "timeout")
                ]
            ),
            Some(1.0),
            "{s}"
        );
    }

    #[test]
    fn bucket_validation() {
        assert!(validate_buckets(&DEFAULT_BUCKETS).is_ok());
        assert!(validate_buckets(&[0.1, 0.1]).is_err());
        assert!(validate_buckets(&[]).is_err());
        assert!(validate_buckets(&[0.1, f64::INFINITY]).is_err());
    }
}
