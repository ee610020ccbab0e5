//! `testbed up|down|serve`: the persistent local cluster behind `testbed/up` and
//! `testbed/down` (see `kubemedic_testbed::persistent`).
//!
//! ```text
//! testbed up [--nodes N] [--real-node | --real-nodes N] [--state-dir DIR]
//!                                             start in the background, print `export KUBECONFIG=...`
//! testbed down [--state-dir DIR]             stop it, leaving no process behind
//! testbed serve --nodes N --real-nodes N --state-dir DIR
//!                                             (internal) hold the cluster in the foreground
//! ```

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use kubemedic_testbed::persistent;

struct Args {
    command: String,
    nodes: usize,
    real_nodes: usize,
    state_dir: PathBuf,
}

fn parse() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let mut parsed = Args {
        command,
        nodes: 3,
        real_nodes: 0,
        state_dir: persistent::default_state_dir(),
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--nodes" => {
                let v = value()?;
                parsed.nodes = v
                    .parse()
                    .with_context(|| format!("--nodes: {v:?} is not a number"))?;
            }
            "--real-node" => parsed.real_nodes = 1,
            "--real-nodes" => {
                let v = value()?;
                parsed.real_nodes = v
                    .parse()
                    .with_context(|| format!("--real-nodes: {v:?} is not a number"))?;
            }
            "--state-dir" => parsed.state_dir = PathBuf::from(value()?),
            other => bail!("unknown argument {other:?}"),
        }
    }
    Ok(parsed)
}

async fn run() -> anyhow::Result<()> {
    let args = parse()?;
    match args.command.as_str() {
        "up" => {
            let mut serve = Command::new(std::env::current_exe()?);
            serve
                .arg("serve")
                .arg("--nodes")
                .arg(args.nodes.to_string())
                .arg("--real-nodes")
                .arg(args.real_nodes.to_string())
                .arg("--state-dir")
                .arg(&args.state_dir);
            eprintln!(
                "testbed: starting etcd, kube-apiserver, controller-manager, scheduler, kwok with {} nodes and {} real nodes (state in {})",
                args.nodes,
                args.real_nodes,
                args.state_dir.display()
            );
            let kubeconfig = persistent::up(&args.state_dir, serve).await?;
            eprintln!("testbed: ready; stop it with testbed/down");
            println!("export KUBECONFIG={}", kubeconfig.display());
        }
        "down" => {
            if persistent::down(&args.state_dir).await? {
                eprintln!("testbed: stopped");
            } else {
                eprintln!("testbed: was not running");
            }
        }
        "serve" => persistent::serve(&args.state_dir, args.nodes, args.real_nodes).await?,
        other => bail!(
            "unknown command {other:?}; usage: testbed up [--nodes N] [--real-node | --real-nodes N] [--state-dir DIR] | down [--state-dir DIR]"
        ),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("testbed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
