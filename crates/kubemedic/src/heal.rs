//! `kubemedic runbooks list|show|validate` and `kubemedic heal plan|crd`: the runbook library,
//! what healing would do now and why, and the Remediation CRD.

use crate::collect::{ClusterArgs, Progress};
use crate::output::OutputFormat;
use anyhow::Context as _;
use kubemedic_heal::library::{Library, Source};
use kubemedic_heal::matching::FirstSeen;
use kubemedic_heal::plan::{Decision, Input, Plan, StormState};
use kubemedic_heal::runbook::{self, RunbookDoc};
use kubemedic_heal::{ClusterView, SafetyConfig};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where user runbooks come from (besides the embedded defaults).
#[derive(Debug, Clone, clap::Args)]
pub struct RunbookSourceArgs {
    /// Directory of user runbooks (`*.yaml`): new runbooks, replacements of defaults of the same
    /// name, or overrides (`name` + `mode`/`enableSteps`/`disableSteps`/`cooldown`).
    #[arg(long, env = "KUBEMEDIC_RUNBOOKS", value_name = "DIR")]
    pub runbooks: Option<PathBuf>,
}

impl RunbookSourceArgs {
    fn user_sources(&self) -> anyhow::Result<Vec<Source>> {
        match &self.runbooks {
            Some(dir) => Ok(Library::read_dir(dir)?),
            None => Ok(Vec::new()),
        }
    }

    fn library(&self) -> anyhow::Result<Library> {
        Ok(Library::load(&self.user_sources()?))
    }
}

/// `kubemedic runbooks ...`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubemedic runbooks list
  kubemedic runbooks show cni-failure
  kubemedic runbooks validate my-runbooks/*.yaml
  kubemedic runbooks list --runbooks /etc/kubemedic/runbooks -o json")]
pub struct RunbooksArgs {
    #[command(subcommand)]
    command: RunbooksCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RunbooksCommand {
    /// List every runbook: name, mode, target, what it matches, its steps, where it came from.
    List {
        #[command(flatten)]
        source: RunbookSourceArgs,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Show one runbook as loaded (its YAML, then overrides applied).
    Show {
        /// Runbook name.
        name: String,
        #[command(flatten)]
        source: RunbookSourceArgs,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Check runbook files: every problem with file, line, field and reason. Exit 1 if any.
    Validate {
        /// Files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value_t)]
        output: OutputFormat,
    },
}

fn write_out(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to stdout"),
    }
}

/// Human output: runbook files, node names, condition messages and label values are not ours,
/// so nothing in them may act on the terminal (line feeds of the layout stay).
fn write_text(text: &str) -> anyhow::Result<()> {
    write_out(&kubemedic_term::visible_lines(text))
}

fn report_library_errors(lib: &Library) {
    for e in &lib.errors {
        eprintln!(
            "warning: runbook refused: {}",
            kubemedic_term::visible_lines(&e.to_string())
        );
    }
}

/// Runs `kubemedic runbooks`.
pub fn run_runbooks(args: &RunbooksArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        RunbooksCommand::List { source, output } => {
            let lib = source.library()?;
            report_library_errors(&lib);
            if *output == OutputFormat::Json {
                write_out(&(serde_json::to_string_pretty(&lib)? + "\n"))?;
            } else {
                let mut s = String::new();
                for e in lib.runbooks.values() {
                    let r = &e.runbook;
                    let mut matches: Vec<String> = r.matcher.causes.clone();
                    matches.extend(r.matcher.conditions.iter().map(|c| {
                        format!(
                            "{}={} {}",
                            c.type_,
                            c.status.join("|"),
                            kubemedic_heal::duration::Human(c.for_)
                        )
                    }));
                    let steps: Vec<String> = r
                        .steps
                        .iter()
                        .map(|st| {
                            if st.enabled {
                                st.name.clone()
                            } else {
                                format!("({} off)", st.name)
                            }
                        })
                        .collect();
                    s.push_str(&format!(
                        "{:<22} {:<9} {:<4}  {}\n",
                        r.name,
                        r.mode.as_str(),
                        r.target,
                        r.description
                    ));
                    s.push_str(&format!("    matches: {}\n", matches.join(", ")));
                    let tail = if r.escalation_alert() {
                        " → alert"
                    } else {
                        ""
                    };
                    s.push_str(&format!("    steps:   {}{tail}\n", steps.join(" → ")));
                    let mut origin = format!("    from:    {}", e.origin.source);
                    for o in &e.origin.overridden_by {
                        origin.push_str(&format!(" + {o}"));
                    }
                    s.push_str(&origin);
                    s.push('\n');
                }
                if !lib.errors.is_empty() {
                    s.push_str(&format!(
                        "\n{} runbook file(s) refused (see the warnings above); the others work.\n",
                        lib.errors
                            .iter()
                            .map(|e| &e.origin)
                            .collect::<std::collections::BTreeSet<_>>()
                            .len()
                    ));
                }
                write_text(&s)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RunbooksCommand::Show {
            name,
            source,
            output,
        } => {
            let lib = source.library()?;
            report_library_errors(&lib);
            let Some(e) = lib.get(name) else {
                let known: Vec<&str> = lib.runbooks.keys().map(String::as_str).collect();
                anyhow::bail!("no runbook {name:?} (known: {})", known.join(", "));
            };
            if *output == OutputFormat::Json {
                write_out(&(serde_json::to_string_pretty(e)? + "\n"))?;
            } else {
                let mut s = format!("# from {}\n", e.origin.source);
                s.push_str(&e.origin.text);
                if !e.origin.overridden_by.is_empty() {
                    s.push_str(&format!(
                        "\n# overridden by {}: mode {}, steps enabled: {}\n",
                        e.origin.overridden_by.join(", "),
                        e.runbook.mode.as_str(),
                        e.runbook
                            .steps
                            .iter()
                            .map(|st| format!("{}={}", st.name, st.enabled))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                write_text(&s)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RunbooksCommand::Validate { files, output } => {
            let mut results = Vec::new();
            let mut errors = Vec::new();
            for f in files {
                let origin = f.display().to_string();
                let text = match std::fs::read(f) {
                    Ok(b) => match String::from_utf8(b) {
                        Ok(t) => t,
                        Err(e) => {
                            errors.push(runbook::RunbookError {
                                origin: origin.clone(),
                                line: None,
                                path: String::new(),
                                reason: format!(
                                    "not valid UTF-8 (at byte {})",
                                    e.utf8_error().valid_up_to()
                                ),
                            });
                            continue;
                        }
                    },
                    Err(e) => {
                        errors.push(runbook::RunbookError {
                            origin: origin.clone(),
                            line: None,
                            path: String::new(),
                            reason: format!("cannot read: {e}"),
                        });
                        continue;
                    }
                };
                match runbook::parse(&text, &origin) {
                    Ok(RunbookDoc::Runbook(r)) => results.push(format!(
                        "{origin}: ok: runbook {} ({}, {} steps)",
                        r.name,
                        r.mode.as_str(),
                        r.steps.len()
                    )),
                    Ok(RunbookDoc::Override(o)) => {
                        // An override must name a runbook that exists.
                        let lib = Library::load(&[Source {
                            origin: origin.clone(),
                            text,
                        }]);
                        if lib.errors.is_empty() {
                            results.push(format!("{origin}: ok: override of {}", o.name));
                        } else {
                            errors.extend(lib.errors);
                        }
                    }
                    Err(es) => errors.extend(es),
                }
            }
            if *output == OutputFormat::Json {
                let v = serde_json::json!({ "ok": results, "errors": errors });
                write_out(&(serde_json::to_string_pretty(&v)? + "\n"))?;
            } else {
                let mut s = String::new();
                for r in &results {
                    s.push_str(r);
                    s.push('\n');
                }
                for e in &errors {
                    s.push_str(&format!("{e}\n"));
                }
                write_text(&s)?;
            }
            Ok(if errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// `kubemedic heal ...`.
#[derive(Debug, clap::Args)]
pub struct HealArgs {
    #[command(subcommand)]
    command: HealCommand,
}

#[derive(Debug, clap::Subcommand)]
enum HealCommand {
    /// Print what healing would do now and why: every matched runbook and target, the gate that
    /// holds it or the steps that would start.
    Plan(Box<PlanArgs>),
    /// Print the Remediation CustomResourceDefinition (remediations.kubemedic.io) as YAML.
    Crd,
}

/// Arguments of `kubemedic heal plan`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  kubemedic heal plan --dump examples/dumps/node-notready-xtables
  kubemedic heal plan -A --heal-config heal.yaml --runbooks ./runbooks
  kubemedic heal plan --dump DIR -o json

Exit codes: 0 plan printed, 2 usage or input error.")]
pub struct PlanArgs {
    /// Read an offline dump instead of a live cluster.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// Safety settings (YAML: paused, maxDisrupted, minHealthy, nodeGroupLabel, cooldown,
    /// backoff, storm, excludeLabel, controlPlaneNodes); defaults otherwise.
    #[arg(long, value_name = "FILE")]
    heal_config: Option<PathBuf>,
    #[command(flatten)]
    source: RunbookSourceArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Runs `kubemedic heal`.
pub fn run_heal(args: &HealArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        HealCommand::Crd => {
            write_out(&kubemedic_heal::crd::crd_yaml())?;
            Ok(ExitCode::SUCCESS)
        }
        HealCommand::Plan(p) => run_plan(p),
    }
}

fn run_plan(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let safety = match &args.heal_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            SafetyConfig::parse(&text, &path.display().to_string())?
        }
        None => SafetyConfig::default(),
    };
    let lib = args.source.library()?;
    report_library_errors(&lib);
    let progress = Progress::stderr();
    let loaded = if let Some(dir) = &args.dump {
        progress.set("reading the dump");
        kubemedic_cluster::load_dump(dir)
            .map(|s| (s, format!("dump {}", dir.display())))
            .map_err(anyhow::Error::from)
    } else {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        rt.block_on(args.cluster.load(&progress))
    };
    let (snap, source) = match loaded {
        Ok(v) => v,
        Err(e) => {
            progress.clear();
            return Err(e);
        }
    };
    progress.set("diagnosing");
    let report = kubemedic_diagnose::diagnose(&snap);
    progress.clear();
    let view = ClusterView::from_snapshot(&snap, &report, jiff::Timestamp::now());
    // A one-shot plan has no Remediation history unless it reads the cluster's; a dump has none.
    let plan = kubemedic_heal::plan(Input {
        view: &view,
        library: &lib,
        safety: &safety,
        runs: &[],
        first_seen: &FirstSeen::new(),
        storm: StormState::default(),
    });
    if args.output == OutputFormat::Json {
        let v = serde_json::json!({ "source": source, "plan": plan, "refused": lib.errors });
        write_out(&(serde_json::to_string_pretty(&v)? + "\n"))?;
    } else {
        write_text(&render_plan(&plan, &source))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan for people, 80 columns.
pub fn render_plan(plan: &Plan, source: &str) -> String {
    let mut s = format!("Healing plan for {source}, at {}\n", plan.now);
    let groups: Vec<String> = plan
        .groups
        .iter()
        .map(|g| {
            format!(
                "group {}: {} of {} healthy (min {})",
                g.name, g.healthy, g.nodes, g.min_healthy
            )
        })
        .collect();
    s.push_str(&format!(
        "Safety: {} · disrupted {} of at most {} · {}\n",
        if plan.paused { "PAUSED" } else { "not paused" },
        plan.disrupted,
        nodes(plan.max_disrupted),
        groups.join(" · ")
    ));
    s.push_str(&format!(
        "Storm: {} started matching within the window (threshold {}){}\n",
        nodes(plan.storm.recent),
        plan.storm.threshold,
        if plan.storm.active {
            ": STORM, disruptive healing held"
        } else {
            ""
        }
    ));
    if plan.entries.is_empty() {
        s.push_str("\nNothing to heal: no runbook matches any target.\n");
        return s;
    }
    for e in &plan.entries {
        let decision = match &e.decision {
            Decision::Start { dry_run: true } => {
                "would start (dry-run: the runbook is not enabled)".to_string()
            }
            Decision::Start { dry_run: false } => "starts now".to_string(),
            Decision::Continue { remediation } => format!("in flight ({remediation})"),
            Decision::Stop {
                remediation,
                reason,
            } => format!("stops {remediation}: {reason}"),
            Decision::Wait {
                gate,
                reason,
                until,
            } => {
                let until = until.map(|t| format!(" (until {t})")).unwrap_or_default();
                format!("waits [{}]: {reason}{until}", gate_name(*gate))
            }
            Decision::Skip { gate, reason } => format!("skipped [{}]: {reason}", gate_name(*gate)),
        };
        s.push_str(&format!(
            "\n{} → {}\n  {decision}\n",
            e.runbook, e.matched.target
        ));
        for ev in &e.matched.evidence {
            // One line each: a multi-line condition message must not forge lines of the plan.
            let line: String = kubemedic_term::visible(ev).chars().take(200).collect();
            s.push_str(&format!("  matched: {line}\n"));
        }
        if !e.steps.is_empty() {
            s.push_str("  steps:\n");
            for (i, st) in e.steps.iter().enumerate() {
                s.push_str(&format!("    {}. {st}\n", i + 1));
            }
            if e.escalation {
                s.push_str(&format!("    {}. alert (escalation)\n", e.steps.len() + 1));
            }
        }
    }
    s
}

fn nodes(n: usize) -> String {
    if n == 1 {
        "1 node".to_string()
    } else {
        format!("{n} nodes")
    }
}

fn gate_name(g: kubemedic_heal::Gate) -> &'static str {
    use kubemedic_heal::Gate;
    match g {
        Gate::Excluded => "excluded",
        Gate::ControlPlane => "control plane",
        Gate::Held => "minimum duration",
        Gate::Paused => "paused",
        Gate::Cooldown => "cooldown",
        Gate::MinHealthy => "minHealthy",
        Gate::Storm => "storm",
        Gate::Budget => "budget",
        Gate::NodeBusy => "node busy",
    }
}
