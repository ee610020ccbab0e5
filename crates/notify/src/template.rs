//! Message templates: `{{name}}` placeholders, checked when the config loads.
//!
//! A deliberately small language (no loops or conditionals): the group's lines are already
//! rendered by the sink, the template arranges them. Unknown placeholders are refused at load,
//! so a typo shows up at start-up, not as a blank in a 3 a.m. page.

use crate::alert::{Group, Status};

/// Placeholders a template may use.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("cause", "the cause ID"),
    ("status", "firing, resolved, or firing+resolved"),
    ("severity", "the highest severity in the group"),
    ("count", "how many objects"),
    ("objects", "the objects, comma-separated"),
    ("summary", "the first alert's summary"),
    ("lines", "one line per object: status, object, summary"),
];

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

/// The default chat message.
pub const DEFAULT: &str =
    "[kubemedic {{status}}] {{cause}} ({{severity}}) on {{count}} object(s)\n{{lines}}";

impl Template {
    /// Parses and checks a template.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| {
                format!("unclosed {{{{ at byte {}", text.len() - rest.len() + start)
            })?;
            let name = after[..end].trim();
            if !PLACEHOLDERS.iter().any(|(p, _)| *p == name) {
                let known: Vec<&str> = PLACEHOLDERS.iter().map(|(p, _)| *p).collect();
                return Err(format!(
                    "unknown placeholder {{{{{name}}}}} (known: {})",
                    known.join(", ")
                ));
            }
            parts.push(Part::Field(name.to_string()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// Renders the template for a group.
    pub fn render(&self, g: &Group) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => out.push_str(&field(g, f)),
            }
        }
        out
    }
}

fn field(g: &Group, name: &str) -> String {
    let n = &g.notifications;
    match name {
        "cause" => g.cause.clone(),
        "status" => {
            let firing = n.iter().any(|x| x.status == Status::Firing);
            let resolved = n.iter().any(|x| x.status == Status::Resolved);
            match (firing, resolved) {
                (true, true) => "firing+resolved".into(),
                (false, true) => "resolved".into(),
                _ => "firing".into(),
            }
        }
        "severity" => n
            .iter()
            .map(|x| x.alert.severity)
            .max()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        "count" => n.len().to_string(),
        "objects" => n
            .iter()
            .map(|x| x.alert.key.object.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        "summary" => n
            .first()
            .map(|x| x.alert.summary.clone())
            .unwrap_or_default(),
        "lines" => n
            .iter()
            .map(|x| {
                let mark = match x.status {
                    Status::Firing => "FIRING",
                    Status::Resolved => "RESOLVED",
                };
                format!("- {mark} {}: {}", x.alert.key.object, x.alert.summary)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_placeholders_and_unclosed_braces_are_refused() {
        assert!(Template::parse(DEFAULT).is_ok());
        let e = Template::parse("{{cuase}}").unwrap_err();
        assert!(e.contains("unknown placeholder {{cuase}}"), "{e}");
        let e = Template::parse("x {{cause").unwrap_err();
        assert!(e.contains("unclosed"), "{e}");
    }
}
