//! Where user rules come from: `--rules DIR` (repeatable, or `KUBEMEDIC_RULES`), else the
//! `rules:` of the config file (`--config FILE`, `KUBEMEDIC_CONFIG`, else
//! `$XDG_CONFIG_HOME/kubemedic/config.yaml` or `~/.config/kubemedic/config.yaml` when present).
//! Every `*.yaml`/`*.yml` file of each directory is read in name order and validated as a whole:
//! one bad file stops the run with every problem listed by file, line and reason.

use anyhow::{Context as _, bail};
use kubemedic_diagnose::rules::RuleSet;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Flags that choose the user rules.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RulesArgs {
    /// A directory of rule files (*.yaml) to add to the built-in rules; repeatable. Default: the
    /// `rules:` of the config file.
    #[arg(
        long = "rules",
        value_name = "DIR",
        env = "KUBEMEDIC_RULES",
        value_delimiter = ':',
        global = true
    )]
    pub dirs: Vec<PathBuf>,
    /// The config file (default: $XDG_CONFIG_HOME/kubemedic/config.yaml or
    /// ~/.config/kubemedic/config.yaml, when present).
    #[arg(long, value_name = "FILE", env = "KUBEMEDIC_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

/// The config file: today only where the user rules live.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Directories of rule files, relative to the config file's directory.
    #[serde(default)]
    rules: RulesDirs,
}

#[derive(Debug, Default)]
struct RulesDirs(Vec<PathBuf>);

impl<'de> Deserialize<'de> for RulesDirs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(PathBuf),
            Many(Vec<PathBuf>),
        }
        Ok(RulesDirs(match OneOrMany::deserialize(d)? {
            OneOrMany::One(p) => vec![p],
            OneOrMany::Many(v) => v,
        }))
    }
}

fn default_config() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    let p = base.join("kubemedic/config.yaml");
    p.is_file().then_some(p)
}

impl RulesArgs {
    /// The rule directories in force and where they were named.
    fn dirs(&self) -> anyhow::Result<(Vec<PathBuf>, String)> {
        if !self.dirs.is_empty() {
            return Ok((self.dirs.clone(), "--rules".to_string()));
        }
        let Some(file) = self.config.clone().or_else(default_config) else {
            return Ok((Vec::new(), String::new()));
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read the config file {}", file.display()))?;
        let cfg: Config = serde_saphyr::from_str(&text).map_err(|e| {
            let at = e
                .location()
                .map_or(String::new(), |l| format!(":{}:{}", l.line(), l.column()));
            let msg = e.to_string();
            let msg = msg.lines().next().unwrap_or("invalid config");
            let msg = msg.strip_prefix("error: ").unwrap_or(msg);
            // The parser repeats the position; it is already in front.
            let msg = match msg.split_once(": ") {
                Some((pos, rest)) if pos.starts_with("line ") => rest,
                _ => msg,
            };
            anyhow::anyhow!("{}{at}: {msg}", file.display())
        })?;
        let base = file.parent().unwrap_or(Path::new("."));
        let dirs = cfg
            .rules
            .0
            .into_iter()
            .map(|d| if d.is_absolute() { d } else { base.join(d) })
            .collect();
        Ok((dirs, format!("rules: in {}", file.display())))
    }

    /// Loads and validates the user rules (empty when none are configured).
    pub fn load(&self) -> anyhow::Result<RuleSet> {
        let (dirs, from) = self.dirs()?;
        let mut set = RuleSet::default();
        let mut problems: Vec<String> = Vec::new();
        for dir in &dirs {
            let entries = std::fs::read_dir(dir).with_context(|| {
                format!("cannot read the rules directory {} ({from})", dir.display())
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            files.sort();
            for f in files {
                let name = f.display().to_string();
                let text = match std::fs::read(&f) {
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Ok(t) => t,
                        Err(e) => {
                            problems.push(format!(
                                "{name}: not UTF-8 text (byte {})",
                                e.utf8_error().valid_up_to()
                            ));
                            continue;
                        }
                    },
                    Err(e) => {
                        problems.push(format!("{name}: cannot read: {e}"));
                        continue;
                    }
                };
                if let Err(errs) = set.add_file(&name, &text) {
                    problems.extend(errs.iter().map(ToString::to_string));
                }
            }
        }
        if !problems.is_empty() {
            bail!(
                "{} in the rules files; fix them or leave out --rules:\n  {}",
                if problems.len() == 1 {
                    "1 problem".to_string()
                } else {
                    format!("{} problems", problems.len())
                },
                problems.join("\n  ")
            );
        }
        Ok(set)
    }
}
