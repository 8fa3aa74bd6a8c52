//! `vigie-collector org set` and `org import`: the region and size band of organizations,
//! which the matrix's aggregate view groups by (`--group-by region|size-band`). Values are
//! free text chosen by the sector (a province code, `1-9`, `10-49` …), checked here so that
//! every export can print them as they are.

use crate::store::orgmeta::OrgMetaUpdate;

/// Why metadata was refused.
#[derive(Debug, thiserror::Error)]
pub enum OrgMetaError {
    #[error("{what} `{value}` is invalid: 1 to 64 characters, no control character, no leading or trailing space")]
    BadValue { what: &'static str, value: String },
    #[error("organization id `{0}` is invalid (1-64 of a-z, 0-9, '-', '_', '.')")]
    BadOrg(String),
    #[error("nothing to set: give --region, --size-band or both")]
    Nothing,
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("the header must be `org,region,size_band`; found `{0}`")]
    Header(String),
}

fn value(what: &'static str, text: &str) -> Result<String, OrgMetaError> {
    let ok = !text.is_empty()
        && text.chars().count() <= 64
        && text.trim() == text
        && !text.chars().any(char::is_control);
    if ok {
        Ok(text.to_owned())
    } else {
        Err(OrgMetaError::BadValue {
            what,
            value: text.chars().take(64).collect(),
        })
    }
}

/// One `org set` change, checked.
pub fn update(
    org: &str,
    region: Option<&str>,
    size_band: Option<&str>,
) -> Result<OrgMetaUpdate, OrgMetaError> {
    if !vigie_model::validate::is_valid_org(org) {
        return Err(OrgMetaError::BadOrg(org.chars().take(64).collect()));
    }
    if region.is_none() && size_band.is_none() {
        return Err(OrgMetaError::Nothing);
    }
    Ok(OrgMetaUpdate {
        org: org.to_owned(),
        region: region.map(|r| value("region", r)).transpose()?,
        size_band: size_band.map(|b| value("size band", b)).transpose()?,
    })
}

/// Splits one CSV line on commas, with RFC 4180 double quotes.
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".to_owned());
    }
    out.push(field);
    Ok(out)
}

/// `org import`: a CSV file with the header `org,region,size_band`; an empty cell leaves
/// that field as it is. All lines are checked before anything is stored.
pub fn parse_csv(text: &str) -> Result<Vec<OrgMetaUpdate>, OrgMetaError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(OrgMetaError::Header(String::new()));
    };
    let names: Vec<String> = fields(header)
        .map_err(|reason| OrgMetaError::Line { line: 1, reason })?
        .iter()
        .map(|f| f.trim().to_ascii_lowercase())
        .collect();
    if names != ["org", "region", "size_band"] {
        return Err(OrgMetaError::Header(header.chars().take(80).collect()));
    }
    let mut updates = Vec::new();
    for (index, line) in lines {
        let line_number = index + 1;
        let at = |reason: String| OrgMetaError::Line {
            line: line_number,
            reason,
        };
        let cells = fields(line.trim_end_matches('\r')).map_err(at)?;
        if cells.len() != 3 {
            return Err(at(format!("{} fields, 3 expected", cells.len())));
        }
        let optional = |c: &str| (!c.is_empty()).then(|| c.to_owned());
        let (region, band) = (optional(&cells[1]), optional(&cells[2]));
        updates.push(
            update(&cells[0], region.as_deref(), band.as_deref()).map_err(|e| at(e.to_string()))?,
        );
    }
    Ok(updates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked() {
        assert!(update("org-a", Some("ON"), None).is_ok());
        assert!(update("org-a", None, Some("10-49")).is_ok());
        assert!(matches!(
            update("org-a", None, None),
            Err(OrgMetaError::Nothing)
        ));
        assert!(update("Org A", Some("ON"), None).is_err());
        assert!(update("org-a", Some(" ON"), None).is_err());
        assert!(update("org-a", Some(""), None).is_err());
        assert!(update("org-a", Some("a\nb"), None).is_err());
        assert!(update("org-a", Some(&"x".repeat(65)), None).is_err());
    }

    #[test]
    fn csv_lines_with_quotes_and_empty_cells() {
        let updates = parse_csv(
            "\u{feff}org,region,size_band\r\norg-a,ON,10-49\r\norg-b,\"QC, Montréal\",\r\norg-c,,1-9\r\n",
        )
        .unwrap();
        assert_eq!(updates.len(), 3);
        assert_eq!(updates[1].region.as_deref(), Some("QC, Montréal"));
        assert_eq!(updates[1].size_band, None);
        assert_eq!(updates[2].region, None);
        assert_eq!(updates[2].size_band.as_deref(), Some("1-9"));
        let error = parse_csv("org,region,size_band\norg-a,ON\n").unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
        assert!(parse_csv("org,province\norg-a,ON\n").is_err());
        assert!(parse_csv("org,region,size_band\norg-a,,\n").is_err());
    }
}
