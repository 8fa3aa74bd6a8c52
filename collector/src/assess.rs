//! `vigie-collector assess import FILE`: self-assessment answers from a CSV file.
//!
//! The file has a header row naming these columns, in any order (UTF-8, with or without a
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

/// Why an import file is refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {source}")]
    Answer {
        line: usize,
        #[source]
        source: AnswerError,
    },
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
        .map_err(|source| ImportError::Answer { line, source })?;
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
