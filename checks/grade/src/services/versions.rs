//! The bundled table of maintained branches (`checks/data/service-versions.toml`) and the
//! comparison of banner versions against it.

use std::cmp::Ordering;
use std::sync::LazyLock;

use serde::Deserialize;

/// One product of the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branches {
    /// The product as parsers name it (`OpenSSH`, `Apache httpd`).
    pub name: String,
    /// Versions below this are outdated.
    pub oldest_maintained: String,
    /// Why this version: the upstream and distribution facts.
    pub note: String,
    pub source: String,
    /// When the row was last checked against its sources (YYYY-MM-DD).
    pub reviewed: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionsFile {
    product: Vec<Branches>,
}

static TABLE: LazyLock<Result<Vec<Branches>, String>> =
    LazyLock::new(|| parse_table(include_str!("../../../data/service-versions.toml")));

/// The bundled table, or why it is unusable (a build defect, reported by `evaluate`).
pub fn table() -> Result<&'static [Branches], String> {
    TABLE.as_ref().map(Vec::as_slice).map_err(Clone::clone)
}

/// Parses and checks a table: names unique, every version comparable, dates well-formed.
pub fn parse_table(text: &str) -> Result<Vec<Branches>, String> {
    let file: VersionsFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut names = std::collections::HashSet::new();
    for row in &file.product {
        if !names.insert(row.name.to_ascii_lowercase()) {
            return Err(format!("{} is listed twice", row.name));
        }
        if numeric_parts(&row.oldest_maintained).is_empty() {
            return Err(format!(
                "{}: oldest_maintained `{}` is not a version",
                row.name, row.oldest_maintained
            ));
        }
        if chrono::NaiveDate::parse_from_str(&row.reviewed, "%Y-%m-%d").is_err() {
            return Err(format!(
                "{}: reviewed `{}` is not YYYY-MM-DD",
                row.name, row.reviewed
            ));
        }
        if row.source.is_empty() || row.note.is_empty() {
            return Err(format!("{}: source and note are required", row.name));
        }
    }
    Ok(file.product)
}

/// The leading dotted numbers of a version: `8.9p1` → [8, 9], `1.1.1f` → [1, 1, 1].
pub fn numeric_parts(version: &str) -> Vec<u64> {
    let mut parts = Vec::new();
    for piece in version.split('.') {
        let digits: String = piece.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<u64>() {
            Ok(n) if digits.len() <= 12 => parts.push(n),
            _ => break,
        }
        if digits.len() != piece.len() {
            break;
        }
    }
    parts
}

/// Compares the numeric parts, missing parts counting as 0 (`2.4` = `2.4.0`).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (numeric_parts(a), numeric_parts(b));
    for i in 0..a.len().max(b.len()) {
        let order = a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0));
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// The row of `product` when `version` is below its oldest maintained branch.
pub fn outdated<'a>(table: &'a [Branches], product: &str, version: &str) -> Option<&'a Branches> {
    if numeric_parts(version).is_empty() {
        return None;
    }
    table
        .iter()
        .find(|row| row.name.eq_ignore_ascii_case(product))
        .filter(|row| compare(version, &row.oldest_maintained) == Ordering::Less)
}
