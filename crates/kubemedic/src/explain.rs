//! `kubemedic explain exit-code N` and `kubemedic explain cause ID`: the knowledge behind a
//! container exit code or a cause from the catalog.

use kubemedic_diagnose::catalog::{self, CauseInfo, ExitCodeInfo};
use serde_json::json;
use std::process::ExitCode;

/// Output of `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ExplainFormat {
    /// Human text.
    #[default]
    Text,
    /// JSON.
    Json,
}

/// Arguments of `kubemedic explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    #[command(subcommand)]
    what: ExplainWhat,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t, global = true)]
    output: ExplainFormat,
}

#[derive(Debug, clap::Subcommand)]
enum ExplainWhat {
    /// What a container exit code means (signals 128+n, Go's 2, 126/127, sysexits 64-78, ...).
    #[command(name = "exit-code", allow_negative_numbers = true)]
    ExitCode {
        /// The exit code as `kubectl describe pod` shows it.
        code: i64,
    },
    /// What a cause from the catalog means, its signals and its fix; without ID, list them all.
    Cause {
        /// Cause ID, e.g. OOMKilled, IptablesLockContention (case-insensitive).
        id: Option<String>,
    },
}

/// Runs `kubemedic explain`.
pub fn run(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        ExplainWhat::ExitCode { code } => {
            let info = catalog::exit_code(*code);
            match args.output {
                ExplainFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&exit_json(&info))?)
                }
                ExplainFormat::Text => print!("{}", exit_text(&info)),
            }
            Ok(ExitCode::SUCCESS)
        }
        ExplainWhat::Cause { id: None } => {
            match args.output {
                ExplainFormat::Json => {
                    let all: Vec<_> = catalog::all().iter().map(cause_json).collect();
                    println!("{}", serde_json::to_string_pretty(&all)?);
                }
                ExplainFormat::Text => {
                    let width = catalog::all()
                        .iter()
                        .map(|c| c.id.as_str().len())
                        .max()
                        .unwrap_or(0);
                    for c in catalog::all() {
                        println!("{:<width$}  {}", c.id.as_str(), c.title);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ExplainWhat::Cause { id: Some(id) } => match catalog::cause(id) {
            Some(info) => {
                match args.output {
                    ExplainFormat::Json => {
                        println!("{}", serde_json::to_string_pretty(&cause_json(info))?)
                    }
                    ExplainFormat::Text => print!("{}", cause_text(info)),
                }
                Ok(ExitCode::SUCCESS)
            }
            None => {
                let ids: Vec<&str> = catalog::all().iter().map(|c| c.id.as_str()).collect();
                let close = closest(id, &ids);
                match args.output {
                    ExplainFormat::Json => println!(
                        "{}",
                        serde_json::to_string_pretty(&json!({
                            "error": format!("unknown cause {id:?}"),
                            "didYouMean": close,
                            "validCauses": ids,
                        }))?
                    ),
                    ExplainFormat::Text => {
                        eprintln!("error: unknown cause {id:?}");
                        if let Some(c) = close {
                            eprintln!("did you mean {c}?");
                        }
                        eprintln!("valid causes: {}", ids.join(", "));
                    }
                }
                Ok(ExitCode::from(2))
            }
        },
    }
}

fn exit_json(info: &ExitCodeInfo) -> serde_json::Value {
    json!({
        "code": info.code,
        "effective": info.effective,
        "title": info.title,
        "meaning": info.meaning,
        "signal": info.signal.map(|s| json!({"number": s.number, "name": s.name, "meaning": s.meaning})),
        "likelyCauses": info.likely_causes.iter().map(|c| json!({
            "cause": c.as_str(),
            "title": catalog::info(*c).map(|i| i.title),
        })).collect::<Vec<_>>(),
    })
}

fn exit_text(info: &ExitCodeInfo) -> String {
    let mut s = format!("Exit code {}: {}\n", info.code, info.title);
    if i64::from(info.effective) != info.code {
        s.push_str(&format!(
            "Reported by the container as {}.\n",
            info.effective
        ));
    }
    s.push('\n');
    for l in crate::render::wrap(&info.meaning, 96) {
        s.push_str(&l);
        s.push('\n');
    }
    if let Some(sig) = info.signal {
        s.push_str(&format!(
            "\nSignal {} ({}): {}\n",
            sig.number, sig.name, sig.meaning
        ));
    }
    if !info.likely_causes.is_empty() {
        s.push_str("\nLikely causes (most likely first):\n");
        for c in &info.likely_causes {
            let title = catalog::info(*c).map(|i| i.title).unwrap_or("");
            s.push_str(&format!("  {:<24} {title}\n", c.as_str()));
        }
        s.push_str("\nMore: kubemedic explain cause <ID>\n");
    }
    s
}

fn cause_json(info: &CauseInfo) -> serde_json::Value {
    json!({
        "cause": info.id.as_str(),
        "title": info.title,
        "meaning": info.meaning,
        "signals": info.signals,
        "fix": info.fix,
        "source": info.source,
    })
}

fn cause_text(info: &CauseInfo) -> String {
    let mut s = format!("{}: {}\n\n", info.id.as_str(), info.title);
    for l in crate::render::wrap(info.meaning, 96) {
        s.push_str(&l);
        s.push('\n');
    }
    if !info.signals.is_empty() {
        s.push_str("\nRecognised from:\n");
        for sig in info.signals {
            s.push_str(&format!("  - {sig}\n"));
        }
    }
    if !info.fix.is_empty() {
        s.push_str("\nFix:\n");
        for f in info.fix {
            s.push_str(&format!("  - {f}\n"));
        }
    }
    s.push_str(&format!("\nSource: {}\n", info.source));
    s
}

/// The valid ID closest to `input` by edit distance (case-insensitive), if reasonably close.
fn closest<'a>(input: &str, ids: &[&'a str]) -> Option<&'a str> {
    let lower = input.to_ascii_lowercase();
    ids.iter()
        .map(|id| (levenshtein(&lower, &id.to_ascii_lowercase()), *id))
        .filter(|(d, id)| *d <= (id.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, id)| id)
        .or_else(|| {
            ids.iter()
                .find(|id| id.to_ascii_lowercase().contains(&lower) && lower.len() >= 3)
                .copied()
        })
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_matches() {
        let ids = ["OOMKilled", "NodeOOM", "IptablesLockContention"];
        assert_eq!(closest("OOMKiled", &ids), Some("OOMKilled"));
        assert_eq!(
            closest("iptableslock", &ids),
            Some("IptablesLockContention")
        );
        assert_eq!(closest("zzzzzzzz", &ids), None);
    }
}
