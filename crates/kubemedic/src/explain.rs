//! `kubemedic explain exit-code N` and `kubemedic explain cause ID`: the knowledge behind a
//! container exit code or a cause from the catalog.

use kubemedic_diagnose::catalog::{self, CauseInfo, ExitCodeInfo};
use kubemedic_diagnose::rules::{self, RuleSet, UserCause};
// The catalog is ours, but explain output goes through the same filter as every human output.
use kubemedic_term::{visible, visible_lines};
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
    #[command(flatten)]
    rules: crate::rules::RulesArgs,
}

#[derive(Debug, clap::Subcommand)]
enum ExplainWhat {
    /// What a container exit code means (signals 128+n, Go's 2, 126/127, sysexits 64-78, ...).
    #[command(name = "exit-code", allow_negative_numbers = true)]
    ExitCode {
        /// The exit code as `kubectl describe pod` shows it.
        code: i64,
    },
    /// What a cause from the catalog (or from your rules) means, its signals and its fix;
    /// without ID, list them all.
    Cause {
        /// Cause ID, e.g. OOMKilled, IptablesLockContention (case-insensitive).
        id: Option<String>,
    },
    /// The message rules that recognise causes, in the rules-file format: yours (--rules) first,
    /// then the built-in ones. Copy one into a rules file to start your own.
    Rules {
        /// Only the rules for this cause.
        #[arg(long, value_name = "ID")]
        cause: Option<String>,
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
                ExplainFormat::Text => print!("{}", visible_lines(&exit_text(&info))),
            }
            Ok(ExitCode::SUCCESS)
        }
        ExplainWhat::Rules { cause } => {
            let user = args.rules.load()?;
            let mut builtin = rules::builtin_rules();
            let mut user = user;
            if let Some(c) = cause {
                let known = catalog::cause(c)
                    .map(|i| i.id.as_str().to_string())
                    .or_else(|| user.cause(c).map(|u| u.id.as_str().to_string()));
                let Some(id) = known else {
                    eprintln!("error: unknown cause {c:?} (kubemedic explain cause lists them)");
                    return Ok(ExitCode::from(2));
                };
                builtin.retain(|r| r.cause.as_str() == id);
                user.rules.retain(|r| r.cause.as_str() == id);
                user.causes.retain(|u| u.id.as_str() == id);
            }
            match args.output {
                ExplainFormat::Json => {
                    let v = json!({
                        "causes": user.causes.iter().map(user_cause_json).collect::<Vec<_>>(),
                        "rules": user.rules.iter().map(|r| json!({
                            "id": r.id, "origin": r.origin,
                            "match": {"field": r.fields.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
                                      "regex": r.regex.as_str(), "reason": r.reason, "source": r.source, "container": r.container},
                            "cause": r.cause.as_str(), "severity": r.severity, "confidence": r.confidence,
                            "summary": r.summary, "fix": r.fix,
                        })).chain(builtin.iter().map(|r| json!({
                            "id": r.id,
                            "match": {"field": r.fields.iter().map(|f| f.as_str()).collect::<Vec<_>>(), "regex": r.regex},
                            "cause": r.cause.as_str(), "confidence": r.confidence, "note": r.note,
                        }))).collect::<Vec<_>>(),
                    });
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                ExplainFormat::Text => {
                    println!(
                        "# kubemedic message rules, in the rules-file format (kubemedic diagnose --rules DIR)."
                    );
                    println!(
                        "# Fields: event.reason event.message container.waiting container.terminated container.log node.log"
                    );
                    print!("{}", rules::to_yaml(&builtin, &user));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ExplainWhat::Cause { id: None } => {
            let user = args.rules.load()?;
            match args.output {
                ExplainFormat::Json => {
                    let mut all: Vec<_> = catalog::all().iter().map(cause_json).collect();
                    all.extend(user.causes.iter().map(user_cause_json));
                    println!("{}", serde_json::to_string_pretty(&all)?);
                }
                ExplainFormat::Text => {
                    let width = catalog::all()
                        .iter()
                        .map(|c| c.id.as_str().len())
                        .chain(user.causes.iter().map(|c| c.id.as_str().len()))
                        .max()
                        .unwrap_or(0);
                    for c in catalog::all() {
                        println!("{:<width$}  {}", c.id.as_str(), visible(c.title));
                    }
                    for c in &user.causes {
                        println!(
                            "{:<width$}  {} (yours: {})",
                            visible(c.id.as_str()),
                            visible(&c.title),
                            visible(&c.origin.to_string())
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ExplainWhat::Cause { id: Some(id) }
            if catalog::cause(id).is_none() && args.rules.load()?.cause(id).is_some() =>
        {
            let user = args.rules.load()?;
            let Some(c) = user.cause(id) else {
                return Ok(ExitCode::from(2));
            };
            match args.output {
                ExplainFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&user_cause_json(c))?)
                }
                ExplainFormat::Text => print!("{}", visible_lines(&user_cause_text(c, &user))),
            }
            Ok(ExitCode::SUCCESS)
        }
        ExplainWhat::Cause { id: Some(id) } => match catalog::cause(id) {
            Some(info) => {
                match args.output {
                    ExplainFormat::Json => {
                        println!("{}", serde_json::to_string_pretty(&cause_json(info))?)
                    }
                    ExplainFormat::Text => print!("{}", visible_lines(&cause_text(info))),
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

fn user_cause_json(c: &UserCause) -> serde_json::Value {
    json!({
        "cause": c.id.as_str(),
        "title": c.title,
        "meaning": c.meaning,
        "fix": c.fix,
        "source": c.origin,
        "user": true,
    })
}

fn user_cause_text(c: &UserCause, set: &RuleSet) -> String {
    let mut s = format!("{}: {} (a cause of yours)\n\n", c.id.as_str(), c.title);
    for l in crate::render::wrap(&c.meaning, 96) {
        s.push_str(&l);
        s.push('\n');
    }
    let rules: Vec<_> = set.rules.iter().filter(|r| r.cause == c.id).collect();
    if !rules.is_empty() {
        s.push_str("\nRecognised from (your rules):\n");
        for r in rules {
            let fields: Vec<&str> = r.fields.iter().map(|f| f.as_str()).collect();
            s.push_str(&format!(
                "  - {} /{}/  ({}, {})\n",
                fields.join(","),
                r.regex.as_str(),
                r.id,
                r.origin
            ));
        }
    }
    if !c.fix.is_empty() {
        s.push_str("\nFix:\n");
        for f in &c.fix {
            s.push_str(&format!("  - {f}\n"));
        }
    }
    s.push_str(&format!("\nDeclared in: {}\n", c.origin));
    s
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
    s.push_str(&format!("\nBased on: {}\n", info.source));
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
