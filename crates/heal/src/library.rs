//! The runbook library: the embedded defaults, then the user's files (a directory or the keys of
//! a ConfigMap) that add runbooks, replace a default of the same name, or override its mode.
//!
//! A file that does not validate is refused with its errors and everything else keeps working:
//! one typo must not switch healing off for every other problem.

use crate::runbook::{self, Mode, Override, Runbook, RunbookDoc, RunbookError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The default runbooks compiled into the binary: (file name, YAML).
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "cni-failure.yaml",
        include_str!("../runbooks/cni-failure.yaml"),
    ),
    (
        "runtime-unresponsive.yaml",
        include_str!("../runbooks/runtime-unresponsive.yaml"),
    ),
    (
        "node-disk-full.yaml",
        include_str!("../runbooks/node-disk-full.yaml"),
    ),
    (
        "kernel-deadlock.yaml",
        include_str!("../runbooks/kernel-deadlock.yaml"),
    ),
    (
        "node-not-ready.yaml",
        include_str!("../runbooks/node-not-ready.yaml"),
    ),
    (
        "pod-crashloop.yaml",
        include_str!("../runbooks/pod-crashloop.yaml"),
    ),
    (
        "iptables-lock.yaml",
        include_str!("../runbooks/iptables-lock.yaml"),
    ),
];

/// Where a runbook came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// `embedded:<file>`, a file path, or `configmap <ns>/<name> key <key>`.
    pub source: String,
    /// The text as read (for `runbooks show`).
    #[serde(skip)]
    pub text: String,
    /// Overrides applied on top, by origin.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overridden_by: Vec<String>,
}

/// A runbook with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The runbook (after overrides).
    pub runbook: Runbook,
    /// Its origin.
    pub origin: Origin,
}

/// One user input: its origin name and text.
#[derive(Debug, Clone)]
pub struct Source {
    /// How errors name it.
    pub origin: String,
    /// The YAML.
    pub text: String,
}

/// The loaded library.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Library {
    /// Runbooks by name, disabled ones included (they are listed, never matched).
    pub runbooks: BTreeMap<String, Entry>,
    /// Files refused, with every problem found in them.
    pub errors: Vec<RunbookError>,
}

/// A directory could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read runbook directory {dir}: {source}")]
pub struct DirError {
    /// The directory.
    pub dir: String,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

impl Library {
    /// The embedded defaults only.
    pub fn embedded() -> Library {
        Library::load(&[])
    }

    /// The defaults, then each user source in order.
    pub fn load(user: &[Source]) -> Library {
        let mut lib = Library::default();
        for (file, text) in EMBEDDED {
            lib.add(&Source {
                origin: format!("embedded:{file}"),
                text: (*text).to_string(),
            });
        }
        for src in user {
            lib.add(src);
        }
        lib
    }

    /// Reads every `*.yaml`/`*.yml` file of a directory (sorted by name) as user sources.
    pub fn read_dir(dir: &Path) -> Result<Vec<Source>, DirError> {
        let err = |source| DirError {
            dir: dir.display().to_string(),
            source,
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(err)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        paths.sort();
        let mut out = Vec::new();
        for p in paths {
            let origin = p.display().to_string();
            match std::fs::read(&p) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => out.push(Source { origin, text }),
                    Err(e) => out.push(Source {
                        origin,
                        // Parsing this reports the problem with the file named.
                        text: format!(
                            "invalid-utf8: \"not UTF-8 at byte {}\"",
                            e.utf8_error().valid_up_to()
                        ),
                    }),
                },
                Err(e) => return Err(err(e)),
            }
        }
        Ok(out)
    }

    /// The keys of a ConfigMap's `data` ending in `.yaml`/`.yml`, as user sources.
    pub fn configmap_sources(
        namespace: &str,
        name: &str,
        data: &BTreeMap<String, String>,
    ) -> Vec<Source> {
        data.iter()
            .filter(|(k, _)| k.ends_with(".yaml") || k.ends_with(".yml"))
            .map(|(k, v)| Source {
                origin: format!("configmap {namespace}/{name} key {k}"),
                text: v.clone(),
            })
            .collect()
    }

    fn add(&mut self, src: &Source) {
        if src.text.starts_with("invalid-utf8: ") {
            self.errors.push(RunbookError {
                origin: src.origin.clone(),
                line: None,
                path: String::new(),
                reason: "the file is not valid UTF-8".into(),
            });
            return;
        }
        match runbook::parse(&src.text, &src.origin) {
            Err(errs) => self.errors.extend(errs),
            Ok(RunbookDoc::Runbook(rb)) => {
                let origin = Origin {
                    source: src.origin.clone(),
                    text: src.text.clone(),
                    overridden_by: Vec::new(),
                };
                self.runbooks.insert(
                    rb.name.clone(),
                    Entry {
                        runbook: *rb,
                        origin,
                    },
                );
            }
            Ok(RunbookDoc::Override(o)) => self.apply_override(&o, &src.origin),
        }
    }

    fn apply_override(&mut self, o: &Override, origin: &str) {
        let err = |path: &str, reason: String| RunbookError {
            origin: origin.to_string(),
            line: None,
            path: path.to_string(),
            reason,
        };
        let Some(entry) = self.runbooks.get(&o.name) else {
            let known: Vec<&str> = self.runbooks.keys().map(String::as_str).collect();
            self.errors.push(err(
                "name",
                format!(
                    "overrides unknown runbook {:?} (known: {}); a new runbook needs match and steps",
                    o.name,
                    known.join(", ")
                ),
            ));
            return;
        };
        let mut rb = entry.runbook.clone();
        let mut problems = Vec::new();
        for (list, enabled, field) in [
            (&o.enable_steps, true, "enableSteps"),
            (&o.disable_steps, false, "disableSteps"),
        ] {
            for name in list {
                match rb.steps.iter_mut().find(|s| &s.name == name) {
                    Some(s) => s.enabled = enabled,
                    None => {
                        let steps: Vec<&str> = entry
                            .runbook
                            .steps
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect();
                        problems.push(err(
                            field,
                            format!(
                                "runbook {} has no step {name:?} (steps: {})",
                                o.name,
                                steps.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            self.errors.extend(problems);
            return;
        }
        if let Some(m) = o.mode {
            rb.mode = m;
        }
        if o.cooldown.is_some() {
            rb.cooldown = o.cooldown;
        }
        let mut origin_info = entry.origin.clone();
        origin_info.overridden_by.push(origin.to_string());
        self.runbooks.insert(
            o.name.clone(),
            Entry {
                runbook: rb,
                origin: origin_info,
            },
        );
    }

    /// Runbooks that take part in matching (not disabled), by name.
    pub fn active(&self) -> impl Iterator<Item = &Runbook> {
        self.runbooks
            .values()
            .map(|e| &e.runbook)
            .filter(|r| r.mode != Mode::Disabled)
    }

    /// Looks a runbook up by name.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.runbooks.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_runbook_validates() {
        let lib = Library::embedded();
        assert!(lib.errors.is_empty(), "{:#?}", lib.errors);
        assert_eq!(lib.runbooks.len(), EMBEDDED.len());
        for e in lib.runbooks.values() {
            assert!(
                !e.runbook.source.is_empty(),
                "{} cites no source",
                e.runbook.name
            );
            assert!(!e.runbook.description.is_empty());
            // Defaults that change anything are dry-run until a person enables them.
            if e.runbook.disruptive() {
                assert_eq!(e.runbook.mode, Mode::DryRun, "{}", e.runbook.name);
            }
        }
    }

    #[test]
    fn user_files_replace_override_or_are_refused_alone() {
        let user = vec![
            Source {
                origin: "u/enable.yaml".into(),
                text: "name: cni-failure\nmode: enabled\n".into(),
            },
            Source {
                origin: "u/off.yaml".into(),
                text: "name: node-disk-full\nmode: disabled\n".into(),
            },
            Source {
                origin: "u/reboot.yaml".into(),
                text: "name: kernel-deadlock\nenableSteps: [reboot]\n".into(),
            },
            Source {
                origin: "u/broken.yaml".into(),
                text: "name: mine\nmatch: {causes: [NoSuchCause]}\nsteps: [{action: cordon}]\n"
                    .into(),
            },
            Source {
                origin: "u/typo.yaml".into(),
                text: "name: kernel-deadlock\nenableSteps: [rebot]\n".into(),
            },
            Source {
                origin: "u/ghost.yaml".into(),
                text: "name: nothing-here\nmode: enabled\n".into(),
            },
        ];
        let lib = Library::load(&user);
        assert_eq!(lib.get("cni-failure").unwrap().runbook.mode, Mode::Enabled);
        assert_eq!(
            lib.get("cni-failure").unwrap().origin.overridden_by,
            vec!["u/enable.yaml"]
        );
        assert!(lib.active().all(|r| r.name != "node-disk-full"));
        let kd = &lib.get("kernel-deadlock").unwrap().runbook;
        assert!(
            kd.steps
                .iter()
                .find(|s| s.name == "reboot")
                .unwrap()
                .enabled
        );
        assert_eq!(lib.errors.len(), 3, "{:#?}", lib.errors);
        assert!(
            lib.errors[0]
                .to_string()
                .starts_with("u/broken.yaml:2: match.causes[0]: unknown cause")
        );
        assert!(lib.errors[1].reason.contains("has no step \"rebot\""));
        assert!(lib.errors[2].reason.contains("overrides unknown runbook"));
        // The refused files changed nothing else.
        assert_eq!(lib.runbooks.len(), EMBEDDED.len());
    }

    #[test]
    fn directories_are_read_in_name_order_with_bad_bytes_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("b.yaml"),
            "name: cni-failure\nmode: disabled\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("a.yml"),
            "name: cni-failure\nmode: enabled\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("c.yaml"), b"name: \xff\xfe\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let srcs = Library::read_dir(dir.path()).unwrap();
        assert_eq!(srcs.len(), 3);
        let lib = Library::load(&srcs);
        assert_eq!(lib.get("cni-failure").unwrap().runbook.mode, Mode::Disabled);
        assert_eq!(lib.errors.len(), 1);
        assert!(lib.errors[0].origin.ends_with("c.yaml"));
        assert!(Library::read_dir(&dir.path().join("missing")).is_err());
    }
}
