//! `kubemedic events` and `kubemedic crashes`: the archive's timeline and crashes, read from the
//! controller's HTTP API (`--server URL`, or by default through the apiserver's service proxy to
//! the controller Service) or straight from a store (`--archive sqlite:PATH|postgres://…`).

use crate::collect::DeadlineArgs;
use crate::output::OutputFormat;
use anyhow::{Context as _, bail};
use jiff::Timestamp;
use kubemedic_archive::query::parse_time;
use kubemedic_archive::{
    ArchiveUrl, ArchivedEvent, CrashQuery, EventOccurrence, EventQuery, FollowPage, ObjectSelector,
    Store,
};
use kubemedic_cluster::live::{describe, human_duration};
use kubemedic_controller::http::{CrashView, exit_meaning};
use kubemedic_term::visible;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Where the archive is read from (shared by `events`, `crashes`, `diagnose` and `collect`).
#[derive(Debug, Clone, clap::Args)]
pub struct ArchiveSourceArgs {
    /// Read a store directly: sqlite:PATH or postgres://USER@HOST[:PORT]/DB.
    #[arg(long, value_name = "URL", conflicts_with = "server")]
    pub archive: Option<String>,
    /// The controller's HTTP API, e.g. http://127.0.0.1:20258 (default: through the apiserver's
    /// service proxy to the controller Service).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Namespace of the controller Service (service-proxy access).
    #[arg(long, value_name = "NS", default_value = "kubemedic")]
    pub controller_namespace: String,
    /// The controller Service and port name (service-proxy access).
    #[arg(
        long,
        value_name = "SVC:PORT",
        default_value = "kubemedic-controller:http"
    )]
    pub controller_service: String,
    /// Cluster to read from a PostgreSQL archive holding several (default: all).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
}

/// Where the CLI reads from.
pub enum Source {
    /// A store opened directly.
    Store(Arc<dyn Store>),
    /// The controller's API at a URL; each request bounded by the duration.
    Http(reqwest::Client, String, Duration),
    /// The controller's API through the apiserver (its URL) and its service proxy (the path).
    Proxy(kube::Client, String, String, Duration),
}

impl Source {
    /// Opens the source the flags name; every request it makes ends within `request_timeout`.
    pub async fn open(
        args: &ArchiveSourceArgs,
        kubeconfig: Option<&std::path::Path>,
        context: Option<&str>,
        request_timeout: Duration,
    ) -> anyhow::Result<Source> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Some(url) = &args.archive {
            let url: ArchiveUrl = url.parse()?;
            let store = tokio::task::spawn_blocking(move || url.open_read_only()).await??;
            return Ok(Source::Store(store));
        }
        if let Some(base) = &args.server {
            return Ok(Source::Http(
                reqwest::Client::builder()
                    .connect_timeout(request_timeout.min(Duration::from_secs(10)))
                    .build()?,
                base.trim_end_matches('/').to_string(),
                request_timeout,
            ));
        }
        let clients =
            kubemedic_cluster::live::cli_client_for(kubeconfig, context, request_timeout).await?;
        Ok(Source::Proxy(
            clients.proxy,
            clients.server,
            format!(
                "/api/v1/namespaces/{}/services/{}/proxy",
                args.controller_namespace, args.controller_service
            ),
            request_timeout,
        ))
    }

    /// GET `path` of the controller's API as JSON; `what` names it in messages.
    async fn get(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<serde_json::Value> {
        let qs: String = query
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let pq = if qs.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{qs}")
        };
        let text = match self {
            Source::Store(_) => bail!("internal: HTTP request on a store source"),
            Source::Http(c, base, limit) => {
                let request = async {
                    let resp = c.get(format!("{base}{pq}")).send().await?;
                    let status = resp.status();
                    Ok::<_, reqwest::Error>((status, resp.text().await?))
                };
                // The body too: a controller that sends headers and then stalls must not hold
                // the command.
                let (status, body) = match tokio::time::timeout(*limit, request).await {
                    Err(_) => bail!(
                        "cannot fetch {what} from the controller at {base}: no answer within {}",
                        human_duration(*limit)
                    ),
                    Ok(Err(e)) => bail!(
                        "cannot fetch {what} from the controller at {base}: {}",
                        describe(&e)
                    ),
                    Ok(Ok(v)) => v,
                };
                if !status.is_success() {
                    bail!(
                        "the controller at {base} answered {status} to the request for {what}: {}",
                        api_error(&body)
                    );
                }
                body
            }
            Source::Proxy(c, server, prefix, limit) => {
                let req = http::Request::get(format!("{prefix}{pq}")).body(Vec::new())?;
                match tokio::time::timeout(*limit, c.request_text(req)).await {
                    Err(_) => bail!(
                        "cannot fetch {what} from the controller through {server} (service proxy {prefix}): no answer within {}",
                        human_duration(*limit)
                    ),
                    Ok(Err(e)) => bail!(
                        "cannot fetch {what} from the controller through {server} (service proxy {prefix}): {}\n(is `kubemedic controller` installed? use --server URL or --archive URL otherwise)",
                        describe(&e)
                    ),
                    Ok(Ok(t)) => t,
                }
            }
        };
        serde_json::from_str(&text)
            .with_context(|| format!("the controller's reply to {path} is not JSON"))
    }

    /// Archived events.
    pub async fn events(&self, q: &EventQuery) -> anyhow::Result<Vec<ArchivedEvent>> {
        if let Source::Store(s) = self {
            let (s, q) = (s.clone(), q.clone());
            return Ok(tokio::task::spawn_blocking(move || s.events(&q)).await??);
        }
        let v = self
            .get("archived events", "/api/v1/events", &event_params(q))
            .await?;
        serde_json::from_value(v["events"].clone()).context("the controller's events reply")
    }

    /// New occurrences after a cursor.
    pub async fn follow(&self, q: &EventQuery) -> anyhow::Result<FollowPage> {
        if let Source::Store(s) = self {
            let (s, q) = (s.clone(), q.clone());
            return Ok(tokio::task::spawn_blocking(move || s.follow(&q)).await??);
        }
        let v = self
            .get(
                "new archived events",
                "/api/v1/events/follow",
                &event_params(q),
            )
            .await?;
        serde_json::from_value(v).context("the controller's follow reply")
    }

    /// Archived crashes with their exit code meaning.
    pub async fn crashes(&self, q: &CrashQuery) -> anyhow::Result<Vec<CrashView>> {
        if let Source::Store(s) = self {
            let (s, q) = (s.clone(), q.clone());
            let crashes = tokio::task::spawn_blocking(move || s.crashes(&q)).await??;
            return Ok(crashes
                .into_iter()
                .map(|c| CrashView {
                    exit_meaning: exit_meaning(c.exit_code),
                    crash: c,
                })
                .collect());
        }
        let v = self
            .get("archived crashes", "/api/v1/crashes", &crash_params(q))
            .await?;
        serde_json::from_value(v["crashes"].clone()).context("the controller's crashes reply")
    }
}

/// Diagnosis with memory: adds to a live snapshot what the archive holds for the last week of
/// `namespace` (events the apiserver expired, previous logs captured at crashes). Returns a
/// note for the report's source line. An archive named with --archive/--server that cannot be
/// read is reported as a skipped input; the default (the controller Service) is skipped quietly
/// when no controller is installed.
pub async fn remember(
    snap: &mut kubemedic_model::Snapshot,
    args: &ArchiveSourceArgs,
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
    namespace: Option<&str>,
    request_timeout: Duration,
) -> String {
    let explicit = args.archive.is_some() || args.server.is_some();
    let since = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(24 * 7))
        .ok();
    let result = async {
        let src = Source::open(args, kubeconfig, context, request_timeout).await?;
        let events = src
            .events(&EventQuery {
                namespace: namespace.map(str::to_string),
                since,
                cluster: args.cluster.clone(),
                limit: 100_000,
                ..Default::default()
            })
            .await?;
        let crashes: Vec<_> = src
            .crashes(&CrashQuery {
                namespace: namespace.map(str::to_string),
                since,
                cluster: args.cluster.clone(),
                limit: 10_000,
                ..Default::default()
            })
            .await?
            .into_iter()
            .map(|v| v.crash)
            .collect();
        anyhow::Ok(kubemedic_archive::memory::merge(snap, &events, &crashes))
    };
    // Each request is bounded; the caller's --timeout bounds the whole.
    match result.await {
        Ok(stats) => format!(
            " + archive ({} events past the TTL, previous logs of {} containers)",
            stats.events_added, stats.logs_added
        ),
        Err(e) if explicit => {
            snap.skipped.push(kubemedic_model::SkippedInput {
                input: "archive".to_string(),
                reason: format!("{e:#}"),
            });
            String::new()
        }
        Err(_) => String::new(),
    }
}

fn api_error(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string())
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn ts(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_default()
}

fn event_params(q: &EventQuery) -> Vec<(&'static str, String)> {
    vec![
        (
            "object",
            q.object.as_ref().map(|o| o.to_string()).unwrap_or_default(),
        ),
        ("namespace", q.namespace.clone().unwrap_or_default()),
        ("reason", q.reason.clone().unwrap_or_default()),
        ("type", q.type_.clone().unwrap_or_default()),
        ("since", ts(q.since)),
        ("until", ts(q.until)),
        ("grep", q.grep.clone().unwrap_or_default()),
        ("cluster", q.cluster.clone().unwrap_or_default()),
        ("after", q.after.map(|a| a.to_string()).unwrap_or_default()),
        (
            "limit",
            if q.limit == 0 {
                String::new()
            } else {
                q.limit.to_string()
            },
        ),
    ]
}

fn crash_params(q: &CrashQuery) -> Vec<(&'static str, String)> {
    vec![
        (
            "object",
            q.object.as_ref().map(|o| o.to_string()).unwrap_or_default(),
        ),
        ("namespace", q.namespace.clone().unwrap_or_default()),
        ("container", q.container.clone().unwrap_or_default()),
        ("since", ts(q.since)),
        ("until", ts(q.until)),
        ("grep", q.grep.clone().unwrap_or_default()),
        ("cluster", q.cluster.clone().unwrap_or_default()),
        (
            "logs",
            if q.without_logs {
                "false".into()
            } else {
                String::new()
            },
        ),
        (
            "limit",
            if q.limit == 0 {
                String::new()
            } else {
                q.limit.to_string()
            },
        ),
    ]
}

/// Arguments of `kubemedic events`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubemedic events pod/api-7c9d-x2x -n shop            # every event of one pod, repeats included
  kubemedic events deploy/api -n shop --since 7d       # a Deployment and the pods it owned
  kubemedic events node/worker-3 --type Warning        # a node's events and condition changes
  kubemedic events -A --reason OOMKilling --since 24h -o json
  kubemedic events --grep \"no such host\" --since 3d
  kubemedic events -A --follow                         # new records as they are archived
  kubemedic events --archive sqlite:/var/lib/kubemedic/archive.db pod/x

Without -n every namespace is searched. Times: RFC 3339 (2026-11-30T12:00:00Z), a date, or a
duration before now (7d, 36h, 15m). JSON: {\"events\": [{\"uid\", \"count\", \"times\": [...],
\"repeats\": [{\"count\", \"time\"}], \"reason\", \"type\", \"message\", \"object\", ...}]}.")]
pub struct EventsArgs {
    /// pod/NAME, node/NAME, deploy/NAME, sts/NAME, ds/NAME, job/NAME, svc/NAME, ... (or KIND/NAMESPACE/NAME).
    #[arg(value_name = "OBJECT")]
    object: Option<String>,
    /// Namespace (default: every namespace).
    #[arg(
        short = 'n',
        long,
        value_name = "NS",
        conflicts_with = "all_namespaces"
    )]
    namespace: Option<String>,
    /// Every namespace (the default; kept for kubectl habits).
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Only this reason (exact, e.g. BackOff).
    #[arg(long)]
    reason: Option<String>,
    /// Only this type (Normal or Warning).
    #[arg(long = "type", value_name = "TYPE")]
    type_: Option<String>,
    /// Only repeats at or after this time (7d, 2026-11-30, 2026-11-30T12:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// Only repeats before this time.
    #[arg(long)]
    until: Option<String>,
    /// Words the message contains, in order (full-text search; the last word may be a prefix).
    #[arg(long)]
    grep: Option<String>,
    /// At most this many repeats (the newest).
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Keep printing new records as the controller archives them (Ctrl-C stops).
    #[arg(short = 'f', long)]
    follow: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: OutputFormat,
    #[command(flatten)]
    source: ArchiveSourceArgs,
    #[command(flatten)]
    deadline: DeadlineArgs,
    /// Path to the kubeconfig file (service-proxy access).
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context.
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
}

/// Runs `step` of a command that must be done by `until` (its start + --timeout).
async fn within<T>(
    d: &DeadlineArgs,
    until: tokio::time::Instant,
    who: &str,
    step: &str,
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout_at(until, f).await {
        Ok(r) => r,
        Err(_) => bail!(
            "gave up on {who} after {} (--timeout): still waiting for {step}",
            human_duration(d.timeout)
        ),
    }
}

impl ArchiveSourceArgs {
    /// Where the archive is read from, for messages.
    fn label(&self) -> String {
        match (&self.archive, &self.server) {
            (Some(a), _) => format!("the archive {a}"),
            (None, Some(s)) => format!("the controller at {}", s.trim_end_matches('/')),
            (None, None) => "the controller (through the apiserver's service proxy)".to_string(),
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn single_kubeconfig(p: &Option<PathBuf>) -> Option<&std::path::Path> {
    p.as_deref()
        .filter(|p| !p.as_os_str().to_string_lossy().contains(':'))
}

/// `kubemedic events`.
pub fn run_events(args: &EventsArgs) -> anyhow::Result<ExitCode> {
    let now = Timestamp::now();
    let q = EventQuery {
        object: args
            .object
            .as_deref()
            .map(str::parse::<ObjectSelector>)
            .transpose()?,
        namespace: args.namespace.clone(),
        reason: args.reason.clone(),
        type_: args.type_.clone(),
        since: time_flag("--since", args.since.as_deref(), now)?,
        until: time_flag("--until", args.until.as_deref(), now)?,
        grep: args.grep.clone(),
        cluster: args.source.cluster.clone(),
        after: None,
        limit: args.limit,
    };
    let d = &args.deadline;
    runtime()?.block_on(async {
        let until = tokio::time::Instant::now() + d.timeout;
        let who = args.source.label();
        let open = Source::open(
            &args.source,
            single_kubeconfig(&args.kubeconfig),
            args.context.as_deref(),
            d.request_timeout,
        );
        let src = within(d, until, &who, "the connection", open).await?;
        let mut out = std::io::stdout().lock();
        if args.follow {
            // Runs until Ctrl-C: only each request is bounded.
            return follow(&src, q, args.output, &mut out).await;
        }
        let events = within(d, until, &who, "archived events", src.events(&q)).await?;
        match args.output {
            OutputFormat::Json => {
                serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "events": events }))?;
                writeln!(out)?;
            }
            OutputFormat::Text => print_timeline(&events, &mut out)?,
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// `kind/namespace/name`, terminal-safe (archived objects come from the cluster).
fn object_label(o: &kubemedic_archive::ObjectRef) -> String {
    let kind = o.kind.to_ascii_lowercase();
    if o.namespace.is_empty() {
        visible(&format!("{kind}/{}", o.name)).into_owned()
    } else {
        visible(&format!("{kind}/{}/{}", o.namespace, o.name)).into_owned()
    }
}

fn short_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// A message on one line, terminal-safe, cut at 160 characters.
fn one_line(s: &str) -> String {
    let s = visible(&s.replace(['\n', '\r'], " ")).into_owned();
    if s.chars().count() > 160 {
        let cut: String = s.chars().take(157).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// The timeline: one line per repeat, oldest first.
fn print_timeline(events: &[ArchivedEvent], out: &mut impl Write) -> anyhow::Result<()> {
    let mut rows: Vec<(Timestamp, i64, &ArchivedEvent)> = events
        .iter()
        .flat_map(|e| e.repeats.iter().map(move |r| (r.time, r.count, e)))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.uid.cmp(&b.2.uid)));
    if rows.is_empty() {
        writeln!(out, "No archived events match.")?;
        return Ok(());
    }
    let color = std::io::stdout().is_terminal();
    writeln!(
        out,
        "{:<21} {:<8} {:<22} {:<40} {:>5}  MESSAGE",
        "TIME", "TYPE", "REASON", "OBJECT", "COUNT"
    )?;
    for (t, count, e) in &rows {
        let ty = if color && e.type_ == "Warning" {
            format!("\x1b[33m{:<8}\x1b[0m", e.type_)
        } else {
            format!("{:<8}", visible(&e.type_))
        };
        writeln!(
            out,
            "{:<21} {ty} {:<22} {:<40} {:>5}  {}",
            short_time(*t),
            visible(&e.reason),
            object_label(&e.object),
            count,
            one_line(&e.message)
        )?;
    }
    let repeats: usize = events.iter().map(|e| e.repeats.len()).sum();
    writeln!(
        out,
        "\n{} events, {} repeats archived.",
        events.len(),
        repeats
    )?;
    Ok(())
}

fn print_occurrence(
    o: &EventOccurrence,
    output: OutputFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match output {
        OutputFormat::Json => {
            serde_json::to_writer(&mut *out, o)?;
            writeln!(out)?;
        }
        OutputFormat::Text => writeln!(
            out,
            "{:<21} {:<8} {:<22} {:<40} {:>5}  {}",
            short_time(o.time),
            visible(&o.type_),
            visible(&o.reason),
            object_label(&o.object),
            o.count,
            one_line(&o.message)
        )?,
    }
    Ok(())
}

async fn follow(
    src: &Source,
    mut q: EventQuery,
    output: OutputFormat,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    if output == OutputFormat::Text {
        writeln!(
            out,
            "{:<21} {:<8} {:<22} {:<40} {:>5}  MESSAGE",
            "TIME", "TYPE", "REASON", "OBJECT", "COUNT"
        )?;
    }
    q.limit = q.limit.clamp(1, 1000);
    let first = src.follow(&q).await?;
    for o in &first.occurrences {
        print_occurrence(o, output, out)?;
    }
    out.flush()?;
    q.after = Some(first.cursor);
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
        let page = match src.follow(&q).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("warning: {}; retrying", visible(&format!("{e:#}")));
                continue;
            }
        };
        for o in &page.occurrences {
            print_occurrence(o, output, out)?;
        }
        out.flush()?;
        q.after = Some(page.cursor);
    }
}

/// Arguments of `kubemedic crashes`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubemedic crashes pod/api-7c9d-x2x -n shop           # each crash with exit code meaning and its logs
  kubemedic crashes deploy/api -n shop --since 3d      # every pod the Deployment had
  kubemedic crashes -A --grep \"nil pointer\" --tail 0    # full logs of crashes whose logs say so
  kubemedic crashes -A -o json                         # {\"crashes\": [{\"exitCode\", \"exitMeaning\", \"logs\", ...}]}")]
pub struct CrashesArgs {
    /// pod/NAME, deploy/NAME, sts/NAME, ds/NAME, job/NAME (or KIND/NAMESPACE/NAME).
    #[arg(value_name = "OBJECT")]
    object: Option<String>,
    /// Namespace (default: every namespace).
    #[arg(
        short = 'n',
        long,
        value_name = "NS",
        conflicts_with = "all_namespaces"
    )]
    namespace: Option<String>,
    /// Every namespace (the default).
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Only this container.
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Only crashes at or after this time.
    #[arg(long)]
    since: Option<String>,
    /// Only crashes before this time.
    #[arg(long)]
    until: Option<String>,
    /// Words the logs or termination message contain, in order.
    #[arg(long)]
    grep: Option<String>,
    /// Log lines shown per crash in text output (0: all).
    #[arg(long, default_value_t = 20)]
    tail: usize,
    /// At most this many crashes (the newest).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: OutputFormat,
    #[command(flatten)]
    source: ArchiveSourceArgs,
    #[command(flatten)]
    deadline: DeadlineArgs,
    /// Path to the kubeconfig file (service-proxy access).
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context.
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
}

/// `kubemedic crashes`.
pub fn run_crashes(args: &CrashesArgs) -> anyhow::Result<ExitCode> {
    let now = Timestamp::now();
    let q = CrashQuery {
        object: args
            .object
            .as_deref()
            .map(str::parse::<ObjectSelector>)
            .transpose()?,
        namespace: args.namespace.clone(),
        container: args.container.clone(),
        since: time_flag("--since", args.since.as_deref(), now)?,
        until: time_flag("--until", args.until.as_deref(), now)?,
        grep: args.grep.clone(),
        cluster: args.source.cluster.clone(),
        without_logs: false,
        limit: args.limit,
    };
    if let Some(sel) = &q.object
        && sel.kind != "Pod"
        && !sel.is_workload()
    {
        bail!(
            "crashes are kept per pod: use pod/NAME or a workload (deploy/, sts/, ds/, job/, rs/), not {}",
            sel.kind
        );
    }
    let d = &args.deadline;
    runtime()?.block_on(async {
        let until = tokio::time::Instant::now() + d.timeout;
        let who = args.source.label();
        let open = Source::open(
            &args.source,
            single_kubeconfig(&args.kubeconfig),
            args.context.as_deref(),
            d.request_timeout,
        );
        let src = within(d, until, &who, "the connection", open).await?;
        let crashes = within(d, until, &who, "archived crashes", src.crashes(&q)).await?;
        let mut out = std::io::stdout().lock();
        match args.output {
            OutputFormat::Json => {
                serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "crashes": crashes }))?;
                writeln!(out)?;
            }
            OutputFormat::Text => print_crashes(&crashes, args.tail, &mut out)?,
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// `1.5 GiB`, `210 MiB`, `512 KiB`, `0 B`.
fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The node's memory state recorded with an OOM kill (the agent's facts), as the few lines an
/// SRE reads to tell a container limit from a node out of memory.
fn node_memory_lines(v: &serde_json::Value, ended: Option<Timestamp>) -> Vec<String> {
    let Some(m) = v
        .get("memory")
        .and_then(|m| serde_json::from_value::<kubemedic_model::facts::MemoryFacts>(m.clone()).ok())
        .filter(|m| m.total_bytes > 0)
    else {
        // Facts of an agent without the memory section: show what was recorded.
        return vec![format!("node state: {}", one_line(&v.to_string()))];
    };
    let node = v.get("node").and_then(|n| n.as_str()).unwrap_or("the node");
    let collected = v
        .get("collectedAt")
        .and_then(|t| t.as_str())
        .and_then(|t| t.parse::<Timestamp>().ok());
    // The facts are read when the crash is captured, after the kill freed the victim's memory.
    let after = match (collected, ended) {
        (Some(c), Some(e)) => format!(
            ", read {:.0}s after the kill",
            c.duration_since(e).as_secs_f64().max(0.0)
        ),
        (Some(c), None) => format!(", read {}", short_time(c)),
        _ => String::new(),
    };
    let source = format!(" (agent on {node}{after})");
    let pct = |part: u64| part as f64 * 100.0 / m.total_bytes as f64;
    let mut parts = vec![
        format!(
            "available {} of {} ({:.1}%)",
            human_bytes(m.available_bytes),
            human_bytes(m.total_bytes),
            pct(m.available_bytes)
        ),
        format!("processes {}", human_bytes(m.anon_bytes)),
        format!(
            "page cache {} (shmem {})",
            human_bytes(m.cached_bytes),
            human_bytes(m.shmem_bytes)
        ),
        format!(
            "unreclaimable slab {}",
            human_bytes(m.slab_unreclaimable_bytes)
        ),
        format!("kernel {}", human_bytes(m.kernel_bytes)),
        if m.swap_total_bytes == 0 {
            "no swap".to_string()
        } else {
            format!(
                "swap {} of {} used",
                human_bytes(m.swap_used_bytes()),
                human_bytes(m.swap_total_bytes)
            )
        },
    ];
    if m.committed_bytes > 0 {
        parts.push(format!(
            "committed {} (limit {})",
            human_bytes(m.committed_bytes),
            human_bytes(m.commit_limit_bytes)
        ));
    }
    if m.hugepages_bytes > 0 {
        parts.push(format!("huge pages {}", human_bytes(m.hugepages_bytes)));
    }
    if let Some(k) = m.oom_kills {
        parts.push(format!("kernel OOM kills since boot {k}"));
    }
    match (m.pressure_some_avg10, m.pressure_full_avg10) {
        (Some(s), Some(f)) => {
            parts.push(format!("memory pressure {s:.1}% some, {f:.1}% full (10 s)"))
        }
        (Some(s), None) => parts.push(format!("memory pressure {s:.1}% some (10 s)")),
        _ => {}
    }
    // Wrapped to fit an 80-column terminal after the crash's indentation.
    let mut lines = vec![format!("node memory{source}:")];
    let mut line = String::new();
    for p in parts {
        if !line.is_empty() && line.len() + 2 + p.len() > 72 {
            lines.push(format!("  {line},"));
            line.clear();
        }
        if !line.is_empty() {
            line.push_str(", ");
        }
        line.push_str(&p);
    }
    lines.push(format!("  {line}"));
    // MemAvailable under ~5%, or tasks stalled on memory, is where the kernel's global OOM
    // killer picks victims; plenty available after the kill points at the container's limit.
    let starved = m.available_ratio() < 0.05 || m.pressure_full_avg10.is_some_and(|f| f >= 10.0);
    if starved {
        lines.push("  the node was short of memory: a node-level OOM kill is likely".to_string());
        lines.push(format!(
            "  (its kernel log: kubemedic diagnose node/{node})"
        ));
    } else {
        lines.push("  memory was available: more likely the container's own limit".to_string());
    }
    lines
}

fn print_crashes(crashes: &[CrashView], tail: usize, out: &mut impl Write) -> anyhow::Result<()> {
    if crashes.is_empty() {
        writeln!(out, "No archived crashes match.")?;
        return Ok(());
    }
    for v in crashes {
        let c = &v.crash;
        let when = c.finished_at.unwrap_or(c.captured_at);
        writeln!(
            out,
            "{}  pod/{}/{}  container {}{}",
            short_time(when),
            visible(&c.namespace),
            visible(&c.pod),
            visible(&c.container),
            if c.init_container { " (init)" } else { "" }
        )?;
        let signal = c
            .signal
            .map(|s| format!(", signal {s}"))
            .unwrap_or_default();
        writeln!(
            out,
            "  exit code {} ({}){signal}, reason {}, restartCount {}{}",
            c.exit_code,
            visible(&v.exit_meaning),
            visible(c.reason.as_deref().unwrap_or("-")),
            c.restart_count,
            c.node
                .as_deref()
                .map(|n| format!(", node {}", visible(n)))
                .unwrap_or_default()
        )?;
        if let (Some(s), Some(f)) = (c.started_at, c.finished_at) {
            let ran = f.duration_since(s);
            writeln!(
                out,
                "  ran {:.0}s ({} → {})",
                ran.as_secs_f64(),
                short_time(s),
                short_time(f)
            )?;
        }
        if let Some(m) = &c.message {
            writeln!(out, "  message: {}", one_line(m))?;
        }
        if let Some(mem) = &c.node_memory {
            for line in node_memory_lines(mem, c.finished_at) {
                writeln!(out, "  {line}")?;
            }
        }
        match (c.logs_text(), &c.logs_error) {
            (Some(text), _) => {
                let lines: Vec<&str> = text.lines().collect();
                let shown = if tail == 0 {
                    lines.len()
                } else {
                    tail.min(lines.len())
                };
                writeln!(
                    out,
                    "  previous logs ({} lines{}{}):",
                    lines.len(),
                    if c.logs_truncated {
                        ", the start cut"
                    } else {
                        ""
                    },
                    if shown < lines.len() {
                        format!(", last {shown} shown; --tail 0 for all")
                    } else {
                        String::new()
                    }
                )?;
                for l in &lines[lines.len() - shown..] {
                    writeln!(out, "    {}", visible(l))?;
                }
            }
            (None, Some(e)) => writeln!(out, "  previous logs: not captured ({})", one_line(e))?,
            (None, None) => writeln!(out, "  previous logs: none")?,
        }
        writeln!(out)?;
    }
    Ok(())
}

/// A `--since`/`--until` value as a time; the error names the flag.
fn time_flag(flag: &str, value: Option<&str>, now: Timestamp) -> anyhow::Result<Option<Timestamp>> {
    value
        .map(|s| parse_time(s, now))
        .transpose()
        .map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_read_like_a_human_writes_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(512 * 1024), "512 KiB");
        assert_eq!(human_bytes(210 * 1024 * 1024), "210 MiB");
        assert_eq!(human_bytes(16_384_000 * 1024), "15.6 GiB");
    }

    #[test]
    fn node_memory_of_a_starved_node_says_node_oom() {
        let facts = json!({
            "node": "worker-7",
            "collectedAt": "2026-11-30T10:00:03Z",
            "memory": {
                "totalBytes": 16_384_000u64 * 1024, "availableBytes": 210_000u64 * 1024,
                "anonBytes": 15_200_000u64 * 1024, "cachedBytes": 300_000u64 * 1024,
                "shmemBytes": 64_000u64 * 1024, "slabUnreclaimableBytes": 180_000u64 * 1024,
                "kernelBytes": 80_000u64 * 1024, "committedBytes": 19_000_000u64 * 1024,
                "commitLimitBytes": 8_192_000u64 * 1024, "oomKills": 3,
                "pressureSomeAvg10": 40.5, "pressureFullAvg10": 22.0
            }
        });
        let ended = "2026-11-30T10:00:01Z".parse().ok();
        let text = node_memory_lines(&facts, ended).join("\n");
        assert!(
            text.contains("available 205 MiB of 15.6 GiB (1.3%)"),
            "{text}"
        );
        assert!(
            text.contains("agent on worker-7, read 2s after the kill"),
            "{text}"
        );
        assert!(text.contains("processes 14.5 GiB"), "{text}");
        assert!(text.contains("no swap"), "{text}");
        assert!(text.contains("kernel OOM kills since boot 3"), "{text}");
        assert!(
            text.contains("memory pressure 40.5% some, 22.0% full"),
            "{text}"
        );
        assert!(text.contains("node-level OOM kill is likely"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 76), "{text}");
    }

    #[test]
    fn node_memory_of_a_roomy_node_points_at_the_limit() {
        let facts = json!({"node": "worker-1", "memory": {
            "totalBytes": 8u64 << 30, "availableBytes": 6u64 << 30,
            "swapTotalBytes": 2u64 << 30, "swapFreeBytes": 1u64 << 30}});
        let text = node_memory_lines(&facts, None).join("\n");
        assert!(
            text.contains("available 6.0 GiB of 8.0 GiB (75.0%)"),
            "{text}"
        );
        assert!(text.contains("swap 1.0 GiB of 2.0 GiB used"), "{text}");
        assert!(text.contains("the container's own limit"), "{text}");
    }

    #[test]
    fn facts_of_an_older_agent_are_shown_as_recorded() {
        let facts = json!({"node": "worker-2", "load": {"load1": 3.5}});
        let lines = node_memory_lines(&facts, None);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("node state: "), "{lines:?}");
        assert!(lines[0].contains("3.5"), "{lines:?}");
        // A memory section that is not what this version writes: no panic, shown as recorded.
        let odd = json!({"memory": {"totalBytes": "lots"}});
        assert!(node_memory_lines(&odd, None)[0].starts_with("node state: "));
    }
}
