//! Self-assessment: the questionnaire's answers, their validation, and the levels of the
//! self-assessed capabilities.
//!
//! Rules of the spec: an answer expires 12 months after it was given; the latest answer to
//! a question wins; a level above 3 needs evidence on the answer that grants it, else it
//! stays at 3.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::catalogue::{catalogue, AnswerShape};
use crate::note::Note;

/// One answer to one question, as imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The organization it is about.
    pub org: String,
    /// `Q1` … `Q14`.
    pub question: String,
    /// The normalized answer: a choice id, `yes`/`no`, a date `YYYY-MM-DD` or `never`,
    /// `;`-separated choice ids (or `none`), or free text.
    pub answer: String,
    /// Who answered, e.g. "executive director".
    pub respondent_role: String,
    pub answered_on: NaiveDate,
    /// A file name, link or reference to evidence, e.g. "restore-test-2026-10.pdf".
    pub evidence: Option<String>,
}

/// Why an answer cannot be imported. Each says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("unknown question `{0}`: use Q1 to Q14")]
    UnknownQuestion(String),
    #[error("{question}: `{value}` is not one of {expected}")]
    BadChoice {
        question: String,
        value: String,
        expected: String,
    },
    #[error("{question}: `{value}` is not a date; write YYYY-MM-DD or `never`")]
    BadDate { question: String, value: String },
    #[error("{question}: `{value}` is not yes or no")]
    BadYesNo { question: String, value: String },
    #[error("respondent_role is empty: say who answered (e.g. executive director)")]
    NoRespondent,
    #[error("organization id `{0}` is invalid (1-64 of a-z, 0-9, '-', '_', '.')")]
    BadOrg(String),
    #[error("answered_on {answered_on} is in the future")]
    FutureDate { answered_on: NaiveDate },
}

/// Validates an answer as read from a file and returns it normalized (choice ids lowercase,
/// yes/no in English, sets sorted). `today` bounds `answered_on`.
pub fn normalize(
    org: &str,
    question: &str,
    answer: &str,
    respondent_role: &str,
    answered_on: NaiveDate,
    evidence: Option<&str>,
    today: NaiveDate,
) -> Result<Answer, AnswerError> {
    if !vigie_model::validate::is_valid_org(org) {
        return Err(AnswerError::BadOrg(org.chars().take(64).collect()));
    }
    let q = catalogue()
        .question(question)
        .ok_or_else(|| AnswerError::UnknownQuestion(question.chars().take(16).collect()))?;
    if respondent_role.trim().is_empty() {
        return Err(AnswerError::NoRespondent);
    }
    if answered_on > today {
        return Err(AnswerError::FutureDate { answered_on });
    }
    let value = answer.trim();
    let lower = value.to_lowercase();
    let bad_choice = |value: &str| AnswerError::BadChoice {
        question: q.id.clone(),
        value: value.chars().take(64).collect(),
        expected: q.choices.join(", "),
    };
    let normalized = match q.answer {
        AnswerShape::Choice => {
            if !q.choices.contains(&lower) {
                return Err(bad_choice(value));
            }
            lower
        }
        AnswerShape::YesNo => match lower.as_str() {
            "yes" | "oui" | "y" | "true" => "yes".to_owned(),
            "no" | "non" | "n" | "false" => "no".to_owned(),
            _ => {
                return Err(AnswerError::BadYesNo {
                    question: q.id.clone(),
                    value: value.chars().take(64).collect(),
                })
            }
        },
        AnswerShape::Date => {
            if lower == "never" || lower == "jamais" || lower.is_empty() {
                "never".to_owned()
            } else {
                NaiveDate::parse_from_str(value, "%Y-%m-%d")
                    .map_err(|_| AnswerError::BadDate {
                        question: q.id.clone(),
                        value: value.chars().take(64).collect(),
                    })?
                    .to_string()
            }
        }
        AnswerShape::Set => {
            let mut items: Vec<String> = lower
                .split([';', '|'])
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "none")
                .map(str::to_owned)
                .collect();
            if let Some(bad) = items.iter().find(|i| !q.choices.contains(i)) {
                return Err(bad_choice(bad));
            }
            items.sort();
            items.dedup();
            if items.is_empty() {
                "none".to_owned()
            } else {
                items.join(";")
            }
        }
        AnswerShape::Text => value.to_owned(),
    };
    Ok(Answer {
        org: org.to_owned(),
        question: q.id.clone(),
        answer: normalized,
        respondent_role: respondent_role.trim().to_owned(),
        answered_on,
        evidence: evidence
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned),
    })
}

fn expiry() -> Duration {
    Duration::days(catalogue().thresholds.answers_expire_after_days)
}

fn is_current(answer: &Answer, now: DateTime<Utc>) -> bool {
    now.date_naive() - answer.answered_on <= expiry() && answer.answered_on <= now.date_naive()
}

/// The newest current answer to `question`.
fn latest<'a>(answers: &'a [Answer], question: &str, now: DateTime<Utc>) -> Option<&'a Answer> {
    answers
        .iter()
        .filter(|a| a.question == question && is_current(a, now))
        .max_by_key(|a| a.answered_on)
}

/// The newest expired answer date of a capability's questions when no current answer is
/// left: the note "answers expired".
pub fn expired_since(
    capability: &str,
    answers: &[Answer],
    now: DateTime<Utc>,
) -> Option<NaiveDate> {
    let questions = &catalogue().capability(capability)?.questions;
    if questions.iter().any(|q| latest(answers, q, now).is_some()) {
        return None;
    }
    answers
        .iter()
        .filter(|a| questions.contains(&a.question))
        .map(|a| a.answered_on)
        .max()
}

/// A self-assessed level and what it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessed {
    pub level: u8,
    pub answered_on: Option<NaiveDate>,
    pub evidence: Vec<String>,
    pub notes: Vec<Note>,
    /// The questions whose current answers set the level, in catalogue order.
    pub questions: Vec<String>,
}

/// Days from a date answer to `now`, if it is a date.
fn days_since(answer: Option<&Answer>, now: DateTime<Utc>) -> Option<i64> {
    let date = NaiveDate::parse_from_str(&answer?.answer, "%Y-%m-%d").ok()?;
    Some((now.date_naive() - date).num_days())
}

fn set_of(answer: Option<&Answer>) -> Vec<&str> {
    answer
        .map(|a| a.answer.split(';').filter(|s| *s != "none").collect())
        .unwrap_or_default()
}

fn is(answer: Option<&Answer>, value: &str) -> bool {
    answer.is_some_and(|a| a.answer == value)
}

/// The level of a self-assessed capability from its current answers; `None` without the
/// answer its level 0–2 depends on.
pub fn grade(capability: &str, answers: &[Answer], now: DateTime<Utc>) -> Option<Assessed> {
    let get = |q: &str| latest(answers, q, now);
    let within =
        |a: Option<&Answer>, days: i64| days_since(a, now).is_some_and(|d| (0..=days).contains(&d));
    // (level without the advanced answer, the answer that would grant level 4, whether it does)
    let (base, advanced): (u8, Option<(&Answer, bool)>) = match capability {
        "C13" => {
            let plan = get("Q1")?;
            let mut level = match plan.answer.as_str() {
                "written" => 2,
                "contacts_only" => 1,
                _ => 0,
            };
            if level == 2 && is(get("Q2"), "within_12_months") {
                level = 3;
            }
            let exercise = get("Q3").map(|a| (a, level == 3 && within(Some(a), 365)));
            (level, exercise)
        }
        "C14" => {
            let backups = get("Q4")?;
            let mut level = match backups.answer.as_str() {
                "automated" => 2,
                "manual" => 1,
                _ => 0,
            };
            let restore = get("Q6");
            if level == 2 && is(get("Q5"), "yes") && within(restore, 365) {
                level = 3;
            }
            (
                level,
                restore.map(|a| (a, level == 3 && within(Some(a), 183))),
            )
        }
        "C15" => {
            let accounts = get("Q7")?;
            let set = set_of(Some(accounts));
            let level = if set.is_empty() {
                0
            } else if ["email", "cloud", "remote", "admin"]
                .iter()
                .all(|a| set.contains(a))
            {
                3
            } else if set.contains(&"email") && set.contains(&"cloud") {
                2
            } else {
                1
            };
            let methods = get("Q8");
            let strong = set_of(methods).contains(&"security_key");
            (level, methods.map(|a| (a, level == 3 && strong)))
        }
        "C16" => {
            let training = get("Q9")?;
            let level = match training.answer.as_str() {
                "yearly" => 3,
                "onboarding" => 2,
                _ => 0,
            };
            let simulations = get("Q10");
            (
                level,
                simulations.map(|a| (a, level == 3 && a.answer == "twice_yearly")),
            )
        }
        "C17" => {
            let set = set_of(Some(get("Q11")?));
            (1 + u8::try_from(set.len()).unwrap_or(2).min(2), None)
        }
        "C18" => {
            let responsible = get("Q12")?;
            let nobody = [
                "", "none", "nobody", "personne", "aucun", "aucune", "no", "non",
            ]
            .contains(&responsible.answer.trim().to_lowercase().as_str());
            let mut level = if nobody { 0 } else { 1 };
            if level == 1 && is(get("Q13"), "yes") {
                level = 2;
            }
            let risk = get("Q14");
            if level == 2 && (is(risk, "yes") || is(risk, "cybersecure_canada_certified")) {
                level = 3;
            }
            (
                level,
                risk.map(|a| (a, level == 3 && a.answer == "cybersecure_canada_certified")),
            )
        }
        _ => return None,
    };
    let questions = &catalogue().capability(capability)?.questions;
    let used: Vec<&Answer> = questions.iter().filter_map(|q| get(q)).collect();
    let mut notes = Vec::new();
    let level = match advanced {
        Some((answer, true)) if answer.evidence.is_some() => 4,
        Some((_, true)) => {
            notes.push(Note::new("note.evidence_required").arg("level", 4));
            base.min(catalogue().thresholds.max_level_without_evidence)
        }
        _ => base,
    };
    Some(Assessed {
        level,
        answered_on: used.iter().map(|a| a.answered_on).min(),
        evidence: used.iter().filter_map(|a| a.evidence.clone()).collect(),
        notes,
        questions: used.iter().map(|a| a.question.clone()).collect(),
    })
}
