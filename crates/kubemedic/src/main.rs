//! The `kubemedic` binary: wires the component crates into subcommands.

mod output;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Version(args) => version::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
