//! `[collector]`: where reports go, and how the agent reaches it.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::values::{de_duration, ParseWith};

/// `[collector]`: where reports go.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectorConfig {
    /// Base URL of the collector, e.g. `https://collector.example.ca:8443`; reports are
    /// posted to `<url>/api/v1/reports`. `https` is required except for loopback hosts.
    pub url: reqwest::Url,
    /// File holding the agent token on one line (trimmed). Relative paths are relative to
    /// the config file's folder. Read when `run` starts.
    pub token_file: PathBuf,
    /// The line of `token_file` in the config file, so that a token file found missing at
    /// `run` is reported at its key; set by [`load_config`].
    pub token_file_line: Option<usize>,
    /// Extra trusted roots (PEM) for the collector's certificate, e.g. a private CA.
    pub ca_file: Option<PathBuf>,
    /// Bound on one upload request (connect, send, answer). Default `30s`.
    pub timeout: Duration,
    pub(super) token_file_span: std::ops::Range<usize>,
}

/// The `[collector]` section as written, with the span of `token_file` kept for messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectorSection {
    /// See [`CollectorConfig::url`].
    #[serde(deserialize_with = "de_collector_url")]
    url: reqwest::Url,
    /// See [`CollectorConfig::token_file`].
    token_file: toml::Spanned<PathBuf>,
    /// See [`CollectorConfig::ca_file`].
    #[serde(default)]
    ca_file: Option<PathBuf>,
    /// See [`CollectorConfig::timeout`].
    #[serde(
        default = "default_collector_timeout",
        deserialize_with = "de_duration"
    )]
    timeout: Duration,
}

impl<'de> Deserialize<'de> for CollectorConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let section = CollectorSection::deserialize(deserializer)?;
        let token_file_span = section.token_file.span();
        Ok(CollectorConfig {
            url: section.url,
            token_file: section.token_file.into_inner(),
            token_file_line: None,
            ca_file: section.ca_file,
            timeout: section.timeout,
            token_file_span,
        })
    }
}

fn default_collector_timeout() -> Duration {
    Duration::from_secs(30)
}

fn de_collector_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<reqwest::Url, D::Error> {
    deserializer.deserialize_str(ParseWith {
        parse: parse_collector_url,
        expecting: "a URL such as \"https://collector.example.ca:8443\"",
    })
}

/// A collector base URL: `https://HOST[:PORT][/PREFIX]`; `http` only for loopback hosts,
/// since the agent token travels in every request.
pub fn parse_collector_url(text: &str) -> Result<reqwest::Url, String> {
    let expected = "expected https://HOST[:PORT], e.g. https://collector.example.ca:8443";
    let url = match reqwest::Url::parse(text.trim()) {
        Ok(url) if !url.cannot_be_a_base() => url,
        Ok(_) => return Err(format!("`{text}` is not a URL: {expected}")),
        Err(error) => return Err(format!("`{text}` is not a URL ({error}): {expected}")),
    };
    let loopback = url.host_str().is_some_and(|host| {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => bare.eq_ignore_ascii_case("localhost"),
        }
    });
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "`{text}` uses plain http: the agent token would travel in clear; use https:// (http is allowed only for a collector on loopback)"
            ))
        }
        other => return Err(format!("`{text}` has scheme `{other}`: {expected}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` names no host: {expected}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{text}` carries credentials: remove them, the agent authenticates with token_file"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{text}` has a query or fragment: give the collector's base URL only"
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_urls_need_https_except_on_loopback() {
        assert!(parse_collector_url("https://collector.example.ca:8443").is_ok());
        assert!(parse_collector_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_collector_url("http://[::1]:8080").is_ok());
        assert!(parse_collector_url("http://localhost:8080/").is_ok());
        for bad in [
            "collector.example.ca",
            "http://collector.example.ca",
            "ftp://collector.example.ca",
            "https://user:pw@collector.example.ca",
            "https://collector.example.ca/?x=1",
        ] {
            assert!(parse_collector_url(bad).is_err(), "{bad:?} accepted");
        }
    }
}
