//! A real node's network: its own network namespace joined to the host by a veth pair, and
//! the testbed's services inside it.
//!
//! - host side: `kmtb<slot>` with `10.200.<slot>.1/24` and a route to the node's pod network
//!   through the node. The apiserver reaches the kubelet (logs, exec, the pod proxy) and pods
//!   this way. Both go away with the link, and the link goes away with the namespace.
//! - node side: `eth0` with `10.200.<slot>.2/24` (the node's InternalIP), default route to the
//!   host, and [`SERVICES_IP`] on `lo`, where a forwarder in the test process hands TCP
//!   connections to the apiserver's 127.0.0.1 port and a DNS responder answers NXDOMAIN.
//!   Its sockets are created inside the node's namespace, so nothing of this is reachable
//!   from, or changes, the host's network namespace.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::process::Command;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::config::{NodeAddresses, SERVICES_IP};
use crate::error::TestbedError;
use crate::sys;

/// Runs `ip` with `args`, failing with its stderr.
pub(crate) fn ip(args: &[&str]) -> Result<(), String> {
    run("ip", args)
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether the host already routes `addr` somewhere other than the default route (another
/// network uses the slot's range, so the node would be unreachable or shadow it).
fn routed(addr: Ipv4Addr) -> bool {
    let Ok(out) = Command::new("ip")
        .args(["-4", "-o", "route", "show", "match", &addr.to_string()])
        .output()
    else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| !l.starts_with("default"))
}

/// Joins the network namespace of `ns_pid` (the node's init) to the host: picks the first free
/// slot (its link name is the lock: `ip link add` fails if another node holds it), addresses
/// both ends and routes the pod network. Returns the slot.
pub(crate) fn connect(ns_pid: u32) -> Result<NodeAddresses, TestbedError> {
    let mut last_error = String::from("every slot is taken");
    for slot in 0..=255u8 {
        let addrs = NodeAddresses { slot };
        let link = addrs.host_link();
        if Path::new("/sys/class/net").join(&link).exists()
            || routed(addrs.node_ip())
            || routed(Ipv4Addr::new(10, 214, slot, 1))
        {
            continue;
        }
        let pid = ns_pid.to_string();
        if let Err(e) = ip(&[
            "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &pid,
        ]) {
            // Another node took the name between the check and here.
            last_error = e;
            continue;
        }
        let host_cidr = format!("{}/{}", addrs.host_ip(), addrs.link_prefix());
        let node_cidr = format!("{}/{}", addrs.node_ip(), addrs.link_prefix());
        let host_ip = addrs.host_ip().to_string();
        let node_ip = addrs.node_ip().to_string();
        let services = format!("{SERVICES_IP}/32");
        let set_up = ip(&["addr", "add", &host_cidr, "dev", &link])
            .and_then(|()| ip(&["link", "set", &link, "up"]))
            .and_then(|()| {
                ip(&[
                    "route",
                    "add",
                    &addrs.pod_cidr(),
                    "via",
                    &node_ip,
                    "dev",
                    &link,
                ])
            })
            .and_then(|()| {
                let inside = |args: &[&str]| -> Result<(), String> {
                    let mut full = vec!["--target", &pid, "--net", "--", "ip"];
                    full.extend_from_slice(args);
                    run("nsenter", &full)
                };
                inside(&["addr", "add", &node_cidr, "dev", "eth0"])?;
                inside(&["link", "set", "eth0", "up"])?;
                inside(&["route", "add", "default", "via", &host_ip])?;
                inside(&["addr", "add", &services, "dev", "lo"])
            });
        if let Err(e) = set_up {
            let _ = ip(&["link", "del", &link]);
            return Err(TestbedError::Usage(format!(
                "setting up the node's network: {e}"
            )));
        }
        return Ok(addrs);
    }
    Err(TestbedError::Usage(format!(
        "no free node network slot (10.200.0-255.0/24): {last_error}"
    )))
}

/// Removes the host side of the node's link (the node side and its routes go with it).
pub(crate) fn disconnect(addrs: NodeAddresses) {
    let link = addrs.host_link();
    if Path::new("/sys/class/net").join(&link).exists() {
        let _ = ip(&["link", "del", &link]);
    }
}

/// Listening sockets created inside the network namespace of `ns_pid`.
pub(crate) struct ServiceSockets {
    /// TCP on SERVICES_IP:<apiserver port>.
    pub(crate) apiserver: std::net::TcpListener,
    /// UDP on SERVICES_IP:53.
    pub(crate) dns: std::net::UdpSocket,
}

/// Binds the service sockets in the node's namespace, from a short-lived thread that joins
/// the namespace (a socket stays in the namespace it was made in; the thread's switch ends
/// with the thread).
pub(crate) fn bind_services(ns_pid: u32, apiserver_port: u16) -> Result<ServiceSockets, String> {
    std::thread::spawn(move || -> Result<ServiceSockets, String> {
        sys::enter_netns_of(ns_pid).map_err(|e| format!("joining the node's netns: {e}"))?;
        let apiserver = std::net::TcpListener::bind(SocketAddrV4::new(SERVICES_IP, apiserver_port))
            .map_err(|e| format!("binding {SERVICES_IP}:{apiserver_port} in the node: {e}"))?;
        let dns = std::net::UdpSocket::bind(SocketAddrV4::new(SERVICES_IP, 53))
            .map_err(|e| format!("binding {SERVICES_IP}:53 in the node: {e}"))?;
        for result in [apiserver.set_nonblocking(true), dns.set_nonblocking(true)] {
            result.map_err(|e| format!("node service sockets: {e}"))?;
        }
        Ok(ServiceSockets { apiserver, dns })
    })
    .join()
    .map_err(|_| "the thread binding the node's sockets panicked".to_string())?
}

/// Serves the node's sockets until the runtime running this is dropped: TCP connections are
/// spliced to the apiserver on 127.0.0.1, DNS queries answered NXDOMAIN.
pub(crate) async fn serve(sockets: ServiceSockets, apiserver_port: u16) {
    let apiserver = SocketAddr::from((Ipv4Addr::LOCALHOST, apiserver_port));
    let forward = async move {
        let Ok(listener) = TcpListener::from_std(sockets.apiserver) else {
            return;
        };
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                // Out of descriptors or a connection reset before accept: try again shortly.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            };
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(apiserver).await {
                    let _ = copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    };
    let dns = async move {
        let Ok(socket) = UdpSocket::from_std(sockets.dns) else {
            return;
        };
        let mut buf = [0u8; 1500];
        loop {
            let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            };
            if let Some(reply) = nxdomain(&buf[..len]) {
                let _ = socket.send_to(&reply, from).await;
            }
        }
    };
    tokio::join!(forward, dns);
}

/// The NXDOMAIN answer to a DNS query: same id and question, no records. `None` for anything
/// that is not a well-formed standard query.
pub(crate) fn nxdomain(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None; // too short, or a response
    }
    let qdcount = u16::from_be_bytes([query[4], query[5]]);
    // Walk the questions: labels ending in a zero byte, then type and class.
    let mut at = 12;
    for _ in 0..qdcount {
        loop {
            let len = usize::from(*query.get(at)?);
            if len & 0xC0 != 0 {
                return None; // compression pointers do not occur in queries
            }
            at += 1 + len;
            if len == 0 {
                break;
            }
        }
        at += 4;
        if at > query.len() {
            return None;
        }
    }
    let mut reply = query[..at].to_vec();
    // QR=1, opcode and RD kept; RA=1, RCODE=3 (NXDOMAIN).
    reply[2] = 0x80 | (query[2] & 0x79);
    reply[3] = 0x80 | 0x03;
    // No answers, authority or additional records.
    reply[6..12].fill(0);
    Some(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `registry.example` type A with the RD bit, as a stub resolver sends it.
    fn query() -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        for label in ["registry", "example"] {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        // An EDNS OPT record in the additional section, dropped from the answer.
        q.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        q
    }

    #[test]
    fn answers_nxdomain_to_the_same_question() {
        let q = query();
        let r = nxdomain(&q).unwrap();
        assert_eq!(&r[..2], &[0x12, 0x34], "same id");
        assert_eq!(r[2] & 0x80, 0x80, "a response");
        assert_eq!(r[2] & 0x01, 0x01, "RD kept");
        assert_eq!(r[3] & 0x0F, 3, "NXDOMAIN");
        assert_eq!(&r[4..6], &[0, 1], "one question");
        assert_eq!(&r[6..12], &[0; 6], "no records");
        assert_eq!(
            &r[12..],
            &q[12..q.len() - 11],
            "the question, without the OPT record"
        );
    }

    #[test]
    fn ignores_garbage_and_responses() {
        assert_eq!(nxdomain(&[1, 2, 3]), None);
        let mut response = query();
        response[2] |= 0x80;
        assert_eq!(nxdomain(&response), None);
        let mut truncated = query();
        truncated.truncate(20);
        assert_eq!(nxdomain(&truncated), None);
    }
}
