//! Human renderings of a diagnosis report: terminal text (grouped by severity, wrapped to the
//! terminal, colours only on a TTY) and Markdown (for tickets and chat).
//!
//! Every string of a report may come from the cluster (names, event messages, log lines, file
//! names of a dump): each goes through [`kubemedic_term::visible`] before it is printed, so no
//! escape sequence, carriage return or bidi override in it acts on the reader's terminal.

use kubemedic_diagnose::incident::INCIDENT_KIND;
use kubemedic_diagnose::{Finding, Report, Severity};
use kubemedic_term::visible;
use std::fmt::Write as _;
use std::io::IsTerminal;

/// How text output is styled.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle {
    /// Whether ANSI colours are used.
    pub color: bool,
    /// Columns available.
    pub width: usize,
}

impl TextStyle {
    /// Colours when stdout is a terminal and `NO_COLOR` is unset; width from the terminal,
    /// `COLUMNS`, or 100.
    pub fn for_stdout() -> Self {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let width = terminal_width()
            .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()))
            .unwrap_or(100)
            .clamp(40, 200);
        Self {
            color: tty && !no_color,
            width,
        }
    }
}

fn terminal_width() -> Option<usize> {
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    rustix::termios::tcgetwinsize(&stdout)
        .ok()
        .map(|w| w.ws_col as usize)
        .filter(|w| *w > 0)
}

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn severity(&self, sev: Severity, s: &str) -> String {
        match sev {
            Severity::Critical => self.wrap("1;31", s),
            Severity::Warning => self.wrap("1;33", s),
            Severity::Info => self.wrap("1;36", s),
        }
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

/// Breaks `text` into lines of at most `width` characters at spaces (long words are cut).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(10);
    let mut out = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        let mut len = 0usize;
        for word in para.split(' ') {
            let wlen = word.chars().count();
            if len > 0 && len + 1 + wlen > width {
                out.push(std::mem::take(&mut line));
                len = 0;
            }
            if wlen > width {
                // A word longer than the line (a path, a digest): hard-cut it.
                let chars: Vec<char> = word.chars().collect();
                for chunk in chars.chunks(width) {
                    if len > 0 {
                        out.push(std::mem::take(&mut line));
                    }
                    line = chunk.iter().collect();
                    len = chunk.len();
                }
                continue;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            line.push_str(word);
            len += wlen;
        }
        out.push(line);
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// Wraps to at most `max_lines`, keeping the start and the end of a long quote (the telling
/// part of a log line is often at its end) with `…` in between.
fn wrap_quote(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let lines = wrap(text, width);
    if lines.len() <= max_lines || max_lines < 3 {
        return wrap_limited(text, width, max_lines);
    }
    // The first line says when and who; the end of a log line says why. The tail is wrapped two
    // columns narrower so its `… ` mark fits.
    let mut out: Vec<String> = vec![lines[0].clone()];
    let narrow = wrap(text, width.saturating_sub(2));
    let tail = max_lines - 1;
    for (i, l) in narrow[narrow.len().saturating_sub(tail)..]
        .iter()
        .enumerate()
    {
        out.push(if i == 0 {
            format!("… {l}")
        } else {
            format!("  {l}")
        });
    }
    out
}

/// Wraps to at most `max_lines`, marking the cut with `…`.
fn wrap_limited(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines = wrap(text, width);
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let keep = width.saturating_sub(1);
            if last.chars().count() > keep {
                *last = last.chars().take(keep).collect();
            }
            last.push('…');
        }
    }
    lines
}

/// Above this many info findings, the human outputs give one line per cause instead of each
/// finding: at scale (150,000 pods) old restarts alone are thousands of notes.
const INFO_DETAIL_MAX: usize = 20;

/// One line per cause of `group`, most frequent first: the count, the objects (a few named) and
/// the summary of the first one.
fn info_per_cause(group: &[&Finding]) -> Vec<String> {
    let mut per_cause: Vec<(String, Vec<&Finding>)> = Vec::new();
    for f in group {
        let cause = f.cause.to_string();
        match per_cause.iter_mut().find(|(c, _)| *c == cause) {
            Some((_, list)) => list.push(f),
            None => per_cause.push((cause, vec![f])),
        }
    }
    per_cause.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    per_cause
        .into_iter()
        .map(|(cause, list)| {
            const NAMED: usize = 3;
            let names: Vec<String> = list
                .iter()
                .take(NAMED)
                .map(|f| f.object.to_string())
                .collect();
            let more = list.len().saturating_sub(NAMED);
            format!(
                "{cause}: {} finding{} ({}{}); e.g. {}",
                list.len(),
                if list.len() == 1 { "" } else { "s" },
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
                list[0].summary
            )
        })
        .collect()
}

/// The findings grouped by severity, most severe first, empty groups left out.
fn by_severity(report: &Report) -> impl Iterator<Item = (Severity, Vec<&Finding>)> {
    [Severity::Critical, Severity::Warning, Severity::Info]
        .into_iter()
        .map(|sev| {
            let group: Vec<&Finding> = report
                .findings
                .iter()
                .filter(|f| f.severity == sev)
                .collect();
            (sev, group)
        })
        .filter(|(_, group)| !group.is_empty())
}

fn heading(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "CRITICAL",
        Severity::Warning => "WARNING",
        Severity::Info => "INFO",
    }
}

/// Context printed in the header: where the snapshot came from and when.
#[derive(Debug, Clone, Default)]
pub struct ReportContext {
    /// `dump DIR` or `cluster CONTEXT`.
    pub source: String,
    /// Snapshot time, RFC 3339.
    pub taken_at: Option<String>,
}

/// Renders the report for a terminal.
pub fn text(report: &Report, ctx: &ReportContext, style: TextStyle) -> String {
    let p = Paint { on: style.color };
    let w = style.width;
    let mut out = String::new();
    let s = &report.summary;
    let counts = format!(
        "{} critical, {} warning, {} info",
        s.critical, s.warning, s.info
    );
    let scope = format!(
        "({} nodes, {} pods, {} services)",
        s.nodes, s.pods, s.services
    );
    let head = "kubemedic diagnose:";
    // One line when it fits the terminal, else the scope goes on the next line.
    let sep = if head.len() + counts.len() + scope.len() + 2 > w {
        "\n"
    } else {
        " "
    };
    let _ = writeln!(out, "{} {counts}{sep}{scope}", p.bold(head));
    let from = format!(
        "from {}{}",
        visible(&ctx.source),
        ctx.taken_at
            .as_deref()
            .map(|t| format!(", snapshot at {t}"))
            .unwrap_or_default()
    );
    for l in wrap(&from, w) {
        let _ = writeln!(out, "{}", p.dim(&l));
    }
    if report.findings.is_empty() {
        let _ = writeln!(out, "\nNo problems found.");
    }
    // Incidents first, each with its member findings folded into one line (-o json has them).
    let incidents: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.object.kind == INCIDENT_KIND)
        .collect();
    if !incidents.is_empty() {
        let _ = writeln!(
            out,
            "\n{} ({})",
            p.severity(
                incidents
                    .iter()
                    .map(|f| f.severity)
                    .max()
                    .unwrap_or(Severity::Warning),
                "INCIDENTS"
            ),
            incidents.len()
        );
        for f in &incidents {
            finding_text(&mut out, f, &p, w);
            let members: Vec<&Finding> = report
                .findings
                .iter()
                .filter(|m| m.incident.as_ref() == Some(&f.object))
                .collect();
            let nodes = members.iter().filter(|m| m.object.kind == "Node").count();
            let other = members.len() - nodes;
            let plural = |n: usize, one: &str, many: &str| {
                format!("{n} {}", if n == 1 { one } else { many })
            };
            let line = format!(
                "under this incident: {}{}; kubemedic diagnose node/NAME or -o json for each",
                plural(nodes, "node finding", "node findings"),
                if other > 0 {
                    format!(
                        " and {} on those nodes",
                        plural(
                            other,
                            "pod or workload finding",
                            "pod and workload findings"
                        )
                    )
                } else {
                    String::new()
                }
            );
            for l in wrap(&line, w - 4) {
                let _ = writeln!(out, "    {}", p.dim(&l));
            }
        }
    }
    let rest = Report {
        findings: report
            .findings
            .iter()
            .filter(|f| f.object.kind != INCIDENT_KIND && f.incident.is_none())
            .cloned()
            .collect(),
        summary: report.summary.clone(),
    };
    for (sev, group) in by_severity(&rest) {
        if sev == Severity::Info && group.len() > INFO_DETAIL_MAX {
            let _ = writeln!(
                out,
                "\n{} ({}; one line per cause, each finding in --output json)",
                p.severity(sev, heading(sev)),
                group.len()
            );
            for line in info_per_cause(&group) {
                for (i, l) in wrap_limited(&visible(&line), w - 4, 3).iter().enumerate() {
                    let _ = writeln!(out, "{}{l}", if i == 0 { "  - " } else { "    " });
                }
            }
            continue;
        }
        let _ = writeln!(out, "\n{} ({})", p.severity(sev, heading(sev)), group.len());
        for f in group {
            finding_text(&mut out, f, &p, w);
        }
    }
    if !s.skipped.is_empty() {
        let _ = writeln!(
            out,
            "\n{} ({}; the rest was analysed)",
            p.bold("SKIPPED INPUTS"),
            s.skipped.len()
        );
        const SHOWN: usize = 10;
        for sk in s.skipped.iter().take(SHOWN) {
            let line = format!("{}: {}", visible(&sk.input), visible(&sk.reason));
            for (i, l) in wrap_limited(&line, w - 4, 3).iter().enumerate() {
                let _ = writeln!(out, "{}{l}", if i == 0 { "  - " } else { "    " });
            }
        }
        if s.skipped.len() > SHOWN {
            let _ = writeln!(
                out,
                "  … and {} more (see --output json)",
                s.skipped.len() - SHOWN
            );
        }
    }
    if !s.missing.is_empty() {
        let _ = writeln!(
            out,
            "\n{} ({}; analysed without them)",
            p.bold("MISSING INPUTS"),
            s.missing.len()
        );
        for m in &s.missing {
            for (i, l) in wrap_limited(
                &format!("{}: {}", visible(&m.input), visible(&m.reason)),
                w - 4,
                3,
            )
            .iter()
            .enumerate()
            {
                let _ = writeln!(out, "{}{l}", if i == 0 { "  - " } else { "    " });
            }
        }
    }
    out
}

fn finding_text(out: &mut String, f: &Finding, p: &Paint, w: usize) {
    // An incident is named by its cause already: show how many nodes instead of repeating it.
    let object = if f.object.kind == INCIDENT_KIND {
        format!("incident: {} nodes", f.affected.len())
    } else {
        visible(&f.object.to_string()).into_owned()
    };
    let confidence = format!("confidence {:.2}", f.confidence);
    let plain = 2 + f.cause.as_str().len() + 2 + object.chars().count() + 2 + confidence.len();
    let _ = writeln!(
        out,
        "\n  {}  {}{}{}",
        p.severity(f.severity, f.cause.as_str()),
        p.bold(&object),
        if plain > w { "\n    " } else { "  " },
        p.dim(&confidence)
    );
    for l in wrap(&visible(&f.summary), w - 4) {
        let _ = writeln!(out, "    {l}");
    }
    if let Some(by) = &f.caused_by {
        let _ = writeln!(
            out,
            "    {} {}",
            p.dim("caused by:"),
            visible(&by.to_string())
        );
    }
    if !f.affected.is_empty() {
        let names: Vec<String> = f
            .affected
            .iter()
            .map(|o| visible(&o.name).into_owned())
            .collect();
        let joined = if f.object.kind == INCIDENT_KIND {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            kubemedic_diagnose::incident::compact_names(&refs)
        } else {
            names.join(", ")
        };
        let list = wrap_limited(&joined, w - 16, 2);
        for (i, l) in list.iter().enumerate() {
            let label = if i == 0 {
                format!("affects ({}):", f.affected.len())
            } else {
                String::new()
            };
            let _ = writeln!(out, "    {}{l}", p.dim(&format!("{label:<14}")));
        }
    }
    let incident = f.object.kind == INCIDENT_KIND;
    if !f.evidence.is_empty() {
        // An incident stands for many findings: keep it to one screen.
        let shown_max = if incident { 4 } else { 6 };
        let _ = writeln!(out, "    {}", p.dim("evidence:"));
        // An incident's node list is already on its `affects` line.
        let shown = f
            .evidence
            .iter()
            .filter(|e| !(f.object.kind == INCIDENT_KIND && e.source == "nodes"));
        let total = f.evidence.len()
            - usize::from(incident && f.evidence.iter().any(|e| e.source == "nodes"));
        for e in shown.take(shown_max) {
            let _ = writeln!(out, "      {}", p.dim(&format!("[{}]", visible(&e.source))));
            for l in wrap_quote(&visible(&e.text), w - 8, 3) {
                let _ = writeln!(out, "        {l}");
            }
        }
        if total > shown_max {
            let _ = writeln!(
                out,
                "      {}",
                p.dim(&format!("… {} more (--output json)", total - shown_max))
            );
        }
    }
    if !f.remediation.is_empty() {
        let _ = writeln!(out, "    {}", p.dim("fix:"));
        let fix_max = if incident { 4 } else { usize::MAX };
        for r in f.remediation.iter().take(fix_max) {
            for (i, l) in fix_lines(&visible(r), w - 8).iter().enumerate() {
                let _ = writeln!(out, "      {}{l}", if i == 0 { "- " } else { "  " });
            }
        }
        if f.remediation.len() > fix_max {
            let _ = writeln!(
                out,
                "      {}",
                p.dim(&format!(
                    "… {} more (--output json)",
                    f.remediation.len() - fix_max
                ))
            );
        }
    }
}

/// Lays out one fix for `width` columns. Prose wraps at spaces. A command stays one line with
/// its `# comment` when that fits; otherwise it is broken at spaces outside quotes with shell
/// line continuations (` \`, so the lines still paste as one command), and its comment follows
/// on lines that each start with `# `, so no wrapped word of the comment reads as a command.
fn fix_lines(fix: &str, width: usize) -> Vec<String> {
    let (command, comment) = split_comment(fix);
    if !looks_like_command(command) {
        return wrap(fix, width);
    }
    let whole = match comment {
        Some(c) => format!("{command}  # {c}"),
        None => command.to_string(),
    };
    if whole.chars().count() <= width {
        return vec![whole];
    }
    let mut lines = break_command(command, width);
    if let Some(c) = comment {
        lines.extend(
            wrap(c, width.saturating_sub(2))
                .into_iter()
                .map(|l| format!("# {l}")),
        );
    }
    lines
}

/// Splits `cmd  # comment` at the first `#` that follows two spaces outside quotes.
fn split_comment(fix: &str) -> (&str, Option<&str>) {
    let mut quote: Option<char> = None;
    let mut spaces = 0;
    for (i, c) in fix.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') if spaces >= 2 => {
                return (fix[..i].trim_end(), Some(fix[i + 1..].trim()));
            }
            _ => {}
        }
        spaces = if c == ' ' && quote.is_none() {
            spaces + 1
        } else {
            0
        };
    }
    (fix.trim_end(), None)
}

/// Words of a shell command: split at spaces outside '…', "…" and <placeholders>.
fn shell_words(command: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut close: Option<char> = None;
    let mut start = None;
    for (i, c) in command.char_indices() {
        match close {
            Some(q) if c == q => close = None,
            Some(_) => {}
            None if c == ' ' => {
                if let Some(s) = start.take() {
                    words.push(&command[s..i]);
                }
                continue;
            }
            None => {
                close = match c {
                    '\'' => Some('\''),
                    '"' => Some('"'),
                    '<' => Some('>'),
                    _ => None,
                };
            }
        }
        start.get_or_insert(i);
    }
    if let Some(s) = start {
        words.push(&command[s..]);
    }
    words
}

/// Breaks a command into lines of at most `width` columns (a single word longer than that
/// stays whole) joined by ` \`; continuation lines are indented four spaces.
fn break_command(command: &str, width: usize) -> Vec<String> {
    const INDENT: &str = "    ";
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in shell_words(command) {
        let len = line.chars().count();
        // Room for the word and, on a line that is not the last, the " \\" continuation.
        if !line.trim().is_empty() && len + 1 + word.chars().count() + 2 > width {
            line.push_str(" \\");
            lines.push(std::mem::replace(&mut line, INDENT.to_string()));
        } else if !line.trim().is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

fn looks_like_command(s: &str) -> bool {
    let first = s.split_whitespace().next().unwrap_or("");
    matches!(
        first,
        "kubectl"
            | "iptables"
            | "iptables-save"
            | "systemctl"
            | "journalctl"
            | "crictl"
            | "docker"
            | "sysctl"
            | "echo"
            | "chattr"
            | "lsattr"
            | "ssh"
            | "df"
            | "du"
            | "ctr"
            | "kubemedic"
            | "crane"
            | "skopeo"
            | "nc"
            | "wget"
            | "curl"
            | "dig"
            | "nslookup"
            | "conntrack"
            | "helm"
            | "$"
    )
}

/// Renders the report as Markdown.
pub fn markdown(report: &Report, ctx: &ReportContext) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(out, "# kubemedic diagnosis\n");
    let _ = writeln!(
        out,
        "Source: {}{}\n",
        md_text(&ctx.source),
        ctx.taken_at
            .as_deref()
            .map(|t| format!(", snapshot at {}", md_text(t)))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "| critical | warning | info | nodes | pods | services |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} |",
        s.critical, s.warning, s.info, s.nodes, s.pods, s.services
    );
    if report.findings.is_empty() {
        let _ = writeln!(out, "\nNo problems found.");
    }
    let rest = Report {
        findings: report
            .findings
            .iter()
            .filter(|f| f.incident.is_none())
            .cloned()
            .collect(),
        summary: report.summary.clone(),
    };
    for (sev, group) in by_severity(&rest) {
        if sev == Severity::Info && group.len() > INFO_DETAIL_MAX {
            let _ = writeln!(
                out,
                "\n## {} ({}; one line per cause, each finding in `-o json`)\n",
                heading(sev),
                group.len()
            );
            for line in info_per_cause(&group) {
                let _ = writeln!(out, "- {}", md_text(&line));
            }
            continue;
        }
        let _ = writeln!(out, "\n## {} ({})", heading(sev), group.len());
        for f in group {
            let _ = writeln!(
                out,
                "\n### {} on {} (confidence {:.2})\n",
                md_code(f.cause.as_str()),
                md_code(&f.object.to_string()),
                f.confidence
            );
            let _ = writeln!(out, "{}\n", md_text(&f.summary));
            if let Some(by) = &f.caused_by {
                let _ = writeln!(out, "Caused by {}.\n", md_code(&by.to_string()));
            }
            if f.object.kind == INCIDENT_KIND {
                let names: Vec<String> = f
                    .affected
                    .iter()
                    .map(|o| visible(&o.name).into_owned())
                    .collect();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let members = report
                    .findings
                    .iter()
                    .filter(|m| m.incident.as_ref() == Some(&f.object))
                    .count();
                let _ = writeln!(
                    out,
                    "Affects {} nodes: {}. Under this incident: {members} node and pod findings (see `-o json`).\n",
                    f.affected.len(),
                    md_code(&kubemedic_diagnose::incident::compact_names(&refs))
                );
            } else if !f.affected.is_empty() {
                let names: Vec<String> = f.affected.iter().map(|o| md_code(&o.name)).collect();
                let _ = writeln!(out, "Affects {}: {}\n", f.affected.len(), names.join(", "));
            }
            if !f.evidence.is_empty() {
                let _ = writeln!(out, "Evidence:\n");
                for e in &f.evidence {
                    let _ = writeln!(out, "- {}: {}", md_text(&e.source), md_code(&e.text));
                }
                out.push('\n');
            }
            if !f.remediation.is_empty() {
                let _ = writeln!(out, "Fix:\n\n```sh");
                for r in &f.remediation {
                    // Inside the fence nothing is Markdown; only the terminal needs protecting,
                    // and a run of backticks must not close the fence early.
                    let r = visible(r).replace("```", "'''");
                    if looks_like_command(&r) {
                        let _ = writeln!(out, "{r}");
                    } else {
                        let _ = writeln!(out, "# {r}");
                    }
                }
                let _ = writeln!(out, "```");
            }
        }
    }
    if !s.skipped.is_empty() {
        let _ = writeln!(out, "\n## Skipped inputs ({})\n", s.skipped.len());
        for sk in &s.skipped {
            let _ = writeln!(out, "- {}: {}", md_code(&sk.input), md_text(&sk.reason));
        }
    }
    if !s.missing.is_empty() {
        let _ = writeln!(out, "\n## Missing inputs ({})\n", s.missing.len());
        for m in &s.missing {
            let _ = writeln!(out, "- {}: {}", md_code(&m.input), md_text(&m.reason));
        }
    }
    out
}

/// Untrusted text as Markdown prose: control characters visible, table pipes and HTML escaped.
fn md_text(s: &str) -> String {
    visible(s).replace('|', "\\|").replace('<', "&lt;")
}

/// Untrusted text as a Markdown code span: control characters visible, backticks (which would
/// end the span) replaced.
fn md_code(s: &str) -> String {
    format!("`{}`", visible(s).replace('`', "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(i: usize, cause: kubemedic_diagnose::Cause) -> Finding {
        Finding {
            cause,
            severity: Severity::Info,
            object: kubemedic_diagnose::ObjectRef::namespaced("Pod", "shop", &format!("api-{i}")),
            summary: format!("pod api-{i}: restarted 3 days ago, runs fine now"),
            evidence: Vec::new(),
            remediation: Vec::new(),
            confidence: 0.5,
            affected: Vec::new(),
            caused_by: None,
            incident: None,
        }
    }

    #[test]
    fn info_notes_at_scale_are_one_line_per_cause() {
        use kubemedic_diagnose::Cause;
        let mut report = Report {
            findings: (0..30).map(|i| note(i, Cause::OOMKilled)).collect(),
            summary: Default::default(),
        };
        report
            .findings
            .extend((30..35).map(|i| note(i, Cause::AppPanic)));
        report.recount();
        let ctx = ReportContext::default();
        let style = TextStyle {
            color: false,
            width: 100,
        };
        let t = text(&report, &ctx, style);
        assert!(t.contains("INFO (35; one line per cause"), "{t}");
        assert!(
            t.contains(
                "  - OOMKilled: 30 findings (pod/shop/api-0, pod/shop/api-1, pod/shop/api-2 and 27 more)"
            ),
            "{t}"
        );
        assert!(t.contains("  - AppPanic: 5 findings"), "{t}");
        assert!(!t.contains("api-29"), "not each finding: {t}");
        let md = markdown(&report, &ctx);
        assert!(md.contains("- OOMKilled: 30 findings"), "{md}");
        assert!(!md.contains("### "), "{md}");
        // Few notes: each one in full.
        report.findings.truncate(3);
        report.recount();
        let t = text(&report, &ctx, style);
        assert!(t.contains("INFO (3)"), "{t}");
        assert!(t.contains("api-2: restarted 3 days ago"), "{t}");
    }

    #[test]
    fn wrap_respects_width_and_cuts_long_words() {
        let lines = wrap("aaa bbb ccc ddd", 7);
        assert_eq!(lines, vec!["aaa bbb", "ccc ddd"]);
        let lines = wrap(&"x".repeat(25), 10);
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.chars().count() <= 10));
        let lines = wrap_limited(&"word ".repeat(100), 20, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
    }

    #[test]
    fn a_command_and_its_comment_share_a_line_when_they_fit() {
        assert_eq!(
            fix_lines(
                "kubectl -n shop get configmaps,secrets   # is it in namespace shop?",
                72
            ),
            ["kubectl -n shop get configmaps,secrets  # is it in namespace shop?"]
        );
    }

    #[test]
    fn long_commands_break_with_continuations_and_every_comment_line_is_a_comment() {
        let fix = "kubectl -n shop patch deploy/payments --type=merge -p '{\"spec\":{\"template\":{\"spec\":{\"imagePullSecrets\":[{\"name\":\"regcred\"}]}}}}'  # then the pods restart with the secret and pull the image";
        let lines = fix_lines(fix, 72);
        assert_eq!(
            lines,
            [
                "kubectl -n shop patch deploy/payments --type=merge -p \\",
                "    '{\"spec\":{\"template\":{\"spec\":{\"imagePullSecrets\":[{\"name\":\"regcred\"}]}}}}'",
                "# then the pods restart with the secret and pull the image",
            ]
        );
        let lines = fix_lines(
            "kubectl cordon paas-10-239-40-157  # stop new pods (and their hostPort rules) landing here while it recovers",
            72,
        );
        assert_eq!(lines[0], "kubectl cordon paas-10-239-40-157");
        assert!(lines.len() > 2);
        assert!(lines[1..].iter().all(|l| l.starts_with("# ")), "{lines:#?}");
        assert!(lines.iter().all(|l| l.chars().count() <= 72), "{lines:#?}");
    }

    #[test]
    fn quotes_placeholders_and_hashes_inside_quotes_stay_whole() {
        assert_eq!(
            shell_words("set image deploy/web web=<existing image:tag> -p 'a b  # c'"),
            [
                "set",
                "image",
                "deploy/web",
                "web=<existing image:tag>",
                "-p",
                "'a b  # c'"
            ]
        );
        assert_eq!(
            split_comment("echo 'a  # not a comment'  # a comment"),
            ("echo 'a  # not a comment'", Some("a comment"))
        );
        // Prose is wrapped, not broken with continuations.
        let prose = fix_lines(
            "Start replicas gradually (e.g. kubectl scale in steps, maxSurge 1) instead of hundreds at once",
            40,
        );
        assert!(
            prose
                .iter()
                .all(|l| !l.ends_with('\\') && !l.starts_with('#'))
        );
    }
}
