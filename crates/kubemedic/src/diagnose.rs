//! `kubemedic diagnose [TARGET…]`: load a snapshot (live or `--dump DIR`), run the analysers,
//! print the findings. Exit 0 when nothing at warning or above, 1 when there is, 2 on errors.

use crate::collect::{ClusterArgs, Progress};
use crate::render::{ReportContext, TextStyle};
use anyhow::Context as _;
use kubemedic_diagnose::{Report, Severity, Target};
use kubemedic_model::Snapshot;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output of `diagnose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DiagnoseFormat {
    /// Grouped by severity, wrapped to the terminal, colours only on a TTY.
    #[default]
    Text,
    /// The findings as JSON, as described in docs/diagnose.md ("JSON output").
    Json,
    /// Markdown, for tickets and chat.
    Markdown,
}

/// `--min-severity` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MinSeverity {
    /// Everything.
    #[default]
    Info,
    /// Warning and critical.
    Warning,
    /// Critical only.
    Critical,
}

impl From<MinSeverity> for Severity {
    fn from(m: MinSeverity) -> Self {
        match m {
            MinSeverity::Info => Severity::Info,
            MinSeverity::Warning => Severity::Warning,
            MinSeverity::Critical => Severity::Critical,
        }
    }
}

/// Arguments of `kubemedic diagnose`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubemedic diagnose --dump examples/dumps/node-notready-xtables
  kubemedic diagnose -A
  kubemedic diagnose -n shop deploy/api pod/api-7d7b75974d-4zlj6
  kubemedic diagnose node/worker-3 -o json
  kubectl medic diagnose -A --min-severity warning -o markdown
  kubemedic diagnose -A --rules ~/kubemedic-rules    # add your own message rules (kubemedic explain rules)

Exit codes: 0 nothing at warning or above, 1 findings at warning or above, 2 usage or input error (including a dump directory that is not a dump, and a target or -n namespace the snapshot does not have).")]
pub struct DiagnoseArgs {
    /// What to diagnose: pod/NAME, node/NAME, deploy/NAME, sts/NAME, ds/NAME, job/NAME, svc/NAME
    /// (or KIND/NAMESPACE/NAME); nothing means everything in scope.
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// Read an offline dump (`kubectl cluster-info dump --output-directory=DIR` or
    /// `kubemedic collect DIR`) instead of a live cluster.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: DiagnoseFormat,
    /// Hide findings below this severity.
    #[arg(long, value_enum, default_value_t)]
    min_severity: MinSeverity,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    rules: crate::rules::RulesArgs,
}

/// Loads the snapshot the arguments name.
fn load(args: &DiagnoseArgs, progress: &Progress) -> anyhow::Result<(Snapshot, String)> {
    if let Some(dir) = &args.dump {
        progress.set("reading the dump");
        let snap = kubemedic_cluster::load_dump(dir)?;
        return Ok((snap, format!("dump {}", dir.display())));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(args.cluster.load(progress))
}

/// Runs `kubemedic diagnose`.
pub fn run(args: &DiagnoseArgs) -> anyhow::Result<ExitCode> {
    let targets = args
        .targets
        .iter()
        .map(|t| t.parse::<Target>())
        .collect::<Result<Vec<_>, _>>()?;
    // Bad rules are a usage error: refuse before touching the cluster.
    let user_rules = args.rules.load()?;
    let progress = Progress::stderr();
    let loaded = load(args, &progress);
    let (snap, source) = match loaded {
        Ok(v) => v,
        Err(e) => {
            progress.clear();
            return Err(e);
        }
    };
    // -n on a dump: a namespace the dump does not have is a typo, not a healthy namespace.
    if args.dump.is_some()
        && !args.cluster.all_namespaces
        && let Some(ns) = &args.cluster.namespace
        && !namespaces_of(&snap).contains(ns.as_str())
    {
        progress.clear();
        let known: Vec<&str> = namespaces_of(&snap).into_iter().collect();
        anyhow::bail!(
            "namespace {ns} is not in the {source} (it has {}: {}{})",
            known.len(),
            known
                .iter()
                .take(10)
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
            if known.len() > 10 { ", …" } else { "" }
        );
    }
    progress.set("diagnosing");
    let full = kubemedic_diagnose::diagnose_with(&snap, &user_rules);
    progress.clear();
    let missing_targets = unknown_targets(&targets, &snap);
    if !targets.is_empty() && missing_targets.len() == targets.len() {
        anyhow::bail!("{} in the {source}", missing_targets.join("; "));
    }
    let expanded = expand_workload_targets(&targets, &snap);
    let taken_at = snap.taken_at.map(|t| t.to_string());
    // The report owns everything it prints: the snapshot (most of the memory) goes first.
    drop(snap);
    let mut report = full;
    kubemedic_diagnose::filter_in_place(&mut report, &expanded, args.min_severity.into());
    // -n on a dump narrows the findings to that namespace (nodes stay: they host its pods).
    if args.dump.is_some()
        && !args.cluster.all_namespaces
        && let Some(ns) = &args.cluster.namespace
    {
        report
            .findings
            .retain(|f| f.object.namespace.as_deref().is_none_or(|n| n == ns));
        report.recount();
    }
    let ctx = ReportContext { source, taken_at };
    print(&report, &ctx, args.output)?;
    if !missing_targets.is_empty() {
        // The others were reported; the exit code still says the input was wrong.
        eprintln!(
            "error: {} in the {}",
            missing_targets.join("; "),
            kubemedic_term::visible(&ctx.source)
        );
        return Ok(ExitCode::from(2));
    }
    Ok(exit_code(&report))
}

/// Namespaces that hold anything in the snapshot.
fn namespaces_of(snap: &Snapshot) -> std::collections::BTreeSet<&str> {
    use kubemedic_model::objects::ObjectMeta;
    fn ns(m: &ObjectMeta) -> Option<&str> {
        m.namespace.as_deref()
    }
    let mut out = std::collections::BTreeSet::new();
    out.extend(snap.pods.iter().filter_map(|o| ns(&o.metadata)));
    out.extend(snap.events.iter().filter_map(|o| ns(&o.metadata)));
    out.extend(snap.services.iter().filter_map(|o| ns(&o.metadata)));
    out.extend(snap.deployments.iter().filter_map(|o| ns(&o.metadata)));
    out.extend(snap.replica_sets.iter().filter_map(|o| ns(&o.metadata)));
    out.extend(snap.daemon_sets.iter().filter_map(|o| ns(&o.metadata)));
    out.extend(snap.stateful_sets.iter().filter_map(|o| ns(&o.metadata)));
    out.extend(snap.jobs.iter().filter_map(|o| ns(&o.metadata)));
    out.extend(
        snap.replication_controllers
            .iter()
            .filter_map(|o| ns(&o.metadata)),
    );
    out.extend(
        snap.persistent_volume_claims
            .iter()
            .filter_map(|o| ns(&o.metadata)),
    );
    out
}

fn print(report: &Report, ctx: &ReportContext, format: DiagnoseFormat) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    let written = match format {
        // Streamed: the JSON of a large cluster's report is tens of MB.
        DiagnoseFormat::Json => serde_json::to_writer_pretty(&mut out, report)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n")),
        DiagnoseFormat::Text => {
            out.write_all(crate::render::text(report, ctx, TextStyle::for_stdout()).as_bytes())
        }
        DiagnoseFormat::Markdown => out.write_all(crate::render::markdown(report, ctx).as_bytes()),
    };
    // A closed pipe (`| head`) is not an error worth a message.
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to stdout"),
    }
}

/// 1 when any finding is at warning or above, else 0.
pub fn exit_code(report: &Report) -> ExitCode {
    match report.max_severity() {
        Some(s) if s >= Severity::Warning => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

/// The targets that name nothing in the snapshot (a typo would otherwise give an empty report),
/// each as "kind/name not found".
fn unknown_targets(targets: &[Target], snap: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    use kubemedic_diagnose::TargetKind;
    for t in targets {
        let ns_ok = |ns: &Option<String>| match &t.namespace {
            Some(want) => ns.as_deref() == Some(want.as_str()),
            None => true,
        };
        let name_ok = |n: &Option<String>| n.as_deref() == Some(t.name.as_str());
        let found = match t.kind {
            TargetKind::Pod => snap
                .pods
                .iter()
                .any(|o| name_ok(&o.metadata.name) && ns_ok(&o.metadata.namespace)),
            TargetKind::Node => snap.nodes.iter().any(|o| name_ok(&o.metadata.name)),
            TargetKind::Deployment => snap
                .deployments
                .iter()
                .any(|o| name_ok(&o.metadata.name) && ns_ok(&o.metadata.namespace)),
            TargetKind::StatefulSet => snap
                .stateful_sets
                .iter()
                .any(|o| name_ok(&o.metadata.name) && ns_ok(&o.metadata.namespace)),
            TargetKind::DaemonSet => snap
                .daemon_sets
                .iter()
                .any(|o| name_ok(&o.metadata.name) && ns_ok(&o.metadata.namespace)),
            TargetKind::Job => snap
                .jobs
                .iter()
                .any(|o| name_ok(&o.metadata.name) && ns_ok(&o.metadata.namespace)),
            TargetKind::Service => snap
                .services
                .iter()
                .any(|o| name_ok(&o.metadata.name) && ns_ok(&o.metadata.namespace)),
        };
        if !found {
            out.push(format!(
                "{}/{} not found{}",
                t.kind.object_kind().to_ascii_lowercase(),
                kubemedic_term::visible(&t.name),
                t.namespace
                    .as_deref()
                    .map(|ns| format!(" in namespace {}", kubemedic_term::visible(ns)))
                    .unwrap_or_default()
            ));
        }
    }
    out
}

/// Adds the pods a workload target owns (Deployment → ReplicaSets → Pods; StatefulSet,
/// DaemonSet, Job → Pods), so `deploy/api` also shows findings reported on its pods.
fn expand_workload_targets(targets: &[Target], snap: &Snapshot) -> Vec<Target> {
    use kubemedic_diagnose::TargetKind;
    use kubemedic_model::objects::ObjectMeta;
    let owned_by = |meta: &ObjectMeta, kind: &str, name: &str| {
        meta.owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == kind && o.name == name)
    };
    let mut out = targets.to_vec();
    for t in targets {
        let ns_ok =
            |ns: &Option<String>| t.namespace.as_ref().is_none_or(|w| ns.as_ref() == Some(w));
        let mut owners: Vec<(String, String, &str)> = Vec::new(); // (namespace, name, kind)
        match t.kind {
            TargetKind::Deployment => {
                for rs in &snap.replica_sets {
                    if ns_ok(&rs.metadata.namespace)
                        && owned_by(&rs.metadata, "Deployment", &t.name)
                    {
                        owners.push((
                            rs.metadata.namespace.clone().unwrap_or_default(),
                            rs.metadata.name.clone().unwrap_or_default(),
                            "ReplicaSet",
                        ));
                    }
                }
            }
            TargetKind::StatefulSet | TargetKind::DaemonSet | TargetKind::Job => {
                owners.push((
                    t.namespace.clone().unwrap_or_default(),
                    t.name.clone(),
                    t.kind.object_kind(),
                ));
            }
            _ => continue,
        }
        for pod in &snap.pods {
            let pns = pod.metadata.namespace.clone().unwrap_or_default();
            let hit = owners.iter().any(|(ns, name, kind)| {
                (ns.is_empty() || *ns == pns) && owned_by(&pod.metadata, kind, name)
            });
            if hit && let Some(name) = &pod.metadata.name {
                out.push(Target {
                    kind: TargetKind::Pod,
                    namespace: Some(pns),
                    name: name.clone(),
                });
            }
        }
    }
    out
}
