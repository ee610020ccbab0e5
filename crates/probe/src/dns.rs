//! One DNS query to one server, the way a stub resolver asks: UDP with a per-attempt timeout and
//! a retry, then TCP when the reply is truncated. Replies that are not ours are skipped (they do
//! not end the wait); replies that are ours but undecodable are `malformed`.

use crate::dnsmsg::{self, Reply};
use crate::outcome::{DnsOutcome, DnsResult};
use hickory_resolver::proto::rr::Name;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How one server is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOptions {
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// UDP attempts before giving up (a lost datagram is not a broken server).
    pub attempts: u32,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(1),
            attempts: 2,
        }
    }
}

/// Largest reply read over UDP (EDNS is not asked for, so 512 is the protocol's limit; more is
/// read so an oversized reply is seen as such and not cut by the socket).
const UDP_MAX: usize = 4096;
/// Largest reply accepted over TCP.
const TCP_MAX: usize = 65_535;

/// Asks `server` for the A record of `name`.
pub async fn query(server: SocketAddr, name: &Name, options: QueryOptions) -> DnsOutcome {
    let start = Instant::now();
    let (result, detail) = exchange(server, name, options).await;
    DnsOutcome {
        result,
        detail,
        elapsed: start.elapsed(),
    }
}

async fn exchange(server: SocketAddr, name: &Name, options: QueryOptions) -> (DnsResult, String) {
    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => return (DnsResult::Error, format!("udp socket: {e}")),
    };
    if let Err(e) = socket.connect(server).await {
        return (DnsResult::Error, format!("udp connect {server}: {e}"));
    }
    let mut buf = vec![0u8; UDP_MAX];
    let mut last_error = None;
    for _ in 0..options.attempts.max(1) {
        let id: u16 = rand_id();
        let query = match dnsmsg::encode_query(id, name) {
            Ok(q) => q,
            Err(e) => return (DnsResult::Error, format!("encoding the query: {e}")),
        };
        if let Err(e) = socket.send(&query).await {
            last_error = Some(format!("send to {server}: {e}"));
            continue;
        }
        let deadline = Instant::now() + options.timeout;
        loop {
            let received = tokio::time::timeout_at(deadline.into(), socket.recv(&mut buf)).await;
            match received {
                Err(_) => break, // this attempt timed out
                Ok(Err(e)) => {
                    // ICMP port unreachable arrives as ECONNREFUSED on a connected socket.
                    return (DnsResult::Error, format!("read from {server}: {e}"));
                }
                Ok(Ok(n)) => match dnsmsg::classify(&buf[..n], id, name) {
                    Reply::Unrelated => continue,
                    Reply::Truncated => return over_tcp(server, name, options).await,
                    Reply::Final(result, detail) => return (result, detail),
                },
            }
        }
    }
    match last_error {
        Some(e) => (DnsResult::Error, e),
        None => (
            DnsResult::Timeout,
            format!(
                "no answer from {server} ({} attempts of {:?})",
                options.attempts.max(1),
                options.timeout
            ),
        ),
    }
}

async fn over_tcp(server: SocketAddr, name: &Name, options: QueryOptions) -> (DnsResult, String) {
    let truncated = |why: String| (DnsResult::Truncated, format!("truncated over UDP; {why}"));
    let deadline = Instant::now() + options.timeout;
    let attempt = async {
        let mut stream = TcpStream::connect(server)
            .await
            .map_err(|e| format!("tcp connect {server}: {e}"))?;
        let id = rand_id();
        let query = dnsmsg::encode_query(id, name).map_err(|e| format!("encoding: {e}"))?;
        let len = u16::try_from(query.len()).map_err(|_| "query too long".to_string())?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(&query);
        stream
            .write_all(&framed)
            .await
            .map_err(|e| format!("tcp write: {e}"))?;
        let mut len = [0u8; 2];
        stream
            .read_exact(&mut len)
            .await
            .map_err(|e| format!("tcp read: {e}"))?;
        let len = usize::from(u16::from_be_bytes(len)).min(TCP_MAX);
        let mut reply = vec![0u8; len];
        stream
            .read_exact(&mut reply)
            .await
            .map_err(|e| format!("tcp read: {e}"))?;
        Ok::<_, String>(dnsmsg::classify(&reply, id, name))
    };
    match tokio::time::timeout_at(deadline.into(), attempt).await {
        Err(_) => truncated(format!("no answer over TCP within {:?}", options.timeout)),
        Ok(Err(e)) => truncated(e),
        Ok(Ok(Reply::Final(result, detail))) => (result, detail),
        Ok(Ok(Reply::Truncated)) => truncated("TCP reply truncated too".into()),
        Ok(Ok(Reply::Unrelated)) => (DnsResult::Malformed, "TCP reply for another query".into()),
    }
}

/// A query id that is hard to guess (spoofed replies must not pass as ours).
fn rand_id() -> u16 {
    let mut b = [0u8; 2];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_err() {
        // No randomness: fall back to the clock; a probe is not a security boundary.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        return (nanos ^ (nanos >> 16)) as u16;
    }
    u16::from_be_bytes(b)
}
