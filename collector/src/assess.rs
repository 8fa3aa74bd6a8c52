//! `vigie-collector assess import FILE`: self-assessment answers from a CSV or YAML file
//! (`.yaml`/`.yml`: see [`parse_yaml`]).
//!
//! A CSV file has a header row naming these columns, in any order (UTF-8, with or without a
//! byte-order mark, comma-separated, RFC 4180 quotes):
//!
//! ```text
//! org,question,answer,respondent_role,answered_on,evidence
//! maple-health,Q1,written,executive director,2026-10-02,
//! maple-health,Q7,email;cloud;remote;admin,IT lead,2026-10-02,
//! maple-health,Q3,2026-09-15,IT lead,2026-10-02,tabletop-minutes-2026-09.pdf
//! ```
//!
//! Answers are checked against the questionnaire of `vigie-matrix` (choice ids, dates,
//! yes/no); one bad row refuses the whole file, with the line number and what to write.

use chrono::NaiveDate;
use vigie_matrix::assess::{normalize, AnswerError};
use vigie_matrix::Answer;

/// Reads `text` as YAML when `path` ends in `.yaml` or `.yml`, else as CSV.
pub fn parse(
    path: &std::path::Path,
    text: &str,
    today: NaiveDate,
) -> Result<Vec<Answer>, ImportError> {
    let yaml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if yaml {
        parse_yaml(text, today)
    } else {
        parse_csv(text, today)
    }
}

/// The YAML form: defaults at the top, one item per answer (an item may override them).
///
/// ```yaml
/// org: maple-health
/// respondent_role: executive director
/// answered_on: 2026-10-02
/// answers:
///   - {question: Q1, answer: written}
///   - {question: Q3, answer: 2026-09-15, evidence: tabletop-minutes.pdf}
///   - {question: Q7, answer: [email, cloud, remote, admin], respondent_role: IT lead}
/// ```
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlFile {
    org: Option<String>,
    respondent_role: Option<String>,
    answered_on: Option<serde_norway::Value>,
    answers: Vec<YamlAnswer>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlAnswer {
    question: serde_norway::Value,
    answer: serde_norway::Value,
    org: Option<String>,
    respondent_role: Option<String>,
    answered_on: Option<serde_norway::Value>,
    evidence: Option<String>,
}

/// A scalar or a list of scalars as the import's text form (lists joined with `;`).
fn yaml_text(value: &serde_norway::Value) -> String {
    use serde_norway::Value;
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Sequence(items) => items.iter().map(yaml_text).collect::<Vec<_>>().join(";"),
        Value::Null => String::new(),
        _ => "(unsupported value)".to_owned(),
    }
}

/// Parses and validates a YAML import file; `today` bounds the answer dates.
pub fn parse_yaml(text: &str, today: NaiveDate) -> Result<Vec<Answer>, ImportError> {
    let file: YamlFile = serde_norway::from_str(text).map_err(|error| ImportError::Syntax {
        line: error.location().map_or(0, |l| l.line()),
        reason: format!("{error} (expected org, respondent_role, answered_on and a list `answers` of question/answer items)"),
    })?;
    let mut answers = Vec::new();
    for (index, item) in file.answers.iter().enumerate() {
        let item_number = index + 1;
        let missing = |what: &str| ImportError::Syntax {
            line: 0,
            reason: format!(
                "answer {item_number} has no {what}, and the file sets none at the top"
            ),
        };
        let org = item
            .org
            .as_ref()
            .or(file.org.as_ref())
            .ok_or_else(|| missing("org"))?;
        let role = item
            .respondent_role
            .as_ref()
            .or(file.respondent_role.as_ref())
            .ok_or_else(|| missing("respondent_role"))?;
        let date_text = yaml_text(
            item.answered_on
                .as_ref()
                .or(file.answered_on.as_ref())
                .ok_or_else(|| missing("answered_on"))?,
        );
        let answered_on =
            NaiveDate::parse_from_str(date_text.trim(), "%Y-%m-%d").map_err(|_| {
                ImportError::Syntax {
                    line: 0,
                    reason: format!(
                        "answer {item_number}: answered_on `{}` is not a date; write YYYY-MM-DD",
                        date_text.chars().take(32).collect::<String>()
                    ),
                }
            })?;
        let normalized = normalize(
            org,
            &yaml_text(&item.question),
            &yaml_text(&item.answer),
            role,
            answered_on,
            item.evidence.as_deref(),
            today,
        )
        .map_err(|error| ImportError::Item {
            item: item_number,
            error,
        })?;
        answers.push(normalized);
    }
    if answers.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(answers)
}

/// Why an import file is refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {error}")]
    Answer { line: usize, error: AnswerError },
    #[error("answer {item}: {error}")]
    Item { item: usize, error: AnswerError },
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    #[error("the header row lacks column `{0}`; expected org,question,answer,respondent_role,answered_on,evidence")]
    MissingColumn(&'static str),
    #[error("the file has no answers")]
    Empty,
}

/// Splits CSV text into records of fields, with the line each record starts on.
fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut field = String::new();
    let mut record = Vec::new();
    let mut in_quotes = false;
    let mut line = 1;
    let mut start_line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_quotes, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => in_quotes = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => in_quotes = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                if record.iter().any(|f| !f.trim().is_empty()) {
                    out.push((start_line, std::mem::take(&mut record)));
                }
                record.clear();
                line += 1;
                start_line = line;
            }
            (false, c) => field.push(c),
        }
    }
    if in_quotes {
        return Err(ImportError::Syntax {
            line: start_line,
            reason: "a quoted field is not closed".to_owned(),
        });
    }
    record.push(field);
    if record.iter().any(|f| !f.trim().is_empty()) {
        out.push((start_line, record));
    }
    Ok(out)
}

/// Parses and validates an import file; `today` bounds the answer dates.
pub fn parse_csv(text: &str, today: NaiveDate) -> Result<Vec<Answer>, ImportError> {
    let mut rows = records(text)?.into_iter();
    let (_, header) = rows.next().ok_or(ImportError::Empty)?;
    let header: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let column = |name: &'static str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or(ImportError::MissingColumn(name))
    };
    let org = column("org")?;
    let question = column("question")?;
    let answer = column("answer")?;
    let role = column("respondent_role")?;
    let date = column("answered_on")?;
    let evidence = header.iter().position(|h| h == "evidence");
    let mut answers = Vec::new();
    for (line, fields) in rows {
        let get = |i: usize| fields.get(i).map(|s| s.trim()).unwrap_or("");
        let answered_on =
            NaiveDate::parse_from_str(get(date), "%Y-%m-%d").map_err(|_| ImportError::Syntax {
                line,
                reason: format!(
                    "answered_on `{}` is not a date; write YYYY-MM-DD",
                    get(date).chars().take(32).collect::<String>()
                ),
            })?;
        let normalized = normalize(
            get(org),
            get(question),
            get(answer),
            get(role),
            answered_on,
            evidence.map(get),
            today,
        )
        .map_err(|error| ImportError::Answer { line, error })?;
        answers.push(normalized);
    }
    if answers.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    #[test]
    fn a_file_with_bom_quotes_and_crlf_is_read() {
        let text = "\u{feff}org,question,answer,respondent_role,answered_on,evidence\r\n\
                    o,Q1,written,\"director, operations\",2026-10-02,\r\n\
                    o,Q7,\"email;cloud\",IT lead,2026-10-02,\"a \"\"quoted\"\" link\"\r\n";
        let answers = parse_csv(text, today()).unwrap();
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0].respondent_role, "director, operations");
        assert_eq!(answers[1].answer, "cloud;email");
        assert_eq!(answers[1].evidence.as_deref(), Some("a \"quoted\" link"));
    }

    #[test]
    fn yaml_files_take_defaults_at_the_top_and_lists_for_checklists() {
        let text = "org: o\nrespondent_role: director\nanswered_on: 2026-10-02\nanswers:\n  - {question: Q1, answer: written}\n  - question: Q7\n    answer: [email, cloud]\n    respondent_role: IT lead\n  - {question: Q5, answer: true}\n  - {question: Q3, answer: 2026-09-15, evidence: minutes.pdf}\n";
        let answers = parse_yaml(text, today()).unwrap();
        assert_eq!(answers.len(), 4);
        assert_eq!(answers[1].answer, "cloud;email");
        assert_eq!(answers[1].respondent_role, "IT lead");
        assert_eq!(answers[2].answer, "yes");
        assert_eq!(answers[3].answer, "2026-09-15");
        assert_eq!(answers[3].evidence.as_deref(), Some("minutes.pdf"));
        let error = parse_yaml(
            "org: o\nanswers:\n  - {question: Q1, answer: written}\n",
            today(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("respondent_role"), "{error}");
        let error = parse_yaml("org: o\nrespondent_role: r\nanswered_on: 2026-10-02\nanswers:\n  - {question: Q4, answer: daily}\n", today())
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("answer 1:") && error.contains("automated"),
            "{error}"
        );
        assert!(parse_yaml("colour: blue\nanswers: []\n", today()).is_err());
        assert!(matches!(
            parse(std::path::Path::new("a.YML"), "answers: []\n", today()),
            Err(ImportError::Empty)
        ));
    }

    #[test]
    fn errors_name_the_line_and_what_to_write() {
        let text = "org,question,answer,respondent_role,answered_on\no,Q1,written,r,2026-10-02\no,Q4,daily,r,2026-10-02\n";
        let error = parse_csv(text, today()).unwrap_err().to_string();
        assert!(error.starts_with("line 3:"), "{error}");
        assert!(error.contains("none, manual, automated"), "{error}");
        let error = parse_csv("org,question\n", today())
            .unwrap_err()
            .to_string();
        assert!(error.contains("`answer`"), "{error}");
        let error = parse_csv(
            "org,question,answer,respondent_role,answered_on\no,Q1,no,r,02/10/2026\n",
            today(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("YYYY-MM-DD"), "{error}");
    }
}
