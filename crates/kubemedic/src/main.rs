//! The `kubemedic` binary: wires the component crates into subcommands.

mod agent;
mod agent_remediate;
mod archive_cli;
mod collect;
mod controller;
mod diagnose;
mod explain;
mod heal;
mod output;
mod probes;
mod render;
mod rules;
mod version;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Detect, diagnose and heal Kubernetes failures.
#[derive(Debug, Parser)]
#[command(name = "kubemedic", version = version::VERSION, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version, the git commit and the supported Kubernetes versions.
    Version(version::VersionArgs),
    /// Name the root cause of what is broken (live cluster or --dump DIR), with evidence and fixes.
    Diagnose(diagnose::DiagnoseArgs),
    /// Explain a container exit code or a cause ID.
    Explain(explain::ExplainArgs),
    /// Write a dump of a live cluster (kubectl cluster-info dump layout + previous logs + node facts).
    Collect(collect::CollectArgs),
    /// Run the node agent: watch kernel log, journal, files, plugins and /proc; report NodeConditions, Events and metrics (node-problem-detector compatible).
    Agent(Box<agent::AgentArgs>),
    /// Run the controller: watch the cluster, archive every Event and container crash (with its
    /// previous logs), export them, and serve the archive over HTTP (Deployment, Lease-elected leader).
    Controller(Box<controller::ControllerArgs>),
    /// The archived event timeline (events past the apiserver's 1 h TTL, every repeat).
    Events(Box<archive_cli::EventsArgs>),
    /// Archived container crashes: exit code meaning and the captured previous logs.
    Crashes(Box<archive_cli::CrashesArgs>),
    /// List, show and validate healing runbooks (embedded defaults plus --runbooks DIR).
    Runbooks(heal::RunbooksArgs),
    /// Self-healing: `heal plan` prints what would happen now and why; `heal crd` the CRD.
    Heal(heal::HealArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Version(args) => version::run(&args),
        Command::Diagnose(args) => diagnose::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Collect(args) => collect::run(&args),
        Command::Agent(args) => agent::run(&args),
        Command::Controller(args) => controller::run_controller(&args),
        Command::Events(args) => archive_cli::run_events(&args),
        Command::Crashes(args) => archive_cli::run_crashes(&args),
        Command::Runbooks(args) => heal::run_runbooks(&args),
        Command::Heal(args) => heal::run_heal(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // Errors quote file names and contents of a dump, and server replies.
            eprintln!(
                "error: {}",
                kubemedic_term::visible_lines(&format!("{err:#}"))
            );
            ExitCode::from(2)
        }
    }
}
