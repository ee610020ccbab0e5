//! DNS messages of the per-server probe: the query, and what a reply means. Pure (bytes in,
//! classification out), so malformed and truncated replies are tested with plain bytes.
//!
//! hickory-proto encodes and decodes; the exchange itself (UDP, then TCP when truncated) is in
//! [`crate::dns`]. hickory-resolver is not used for these probes because it hides exactly what
//! the probe must see: it retries other servers, falls back to TCP silently and turns
//! unparseable replies into timeouts.

use crate::outcome::DnsResult;
use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use std::fmt;

/// A name that cannot be asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid DNS name {name:?}: {reason}")]
pub struct InvalidName {
    /// The name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Parses a probe name; a name without a trailing dot is taken as fully qualified (probes
/// name servers directly: no search list applies).
pub fn parse_name(name: &str) -> Result<Name, InvalidName> {
    let fq = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&fq).map_err(|e| InvalidName {
        name: name.to_string(),
        reason: e.to_string(),
    })
}

/// The wire form of an `A` query for `name` with `id`, recursion desired.
pub fn encode_query(id: u16, name: &Name) -> Result<Vec<u8>, String> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name.clone(), RecordType::A));
    m.to_vec().map_err(|e| e.to_string())
}

/// What one reply datagram or TCP message means for the query `id` / `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Not a reply to this query (another id or question): keep waiting.
    Unrelated,
    /// The TC bit is set: ask again over TCP.
    Truncated,
    /// A final answer.
    Final(DnsResult, String),
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Unrelated => f.write_str("unrelated reply"),
            Reply::Truncated => f.write_str("truncated"),
            Reply::Final(r, d) => write!(f, "{}: {d}", r.as_str()),
        }
    }
}

/// Classifies one reply. A reply that cannot be decoded but carries our id in its first two
/// bytes is `malformed` (it was meant for us); bytes without our id are unrelated.
pub fn classify(bytes: &[u8], id: u16, name: &Name) -> Reply {
    let ours = bytes.len() >= 2 && u16::from_be_bytes([bytes[0], bytes[1]]) == id;
    let m = match Message::from_vec(bytes) {
        Ok(m) => m,
        Err(e) if ours => {
            return Reply::Final(
                DnsResult::Malformed,
                format!("undecodable reply of {} bytes: {e}", bytes.len()),
            );
        }
        Err(_) => return Reply::Unrelated,
    };
    if m.metadata.id != id || m.metadata.message_type != MessageType::Response {
        return Reply::Unrelated;
    }
    if m.metadata.truncation {
        return Reply::Truncated;
    }
    let asked = m
        .queries
        .first()
        .is_some_and(|q| q.name().eq_ignore_root(name) && q.query_type() == RecordType::A);
    // An empty question section is legal in some error replies; a different question is not.
    if !m.queries.is_empty() && !asked {
        return Reply::Final(
            DnsResult::Malformed,
            format!(
                "reply answers another question ({})",
                m.queries
                    .first()
                    .map(|q| format!("{} {}", q.name(), q.query_type()))
                    .unwrap_or_default()
            ),
        );
    }
    match m.metadata.response_code {
        ResponseCode::NoError => {
            let addrs: Vec<String> = m
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(a.0.to_string()),
                    RData::AAAA(a) => Some(a.0.to_string()),
                    _ => None,
                })
                .collect();
            if addrs.is_empty() {
                Reply::Final(DnsResult::NoData, "NOERROR without an address".into())
            } else {
                Reply::Final(DnsResult::Ok, addrs.join(","))
            }
        }
        ResponseCode::NXDomain => Reply::Final(DnsResult::NxDomain, "NXDOMAIN".into()),
        ResponseCode::ServFail => Reply::Final(DnsResult::ServFail, "SERVFAIL".into()),
        ResponseCode::Refused => Reply::Final(DnsResult::Refused, "REFUSED".into()),
        other => Reply::Final(DnsResult::Error, format!("response code {other}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hickory_resolver::proto::rr::Record;
    use hickory_resolver::proto::rr::rdata::A;
    use std::net::Ipv4Addr;

    fn name() -> Name {
        parse_name("kubernetes.default.svc.cluster.local").unwrap()
    }

    fn reply(id: u16, rcode: ResponseCode, answers: &[Ipv4Addr]) -> Message {
        let mut m = Message::new(id, MessageType::Response, OpCode::Query);
        m.metadata.response_code = rcode;
        m.add_query(Query::query(name(), RecordType::A));
        for a in answers {
            m.add_answer(Record::from_rdata(name(), 5, RData::A(A(*a))));
        }
        m
    }

    #[test]
    fn query_round_trips() {
        let bytes = encode_query(0x1234, &name()).unwrap();
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert!(m.metadata.recursion_desired);
        assert_eq!(m.queries[0].name(), &name());
        assert!(parse_name("bad..name").is_err());
        assert!(parse_name("kubernetes.io.").unwrap().is_fqdn());
    }

    #[test]
    fn answers_are_classified() {
        let ok = reply(7, ResponseCode::NoError, &[Ipv4Addr::new(10, 96, 0, 1)]);
        assert_eq!(
            classify(&ok.to_vec().unwrap(), 7, &name()),
            Reply::Final(DnsResult::Ok, "10.96.0.1".into())
        );
        for (code, want) in [
            (ResponseCode::ServFail, DnsResult::ServFail),
            (ResponseCode::NXDomain, DnsResult::NxDomain),
            (ResponseCode::Refused, DnsResult::Refused),
            (ResponseCode::NotImp, DnsResult::Error),
            (ResponseCode::NoError, DnsResult::NoData),
        ] {
            let m = reply(7, code, &[]);
            match classify(&m.to_vec().unwrap(), 7, &name()) {
                Reply::Final(r, _) => assert_eq!(r, want, "{code}"),
                other => panic!("{code}: {other:?}"),
            }
        }
    }

    #[test]
    fn other_ids_are_unrelated_and_tc_asks_for_tcp() {
        let m = reply(8, ResponseCode::NoError, &[Ipv4Addr::LOCALHOST]);
        assert_eq!(classify(&m.to_vec().unwrap(), 7, &name()), Reply::Unrelated);
        let mut tc = reply(7, ResponseCode::NoError, &[]);
        tc.metadata.truncation = true;
        assert_eq!(
            classify(&tc.to_vec().unwrap(), 7, &name()),
            Reply::Truncated
        );
        // A query echoed back is not a reply.
        let q = encode_query(7, &name()).unwrap();
        assert_eq!(classify(&q, 7, &name()), Reply::Unrelated);
    }

    #[test]
    fn garbage_and_cut_replies_are_malformed_never_a_panic() {
        let full = reply(7, ResponseCode::NoError, &[Ipv4Addr::new(1, 2, 3, 4)])
            .to_vec()
            .unwrap();
        // Every prefix of a valid reply: malformed (ours) or unrelated (too short for an id).
        for cut in 0..full.len() {
            match classify(&full[..cut], 7, &name()) {
                Reply::Final(DnsResult::Malformed, _) => assert!(cut >= 2),
                Reply::Unrelated => assert!(cut < 2, "prefix {cut}"),
                other => panic!("prefix {cut}: {other:?}"),
            }
        }
        // Random bytes behind our id.
        let mut junk = vec![0u8, 7];
        junk.extend((0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        assert!(matches!(
            classify(&junk, 7, &name()),
            Reply::Final(DnsResult::Malformed, _) | Reply::Unrelated
        ));
        // A reply to another question.
        let mut other = Message::new(7, MessageType::Response, OpCode::Query);
        other.add_query(Query::query(
            parse_name("evil.example").unwrap(),
            RecordType::A,
        ));
        match classify(&other.to_vec().unwrap(), 7, &name()) {
            Reply::Final(DnsResult::Malformed, d) => assert!(d.contains("evil.example"), "{d}"),
            r => panic!("{r:?}"),
        }
    }
}
