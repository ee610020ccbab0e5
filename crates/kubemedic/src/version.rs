//! `kubemedic version`: what this binary is and which clusters it speaks to.

use crate::output::OutputFormat;
use serde::Serialize;
use std::process::ExitCode;

/// The crate version, shown by `--version` and `kubemedic version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit the binary was built from (`unknown` outside a checkout).
pub const GIT_COMMIT: &str = env!("KUBEMEDIC_GIT_COMMIT");

/// Kubernetes minor versions whose API the client is built against (k8s-openapi's range).
pub const SUPPORTED_KUBERNETES: &[&str] = &["1.33", "1.34", "1.35", "1.36", "1.37"];

/// The Kubernetes release the test suite runs against (see testbed/go/kubernetes/go.mod).
pub const TESTED_KUBERNETES: &str = "1.37.2";

/// Arguments of `kubemedic version`.
#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Serialize)]
struct VersionInfo {
    version: &'static str,
    git_commit: &'static str,
    supported_kubernetes: &'static [&'static str],
    tested_kubernetes: &'static str,
}

/// Prints the version information in the requested format.
pub fn run(args: &VersionArgs) -> anyhow::Result<ExitCode> {
    let info = VersionInfo {
        version: VERSION,
        git_commit: GIT_COMMIT,
        supported_kubernetes: SUPPORTED_KUBERNETES,
        tested_kubernetes: TESTED_KUBERNETES,
    };
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&info)?),
        OutputFormat::Text => {
            println!("kubemedic {}", info.version);
            println!("git commit:           {}", info.git_commit);
            println!(
                "supported Kubernetes: {} .. {}",
                SUPPORTED_KUBERNETES[0],
                SUPPORTED_KUBERNETES[SUPPORTED_KUBERNETES.len() - 1]
            );
            println!(
                "tested against:       Kubernetes {}",
                info.tested_kubernetes
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
