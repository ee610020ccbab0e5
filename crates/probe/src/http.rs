//! An HTTP GET whose phases are timed one by one, the way Go's `httptrace` times kubenurse's
//! requests: DNS, connect, TLS handshake, connection ready, request written, first response byte.
//!
//! Each check opens its own connection (kubenurse's default, `KUBENURSE_REUSE_CONNECTIONS`
//! unset), so every phase is measured every time. Name resolution goes through
//! hickory-resolver configured from the node's resolv.conf (search list and ndots apply, no
//! cache: every check resolves); TLS is rustls with the ring provider; HTTP/1.1 over hyper's
//! connection API, with the stream wrapped to see the request's last write and the response's
//! first byte. Every step is bounded by the check timeout.

use crate::outcome::{HttpFailure, HttpOutcome, TraceEvent};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The system resolver the checks use for host names.
pub type SystemResolver =
    hickory_resolver::Resolver<hickory_resolver::net::runtime::TokioRuntimeProvider>;

/// TLS settings of the checks (kubenurse: `KUBENURSE_INSECURE`, `KUBENURSE_EXTRA_CA`, and the
/// service account's CA).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Do not verify server certificates.
    pub insecure: bool,
    /// CA bundles to trust besides the system's (the service account CA, extra CAs).
    pub ca_files: Vec<PathBuf>,
}

/// Why the HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A CA file could not be read or holds no certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// Settings of one check client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout (kubenurse: 6 s).
    pub timeout: Duration,
    /// Connect timeout (kubenurse's dialer: 5 s).
    pub connect_timeout: Duration,
    /// TLS.
    pub tls: TlsOptions,
    /// File holding a bearer token sent to `/version` URLs (the service account token).
    pub token_file: Option<PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(6),
            connect_timeout: Duration::from_secs(5),
            tls: TlsOptions::default(),
            token_file: None,
        }
    }
}

/// Performs checks.
#[derive(Clone)]
pub struct CheckClient {
    options: ClientOptions,
    tls: Arc<ClientConfig>,
    resolver: Option<Arc<SystemResolver>>,
    resolver_error: Option<String>,
}

impl std::fmt::Debug for CheckClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckClient")
            .field("options", &self.options)
            .field("resolver", &self.resolver.is_some())
            .finish_non_exhaustive()
    }
}

/// Reads every certificate of a PEM file.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let err = |reason: String| ClientError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client configuration for `tls`.
pub fn tls_config(tls: &TlsOptions) -> Result<ClientConfig, ClientError> {
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let mut config = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        // The system bundle may be missing in a scratch image; the cluster CA files still work.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        for path in &tls.ca_files {
            for cert in read_ca_file(path)? {
                roots.add(cert).map_err(|e| ClientError::CaFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `KUBENURSE_INSECURE=true`: the handshake's signature is still checked, the certificate not.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Builds the system resolver from a resolv.conf file, with no cache (every check resolves).
pub fn system_resolver(resolv_conf: &Path, timeout: Duration) -> Result<SystemResolver, String> {
    let bytes =
        std::fs::read(resolv_conf).map_err(|e| format!("{}: {e}", resolv_conf.display()))?;
    let (config, mut opts) = hickory_resolver::system_conf::parse_resolv_conf(bytes)
        .map_err(|e| format!("{}: {e}", resolv_conf.display()))?;
    opts.cache_size = 0;
    opts.timeout = opts.timeout.min(timeout);
    opts.attempts = opts.attempts.clamp(1, 2);
    hickory_resolver::Resolver::builder_with_config(
        config,
        hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
    )
    .with_options(opts)
    .build()
    .map_err(|e| e.to_string())
}

impl CheckClient {
    /// A client; `resolver` resolves host names (IP literals never need it).
    pub fn new(
        options: ClientOptions,
        resolver: Result<SystemResolver, String>,
    ) -> Result<Self, ClientError> {
        let tls = Arc::new(tls_config(&options.tls)?);
        let (resolver, resolver_error) = match resolver {
            Ok(r) => (Some(Arc::new(r)), None),
            Err(e) => (None, Some(e)),
        };
        Ok(Self {
            options,
            tls,
            resolver,
            resolver_error,
        })
    }

    /// The check timeout.
    pub fn timeout(&self) -> Duration {
        self.options.timeout
    }

    /// GETs `url` with the extra `headers`, tracing each phase. Never fails: every error is an
    /// outcome.
    pub async fn get(&self, url: &http::Uri, headers: &[(&'static str, String)]) -> HttpOutcome {
        let start = Instant::now();
        let mut trace = Trace {
            start,
            events: Vec::with_capacity(9),
        };
        let deadline = start + self.options.timeout;
        let failure = match self.run(url, headers, deadline, &mut trace).await {
            Ok(status) if status == 200 => {
                return trace.finish(Some(status), None);
            }
            Ok(status) => return trace.finish(Some(status), Some(HttpFailure::Status(status))),
            Err(f) => f,
        };
        trace.finish(None, Some(failure))
    }

    async fn run(
        &self,
        url: &http::Uri,
        headers: &[(&'static str, String)],
        deadline: Instant,
        trace: &mut Trace,
    ) -> Result<u16, HttpFailure> {
        let https = match url.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(HttpFailure::RoundTrip(format!(
                    "unsupported scheme {:?} in {url}",
                    other.unwrap_or("")
                )));
            }
        };
        let host = url
            .host()
            .ok_or_else(|| HttpFailure::RoundTrip(format!("no host in {url}")))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });

        // DNS (only for names, as Go's trace).
        let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                trace.mark(TraceEvent::DnsStart);
                let addrs =
                    self.resolve(bare, deadline)
                        .await
                        .map_err(|message| HttpFailure::Phase {
                            event: TraceEvent::DnsDone,
                            message,
                        })?;
                trace.mark(TraceEvent::DnsDone);
                addrs
            }
        };

        // Connect: each address in turn, within the connect timeout and the deadline.
        trace.mark(TraceEvent::ConnectStart);
        let connect_deadline = deadline.min(Instant::now() + self.options.connect_timeout);
        let mut last_error = String::from("no address");
        let mut tcp = None;
        for ip in addrs.iter().take(4) {
            let addr = SocketAddr::new(*ip, port);
            match tokio::time::timeout_at(connect_deadline.into(), TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    tcp = Some(s);
                    break;
                }
                Ok(Err(e)) => last_error = format!("dial tcp {addr}: {e}"),
                Err(_) => {
                    last_error = format!("dial tcp {addr}: i/o timeout");
                    break;
                }
            }
        }
        let tcp = tcp.ok_or(HttpFailure::Phase {
            event: TraceEvent::ConnectDone,
            message: last_error,
        })?;
        trace.mark(TraceEvent::ConnectDone);
        let _ = tcp.set_nodelay(true);

        let times = Arc::new(IoTimes::default());
        let io: Box<dyn Stream> = if https {
            trace.mark(TraceEvent::TlsHandshakeStart);
            let name = ServerName::try_from(bare.to_string()).map_err(|e| HttpFailure::Phase {
                event: TraceEvent::TlsHandshakeDone,
                message: format!("invalid server name {bare:?}: {e}"),
            })?;
            let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
            let tls = match tokio::time::timeout_at(deadline.into(), connector.connect(name, tcp))
                .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    return Err(HttpFailure::Phase {
                        event: TraceEvent::TlsHandshakeDone,
                        message: e.to_string(),
                    });
                }
                Err(_) => {
                    return Err(HttpFailure::Phase {
                        event: TraceEvent::TlsHandshakeDone,
                        message: "TLS handshake timeout".into(),
                    });
                }
            };
            trace.mark(TraceEvent::TlsHandshakeDone);
            Box::new(TimedIo::new(tls, times.clone()))
        } else {
            Box::new(TimedIo::new(tcp, times.clone()))
        };
        trace.mark(TraceEvent::GotConn);

        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(io))
                .await
                .map_err(|e| HttpFailure::RoundTrip(e.to_string()))?;
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let _abort = AbortOnDrop(conn);

        let authority = match url.port_u16() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let path = url
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_string();
        let mut request = http::Request::get(path)
            .header(http::header::HOST, authority)
            .header(http::header::USER_AGENT, "kubemedic-probe")
            .header(http::header::CONNECTION, "close");
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        if url.path().ends_with("/version")
            && let Some(token) = self.token()
        {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| HttpFailure::RoundTrip(e.to_string()))?;

        let result = tokio::time::timeout_at(deadline.into(), sender.send_request(request)).await;
        if let Some(t) = times.wrote.get() {
            trace.mark_at(TraceEvent::WroteRequest, *t);
        }
        if let Some(t) = times.first_byte.get() {
            trace.mark_at(TraceEvent::GotFirstRespByte, *t);
        }
        match result {
            Ok(Ok(response)) => Ok(response.status().as_u16()),
            Ok(Err(e)) if times.wrote.get().is_none() => Err(HttpFailure::Phase {
                event: TraceEvent::WroteRequest,
                message: e.to_string(),
            }),
            Ok(Err(e)) => Err(HttpFailure::RoundTrip(error_chain(&e))),
            Err(_) => Err(HttpFailure::RoundTrip(format!(
                "timeout awaiting response headers (Client.Timeout {:?} exceeded)",
                self.options.timeout
            ))),
        }
    }

    async fn resolve(&self, host: &str, deadline: Instant) -> Result<Vec<IpAddr>, String> {
        let Some(resolver) = &self.resolver else {
            return Err(format!(
                "lookup {host}: no resolver: {}",
                self.resolver_error.as_deref().unwrap_or("not configured")
            ));
        };
        match tokio::time::timeout_at(deadline.into(), resolver.lookup_ip(host)).await {
            Ok(Ok(lookup)) => {
                let addrs: Vec<IpAddr> = lookup.iter().collect();
                if addrs.is_empty() {
                    Err(format!("lookup {host}: no addresses"))
                } else {
                    Ok(addrs)
                }
            }
            Ok(Err(e)) => Err(format!("lookup {host}: {e}")),
            Err(_) => Err(format!("lookup {host}: i/o timeout")),
        }
    }

    fn token(&self) -> Option<String> {
        let path = self.options.token_file.as_ref()?;
        // Read on each request: projected tokens are rotated by the kubelet.
        let token = std::fs::read_to_string(path).ok()?;
        let token = token.trim();
        (!token.is_empty()).then(|| token.to_string())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

struct Trace {
    start: Instant,
    events: Vec<(TraceEvent, Duration)>,
}

impl Trace {
    fn mark(&mut self, event: TraceEvent) {
        self.mark_at(event, Instant::now());
    }

    fn mark_at(&mut self, event: TraceEvent, at: Instant) {
        self.events
            .push((event, at.saturating_duration_since(self.start)));
    }

    fn finish(mut self, status: Option<u16>, failure: Option<HttpFailure>) -> HttpOutcome {
        self.events.sort_by_key(|(e, d)| (*d, *e));
        HttpOutcome {
            status,
            failure,
            elapsed: self.start.elapsed(),
            events: self.events,
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

#[derive(Default)]
struct IoTimes {
    wrote: OnceLock<Instant>,
    first_byte: OnceLock<Instant>,
}

/// A stream that notes when the first bytes were written (the request: hyper writes a GET's
/// head in one go) and when the first response byte was read.
struct TimedIo<S> {
    inner: S,
    times: Arc<IoTimes>,
}

impl<S> TimedIo<S> {
    fn new(inner: S, times: Arc<IoTimes>) -> Self {
        Self { inner, times }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let _ = self.times.first_byte.set(Instant::now());
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            let _ = self.times.wrote.set(Instant::now());
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            let _ = self.times.wrote.set(Instant::now());
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
