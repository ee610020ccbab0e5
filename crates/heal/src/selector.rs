//! Label selectors written the way kubectl takes them: `k=v,k!=v,k in (a,b),k notin (a),k,!k`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector; all requirements must hold. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    text: String,
    requirements: Vec<Requirement>,
}

/// The selector text cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad label selector {text:?}: {why}")]
pub struct BadSelector {
    /// What was written.
    pub text: String,
    /// What is wrong.
    pub why: String,
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 316
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Splits on commas that are not inside parentheses.
fn split_top(text: &str) -> Result<Vec<&str>, &'static str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced ')'");
                }
            }
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('");
    }
    parts.push(&text[start..]);
    Ok(parts)
}

impl LabelSelector {
    /// Parses kubectl's selector syntax.
    pub fn parse(text: &str) -> Result<Self, BadSelector> {
        let bad = |why: &str| BadSelector {
            text: text.to_string(),
            why: why.to_string(),
        };
        let mut requirements = Vec::new();
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        for part in split_top(text).map_err(bad)? {
            let part = part.trim();
            if part.is_empty() {
                return Err(bad("empty requirement between commas"));
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                Requirement::DoesNotExist(key.trim().to_string())
            } else if let Some((key, rest)) = split_word(part, " notin ") {
                Requirement::NotIn(key, set(&rest).map_err(bad)?)
            } else if let Some((key, rest)) = split_word(part, " in ") {
                Requirement::In(key, set(&rest).map_err(bad)?)
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotIn(k.trim().to_string(), vec![v.trim().to_string()])
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::In(k.trim().to_string(), vec![v.trim().to_string()])
            } else {
                Requirement::Exists(part.to_string())
            };
            let (key, values): (&str, &[String]) = match &req {
                Requirement::In(k, v) | Requirement::NotIn(k, v) => (k, v),
                Requirement::Exists(k) | Requirement::DoesNotExist(k) => (k, &[]),
            };
            if !valid_key(key) {
                return Err(bad(&format!("{key:?} is not a label key")));
            }
            if let Some(v) = values.iter().find(|v| !valid_value(v)) {
                return Err(bad(&format!("{v:?} is not a label value")));
            }
            requirements.push(req);
        }
        Ok(Self {
            text: text.trim().to_string(),
            requirements,
        })
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }

    /// The selector as written (trimmed); what the API's `labelSelector` parameter takes.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the selector has no requirement.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

fn split_word(part: &str, word: &str) -> Option<(String, String)> {
    let (k, rest) = part.split_once(word)?;
    Some((k.trim().to_string(), rest.trim().to_string()))
}

fn set(rest: &str) -> Result<Vec<String>, &'static str> {
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or("a set must be written (a,b,c)")?;
    let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    if values.iter().any(String::is_empty) {
        return Err("empty value in a set");
    }
    Ok(values)
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for LabelSelector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for LabelSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        LabelSelector::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_form_matches_like_kubectl() {
        let l = labels(&[("app", "flannel"), ("tier", "node"), ("zone", "a")]);
        let yes = [
            "",
            "app=flannel",
            "app==flannel",
            "app!=calico",
            "app in (calico-node, flannel)",
            "zone notin (b,c)",
            "tier",
            "!gpu",
            "app=flannel,tier=node,!gpu",
            "missing!=x",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(&l), "{s}");
        }
        let no = [
            "app=calico",
            "app notin (flannel)",
            "gpu",
            "!tier",
            "app in (a,b)",
            "app=flannel,gpu",
        ];
        for s in no {
            assert!(!LabelSelector::parse(s).unwrap().matches(&l), "{s}");
        }
    }

    #[test]
    fn bad_selectors_say_why() {
        let e = LabelSelector::parse("app in (a,b").unwrap_err();
        assert_eq!(e.why, "unbalanced '('");
        let e = LabelSelector::parse("app in a,b").unwrap_err();
        assert_eq!(e.why, "a set must be written (a,b,c)");
        let e = LabelSelector::parse("a=b,,c").unwrap_err();
        assert_eq!(e.why, "empty requirement between commas");
        let e = LabelSelector::parse("app=has space").unwrap_err();
        assert!(e.why.contains("not a label value"), "{}", e.why);
        let e = LabelSelector::parse("bad key!x=1").unwrap_err();
        assert!(e.why.contains("not a label key"), "{}", e.why);
    }
}
