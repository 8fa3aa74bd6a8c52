//! Does a `Server` or `X-Powered-By` value disclose a product version?
//!
//! `nginx`, `Apache`, `cloudflare`, `ASP.NET` name a product only: they pass. A version is a
//! token that starts with a digit (after an optional `v`) and continues with dotted parts
//! (`1.18.0`, `10.0`, `9.4.z-SNAPSHOT`), or, right after a `/`, any number (`Apache/2`).
//! Opaque identifiers such as `ECS (dcb/7F84)` are not versions.

/// The version-looking tokens of a banner, in order; empty when it names products only.
pub fn versions(banner: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut after_slash = false;
    let mut token = String::new();
    // One pass; a character ends a token when it is a separator.
    for c in banner.chars().take(1024).chain(std::iter::once(' ')) {
        if matches!(c, ' ' | '\t' | '/' | '(' | ')' | ',' | ';' | '[' | ']') {
            if !token.is_empty() && is_version(&token, after_slash) {
                found.push(std::mem::take(&mut token));
            }
            token.clear();
            after_slash = c == '/';
        } else {
            token.push(c);
        }
    }
    found
}

fn is_version(token: &str, after_slash: bool) -> bool {
    let token = token
        .strip_prefix('v')
        .or_else(|| token.strip_prefix('V'))
        .unwrap_or(token);
    let digits = token.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let rest = &token.as_bytes()[digits..];
    match rest.first() {
        None => after_slash,
        Some(b'.') => rest.get(1).is_some_and(|b| b.is_ascii_alphanumeric()),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_versions_and_lets_bare_names_pass() {
        let cases: &[(&str, &[&str])] = &[
            ("nginx", &[]),
            ("Apache", &[]),
            ("cloudflare", &[]),
            ("ASP.NET", &[]),
            ("Express", &[]),
            ("Apache (Ubuntu)", &[]),
            ("ECS (dcb/7F84)", &[]),
            ("AmazonS3", &[]),
            ("gws", &[]),
            ("", &[]),
            ("nginx/1.18.0", &["1.18.0"]),
            ("nginx/1.18.0 (Ubuntu)", &["1.18.0"]),
            (
                "Apache/2.4.41 (Ubuntu) OpenSSL/1.1.1f",
                &["2.4.41", "1.1.1f"],
            ),
            ("Microsoft-IIS/10.0", &["10.0"]),
            ("PHP/7.4.3", &["7.4.3"]),
            ("Apache/2", &["2"]),
            ("Jetty(9.4.z-SNAPSHOT)", &["9.4.z-SNAPSHOT"]),
            ("lighttpd v1.4.59", &["v1.4.59"]),
            ("Kestrel 3", &[]),
        ];
        for (banner, expected) in cases {
            assert_eq!(versions(banner), *expected, "{banner}");
        }
    }
}
