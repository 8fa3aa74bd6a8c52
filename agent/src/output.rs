//! What a scan prints: the JSON report, or a table for a person; and where it goes.
//!
//! Every word of the table comes from the locale files; only check ids, targets and numbers
//! are printed as they are.

use std::io::{IsTerminal, Write};
use std::path::Path;

use vigie_model::{Finding, Lang, Message, Report, Severity, Status, Target, TargetKind};

/// The output formats of `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// A table per target, then a one-line total.
    #[default]
    Text,
    /// The `vigie.report.v1` report.
    Json,
}

/// The report as pretty-printed JSON with a final newline.
pub fn render_json(report: &Report) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(text)
}

/// Whether text output should be coloured: only on a terminal, and never when `NO_COLOR` is
/// set to anything non-empty (<https://no-color.org>).
pub fn colour_wanted(to_file: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    !to_file && !no_color && std::io::stdout().is_terminal()
}

/// The report as a table: per target, a heading then one row per finding (status, severity,
/// check id, summary), a remediation line under failures, warnings, errors and skips; then the total.
/// `fail_on` adds a line counting the findings that fail the gate.
pub fn render_text(report: &Report, lang: Lang, colour: bool, fail_on: Option<Severity>) -> String {
    let mut out = String::new();
    let headings = [
        Message::new("agent.text.column.status").render(lang),
        Message::new("agent.text.column.severity").render(lang),
        Message::new("agent.text.column.check").render(lang),
        Message::new("agent.text.column.summary").render(lang),
    ];
    let status_width = Status::ALL
        .iter()
        .map(|s| width(&status_word(*s, lang)))
        .chain([width(&headings[0])])
        .max()
        .unwrap_or(0);
    let severity_width = Severity::ALL
        .iter()
        .map(|s| width(&severity_word(*s, lang)))
        .chain([width(&headings[1])])
        .max()
        .unwrap_or(0);
    if report.targets.is_empty() {
        out.push_str(&Message::new("agent.text.no_targets").render(lang));
        out.push_str("\n\n");
    }
    for target in &report.targets {
        out.push_str(&paint(&target_heading(target, lang), Style::Bold, colour));
        out.push('\n');
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| belongs_to(f, target))
            .collect();
        // Per target: a host's short ids need not be padded to a mail domain's long ones.
        let check_width = findings
            .iter()
            .map(|f| width(f.check.as_str()))
            .chain([width(&headings[2])])
            .max()
            .unwrap_or(0);
        if findings.is_empty() {
            out.push_str("  ");
            out.push_str(&Message::new("agent.text.no_findings").render(lang));
            out.push_str("\n\n");
            continue;
        }
        let header = format!(
            "  {}  {}  {}  {}",
            pad(&headings[0], status_width),
            pad(&headings[1], severity_width),
            pad(&headings[2], check_width),
            headings[3]
        );
        out.push_str(&paint(header.trim_end(), Style::Dim, colour));
        out.push('\n');
        // A TLS endpoint that could not be reached: one cause, one row. The checks it left
        // unobserved stay in the JSON report with status `error`.
        let unreached = findings
            .iter()
            .any(|f| f.check.as_str() == "tls.connect" && f.status == Status::Error);
        let (findings, not_run): (Vec<&Finding>, Vec<&Finding>) =
            findings.into_iter().partition(|f| {
                !unreached || f.check.as_str() == "tls.connect" || f.status != Status::Error
            });
        for finding in findings {
            let status = pad(&status_word(finding.status, lang), status_width);
            let severity = pad(&severity_word(finding.severity, lang), severity_width);
            out.push_str(&format!(
                "  {}  {}  {}  {}\n",
                paint(&status, status_style(finding.status), colour),
                severity,
                pad(finding.check.as_str(), check_width),
                one_line(&finding.summary)
            ));
            // A skipped check's remediation says how to make it run (import data…).
            let needs_action = matches!(
                finding.status,
                Status::Fail | Status::Warn | Status::Error | Status::Skip
            );
            if let (true, Some(remediation)) = (needs_action, &finding.remediation) {
                let indent =
                    " ".repeat(2 + status_width + 2 + severity_width + 2 + check_width + 2);
                let line = format!("{indent}-> {}", one_line(remediation));
                out.push_str(&paint(&line, Style::Dim, colour));
                out.push('\n');
            }
        }
        if !not_run.is_empty() {
            let note = crate::i18n::t(
                lang,
                "output.not_run",
                &[("count", not_run.len().to_string())],
            );
            out.push_str(&paint(&format!("  {note}"), Style::Dim, colour));
            out.push('\n');
        }
        out.push('\n');
    }
    // Findings about targets the report does not list (none today) are still shown.
    for finding in report
        .findings
        .iter()
        .filter(|f| !report.targets.iter().any(|t| belongs_to(f, t)))
    {
        out.push_str(&format!(
            "  {}  {}  {}  {}  {}\n",
            paint(
                &pad(&status_word(finding.status, lang), status_width),
                status_style(finding.status),
                colour
            ),
            pad(&severity_word(finding.severity, lang), severity_width),
            finding.target,
            finding.check,
            one_line(&finding.summary)
        ));
    }

    let count = |status: Status| {
        report
            .findings
            .iter()
            .filter(|f| f.status == status)
            .count()
    };
    let total = Message::new("agent.text.total")
        .arg("targets", report.targets.len())
        .arg("findings", report.findings.len())
        .arg("fail", count(Status::Fail))
        .arg("error", count(Status::Error))
        .arg("warn", count(Status::Warn))
        .arg("pass", count(Status::Pass))
        .arg("info", count(Status::Info))
        .arg("skip", count(Status::Skip))
        .render(lang);
    out.push_str(&paint(&total, Style::Bold, colour));
    out.push('\n');
    if let Some(threshold) = fail_on {
        let failing = crate::exit::gate_failures(report, threshold).count();
        if failing > 0 {
            let gate = Message::new("agent.text.gate")
                .arg("count", failing)
                .arg("severity", severity_word(threshold, lang))
                .render(lang);
            out.push_str(&paint(&gate, Style::Red, colour));
            out.push('\n');
        }
    }
    out
}

/// The heading of a target's table: "TLS target host:443", "Mail domain example.ca",
/// "Host srv01".
fn target_heading(target: &Target, lang: Lang) -> String {
    let message = match target.kind {
        TargetKind::Email => Message::new("agent.text.target.email"),
        TargetKind::Host => Message::new("agent.text.target.host"),
        TargetKind::Tls | TargetKind::Services => {
            Message::new("agent.text.target").arg("kind", target.kind.as_str().to_uppercase())
        }
    };
    message.arg("target", &target.target).render(lang)
}

/// Whether a finding is about this target: the same name, and a check of the target's
/// family (a host named like a mail domain keeps its own table). A check id this build does
/// not know goes by the name alone.
fn belongs_to(finding: &Finding, target: &Target) -> bool {
    finding.target == target.target
        && finding
            .check
            .known()
            .is_none_or(|check| check.family().as_str() == target.kind.as_str())
}

/// The localized word for a status.
pub fn status_word(status: Status, lang: Lang) -> String {
    let key = match status {
        Status::Pass => "agent.text.status.pass",
        Status::Fail => "agent.text.status.fail",
        Status::Warn => "agent.text.status.warn",
        Status::Info => "agent.text.status.info",
        Status::Error => "agent.text.status.error",
        Status::Skip => "agent.text.status.skip",
    };
    Message::new(key).render(lang)
}

/// The localized word for a severity.
pub fn severity_word(severity: Severity, lang: Lang) -> String {
    let key = match severity {
        Severity::Critical => "agent.text.severity.critical",
        Severity::High => "agent.text.severity.high",
        Severity::Medium => "agent.text.severity.medium",
        Severity::Low => "agent.text.severity.low",
        Severity::Info => "agent.text.severity.info",
    };
    Message::new(key).render(lang)
}

#[derive(Clone, Copy)]
enum Style {
    Bold,
    Dim,
    Red,
    Green,
    Yellow,
    Magenta,
}

fn status_style(status: Status) -> Style {
    match status {
        Status::Pass => Style::Green,
        Status::Fail => Style::Red,
        Status::Warn => Style::Yellow,
        Status::Error => Style::Magenta,
        Status::Info | Status::Skip => Style::Dim,
    }
}

fn paint(text: &str, style: Style, colour: bool) -> String {
    if !colour {
        return text.to_owned();
    }
    let code = match style {
        Style::Bold => "1",
        Style::Dim => "2",
        Style::Red => "31",
        Style::Green => "32",
        Style::Yellow => "33",
        Style::Magenta => "35",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Width in characters (the texts are Latin script: one character, one column).
fn width(text: &str) -> usize {
    text.chars().count()
}

fn pad(text: &str, to: usize) -> String {
    let mut padded = text.to_owned();
    padded.extend(std::iter::repeat_n(' ', to.saturating_sub(width(text))));
    padded
}

/// Summaries come from servers' error messages too: keep each finding on one row, and drop
/// control characters so a hostile server cannot drive the terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Writes `content` to `path` atomically: a temporary file in the same folder, synced, then
/// renamed over the destination, so a reader never sees half a report.
pub fn write_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(content)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use vigie_model::{AgentInfo, Observations, Target, TargetKind};

    fn finding(check: &str, status: Status, severity: Severity, summary: &str) -> Finding {
        Finding {
            check: check.to_owned().try_into().unwrap(),
            target: "www.example.ca:443".to_owned(),
            status,
            severity,
            summary: summary.to_owned(),
            remediation: Some("Renew it".to_owned()),
            evidence: Default::default(),
        }
    }

    fn report() -> Report {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
            .unwrap();
        Report {
            schema: vigie_model::SCHEMA_V1.to_owned(),
            report_id: uuid::Uuid::new_v4(),
            agent: AgentInfo {
                id: "a".into(),
                version: "0.1.0".into(),
                hostname: "h".into(),
            },
            org: "example-org".into(),
            started_at: at,
            finished_at: at,
            targets: vec![Target {
                kind: TargetKind::Tls,
                target: "www.example.ca:443".into(),
            }],
            findings: vec![
                finding("tls.connect", Status::Pass, Severity::High, "TLS ok"),
                finding(
                    "tls.cert.expired",
                    Status::Fail,
                    Severity::Critical,
                    "expired\x1b[2J",
                ),
            ],
            observations: Observations::default(),
            profile: Some("modern".into()),
        }
    }

    #[test]
    fn text_rows_are_aligned_and_localized() {
        let text = render_text(&report(), Lang::En, false, Some(Severity::High));
        assert!(text.contains("TLS target www.example.ca:443"), "{text}");
        assert!(
            text.contains("  STATUS  SEVERITY  CHECK             SUMMARY"),
            "{text}"
        );
        assert!(
            text.contains("  pass    high      tls.connect       TLS ok"),
            "{text}"
        );
        assert!(
            text.contains("  fail    critical  tls.cert.expired  expired [2J"),
            "{text}"
        );
        assert!(text.contains("-> Renew it"), "{text}");
        assert!(
            text.contains("1 target(s), 2 finding(s): 1 fail, 0 error"),
            "{text}"
        );
        assert!(text.contains("1 finding(s) failed or in error"), "{text}");
        assert!(!text.contains('\x1b'), "no escapes without colour");

        let french = render_text(&report(), Lang::Fr, false, None);
        assert!(french.contains("Cible TLS www.example.ca:443"), "{french}");
        assert!(french.contains("échec"), "{french}");
        assert!(french.contains("GRAVITÉ"), "{french}");
        assert!(french.contains("1 cible(s), 2 constat(s)"), "{french}");
    }

    #[test]
    fn email_and_host_targets_have_their_own_headings_and_rows() {
        let mut report = report();
        report.targets.push(Target {
            kind: TargetKind::Email,
            target: "example.ca".into(),
        });
        report.targets.push(Target {
            kind: TargetKind::Host,
            target: "example.ca".into(),
        });
        let mut dmarc = finding(
            "email.dmarc.missing",
            Status::Fail,
            Severity::High,
            "No DMARC record",
        );
        dmarc.target = "example.ca".into();
        let mut os = finding("host.os", Status::Info, Severity::Info, "Debian 12");
        os.target = "example.ca".into();
        report.findings.extend([dmarc, os]);
        let text = render_text(&report, Lang::En, false, None);
        let domain = text.find("Mail domain example.ca").expect(&text);
        let host = text.find("Host example.ca").expect(&text);
        let dmarc_row = text.find("email.dmarc.missing").unwrap();
        let os_row = text.find("host.os").unwrap();
        assert!(
            domain < dmarc_row && dmarc_row < host && host < os_row,
            "{text}"
        );
        assert_eq!(text.matches("email.dmarc.missing").count(), 1, "{text}");
        assert_eq!(text.matches("host.os").count(), 1, "{text}");
        assert!(
            text.contains("  info    info      host.os  Debian 12"),
            "{text}"
        );
        let french = render_text(&report, Lang::Fr, false, None);
        assert!(
            french.contains("Domaine de messagerie example.ca"),
            "{french}"
        );
        assert!(french.contains("Hôte example.ca"), "{french}");
    }

    #[test]
    fn colour_wraps_words_in_escapes() {
        let text = render_text(&report(), Lang::En, true, None);
        assert!(text.contains("\x1b[31mfail"), "{text}");
        assert!(text.contains("\x1b[32mpass"), "{text}");
    }

    #[test]
    fn json_round_trips() {
        let report = report();
        let text = render_json(&report).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let missing = dir.path().join("no/such/folder/report.json");
        assert!(write_atomically(&missing, b"x").is_err());
    }
}
