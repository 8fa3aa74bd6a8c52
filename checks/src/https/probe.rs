//! The HTTPS probe: `GET /` over HTTPS, `GET /` over plain HTTP (the redirect), and
//! `GET /.well-known/security.txt`, each with same-origin redirects followed by hand up to
//! [`MAX_REDIRECTS`]. All the I/O is here; every failure is recorded in the observation.
//!
//! Bounds: a timeout on the connection and on each whole request; hyper caps a response
//! head (about 400 KiB, 100 headers); a body is read only for security.txt, at most
//! [`MAX_BODY_BYTES`]; each recorded header value is cut at [`MAX_HEADER_VALUE_BYTES`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::Utc;
use reqwest::Url;
use vigie_model::FailureKind;

use super::observation::{
    FetchError, FetchStage, HttpExchange, HttpHop, HttpsObservation, RedirectStop, RECORDED_HEADERS,
};
use crate::tls::TlsTarget;
use vigie_grade::https::MAX_BODY_BYTES;

/// Redirects followed from one first request.
pub const MAX_REDIRECTS: usize = 5;
/// Each recorded header value is cut at this length.
pub const MAX_HEADER_VALUE_BYTES: usize = 2048;
/// Values recorded per header name.
const MAX_HEADER_VALUES: usize = 8;

/// The path of the security contact file (RFC 9116 §3).
pub const SECURITY_TXT_PATH: &str = "/.well-known/security.txt";

/// How to reach a web endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsOptions {
    /// Connect to this address instead of resolving the host (`--connect`); `Host` and SNI
    /// stay the target's host.
    pub connect: Option<IpAddr>,
    /// The plain-HTTP port whose redirect is checked (80); `None`: not checked.
    pub http_port: Option<u16>,
    /// Extra trusted roots, PEM (`--ca-file`), besides the Mozilla roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Bounds the connection and, separately, each whole request.
    pub timeout: Duration,
}

impl Default for HttpsOptions {
    fn default() -> Self {
        HttpsOptions {
            connect: None,
            http_port: Some(80),
            ca_pem: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// One probe of `target` (`host:port`, the HTTPS port); never returns an error.
pub async fn probe(target: &TlsTarget, options: &HttpsOptions) -> HttpsObservation {
    let https_url = origin_url("https", target, target.port, options.connect);
    let http_url = options
        .http_port
        .map(|port| origin_url("http", target, port, options.connect));
    let mut observation = HttpsObservation {
        target: target.to_string(),
        host: target.host.clone(),
        observed_at: Utc::now(),
        https: HttpExchange::default(),
        redirect: None,
        security_txt: None,
    };
    let client = match client(target, options) {
        Ok(client) => client,
        Err(error) => {
            observation.https = setup_failed(&https_url, &error);
            observation.redirect = http_url.as_deref().map(|url| setup_failed(url, &error));
            return observation;
        }
    };
    let host_header = host_header(target, options.connect);
    let fetch = |url: String, read_body: bool| {
        let client = &client;
        let host_header = host_header.clone();
        async move { exchange(client, &url, host_header, read_body, options.timeout).await }
    };
    let redirect = async {
        match &http_url {
            Some(url) => Some(fetch(url.clone(), false).await),
            None => None,
        }
    };
    let (https, redirect) = tokio::join!(fetch(https_url.clone(), false), redirect);
    observation.redirect = redirect;
    if !https.hops.is_empty() {
        let url = format!("{}{}", https_url.trim_end_matches('/'), SECURITY_TXT_PATH);
        observation.security_txt = Some(fetch(url, true).await);
    }
    observation.https = https;
    observation
}

fn setup_failed(url: &str, error: &str) -> HttpExchange {
    HttpExchange {
        url: url.to_owned(),
        error: Some(FetchError {
            url: url.to_owned(),
            stage: FetchStage::Setup,
            error: error.to_owned(),
            kind: Some(FailureKind::Other),
        }),
        ..HttpExchange::default()
    }
}

/// `scheme://host:port/`, with the `--connect` address in place of an IP-literal host (a
/// name is pinned by the client's resolver override instead).
fn origin_url(scheme: &str, target: &TlsTarget, port: u16, connect: Option<IpAddr>) -> String {
    let host = match (target.ip(), connect) {
        (Some(_), Some(ip)) => ip.to_string(),
        _ => target.host.clone(),
    };
    if host.contains(':') {
        format!("{scheme}://[{host}]:{port}/")
    } else {
        format!("{scheme}://{host}:{port}/")
    }
}

/// An explicit `Host` when the URL had to name the `--connect` address instead of the host.
fn host_header(target: &TlsTarget, connect: Option<IpAddr>) -> Option<String> {
    match (target.ip(), connect) {
        (Some(ip), Some(connect)) if ip != connect => Some(if target.host.contains(':') {
            format!("[{}]", target.host)
        } else {
            target.host.clone()
        }),
        _ => None,
    }
}

fn client(target: &TlsTarget, options: &HttpsOptions) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // Environment proxies would defeat `--connect` and send the scan elsewhere.
        .no_proxy()
        .http1_only()
        .connect_timeout(options.timeout)
        .timeout(options.timeout)
        .pool_max_idle_per_host(0)
        .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &options.ca_pem {
        let certificates = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| format!("the CA file is not PEM certificates: {e}"))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if let (None, Some(ip)) = (target.ip(), options.connect) {
        // The port of an override is ignored: each URL names its own.
        builder = builder.resolve(&target.host, SocketAddr::new(ip, 0));
    }
    builder.build().map_err(|e| error_chain(&e))
}

/// Requests `first`, then follows same-origin redirects, recording each answer.
async fn exchange(
    client: &reqwest::Client,
    first: &str,
    host_header: Option<String>,
    read_body: bool,
    timeout: Duration,
) -> HttpExchange {
    let mut exchange = HttpExchange {
        url: first.to_owned(),
        ..HttpExchange::default()
    };
    let Ok(mut url) = Url::parse(first) else {
        exchange.error = Some(FetchError {
            url: first.to_owned(),
            stage: FetchStage::Setup,
            error: "not a URL".to_owned(),
            kind: Some(FailureKind::Other),
        });
        return exchange;
    };
    let origin = url.origin();
    for _ in 0..=MAX_REDIRECTS {
        let mut request = client.get(url.clone());
        if let Some(host) = &host_header {
            request = request.header(reqwest::header::HOST, host);
        }
        // reqwest's own timeout bounds each request; this one also covers a stuck body.
        let sent = tokio::time::timeout(timeout + Duration::from_secs(1), request.send()).await;
        let mut response = match sent {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                let (stage, kind) = classify(&error);
                exchange.error = Some(FetchError {
                    url: url.to_string(),
                    stage,
                    error: error_chain(&error),
                    kind: Some(kind),
                });
                return exchange;
            }
            Err(_) => {
                exchange.error = Some(FetchError {
                    url: url.to_string(),
                    stage: FetchStage::Timeout,
                    error: format!("no answer within {} s", timeout.as_secs_f64()),
                    kind: Some(FailureKind::Timeout),
                });
                return exchange;
            }
        };
        let mut hop = record(&url, &response);
        if hop.is_redirect() {
            let raw = hop.header("location").first().cloned().unwrap_or_default();
            let Ok(next) = url.join(&raw) else {
                exchange.stop = Some(RedirectStop::BadLocation { location: raw });
                exchange.hops.push(hop);
                return exchange;
            };
            hop.location = Some(next.to_string());
            exchange.hops.push(hop);
            if next.origin() != origin {
                exchange.stop = Some(RedirectStop::OtherOrigin {
                    location: next.to_string(),
                });
                return exchange;
            }
            url = next;
            continue;
        }
        exchange.hops.push(hop);
        if read_body && response.status() == reqwest::StatusCode::OK {
            let mut body = Vec::new();
            let read = tokio::time::timeout(timeout, async {
                while let Some(chunk) = response.chunk().await? {
                    let room = MAX_BODY_BYTES - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if chunk.len() > room {
                        return Ok(true);
                    }
                }
                Ok::<bool, reqwest::Error>(false)
            })
            .await;
            match read {
                Ok(Ok(truncated)) => exchange.body_truncated = truncated,
                Ok(Err(error)) => {
                    let (stage, kind) = classify(&error);
                    exchange.error = Some(FetchError {
                        url: url.to_string(),
                        stage,
                        error: error_chain(&error),
                        kind: Some(kind),
                    })
                }
                Err(_) => {
                    exchange.error = Some(FetchError {
                        url: url.to_string(),
                        stage: FetchStage::Timeout,
                        error: format!("body not received within {} s", timeout.as_secs_f64()),
                        kind: Some(FailureKind::Timeout),
                    })
                }
            }
            exchange.body = Some(String::from_utf8_lossy(&body).into_owned());
        }
        return exchange;
    }
    exchange.stop = Some(RedirectStop::TooMany {
        limit: MAX_REDIRECTS,
    });
    exchange
}

fn record(url: &Url, response: &reqwest::Response) -> HttpHop {
    let mut hop = HttpHop {
        url: url.to_string(),
        address: response.remote_addr().map(|a| a.to_string()),
        status: response.status().as_u16(),
        ..HttpHop::default()
    };
    for name in RECORDED_HEADERS {
        let values: Vec<String> = response
            .headers()
            .get_all(name)
            .iter()
            .take(MAX_HEADER_VALUES)
            .map(|value| bounded_text(value.as_bytes()))
            .collect();
        if !values.is_empty() {
            hop.headers.insert(name.to_owned(), values);
        }
    }
    hop
}

/// At most [`MAX_HEADER_VALUE_BYTES`] of `bytes` as text, invalid UTF-8 replaced.
fn bounded_text(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_HEADER_VALUE_BYTES)];
    String::from_utf8_lossy(cut).trim().to_owned()
}

/// Where the request failed, and the kind of the failure: both read from the typed causes
/// (reqwest's flags, the rustls and I/O errors inside).
fn classify(error: &reqwest::Error) -> (FetchStage, FailureKind) {
    if error.is_timeout() {
        return (FetchStage::Timeout, FailureKind::Timeout);
    }
    let mut found = None;
    let mut io_kind = None;
    walk(error, &mut |cause| {
        if found.is_some() {
            return;
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            // As the TLS probe counts it: no TLS at all (plain text) is `protocol`.
            let kind = match tls {
                rustls::Error::InvalidMessage(_) => FailureKind::Protocol,
                _ => FailureKind::Tls,
            };
            found = Some((FetchStage::Tls, kind));
        } else if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                found = Some((FetchStage::Refused, FailureKind::Refused));
            } else {
                io_kind.get_or_insert(FailureKind::of_io(io.kind()));
            }
        } else if cause.to_string().starts_with("dns error") {
            found = Some((FetchStage::Resolve, FailureKind::Name));
        }
    });
    match found {
        Some(found) => found,
        None if error.is_connect() => (FetchStage::Connect, io_kind.unwrap_or(FailureKind::Other)),
        // The peer answered, but not in valid HTTP (or with too large a head).
        None => (FetchStage::Http, FailureKind::Protocol),
    }
}

/// Calls `visit` on the error and its causes, looking inside `io::Error`s (whose `source`
/// skips the error they wrap); bounded depth.
fn walk<'a>(
    error: &'a (dyn std::error::Error + 'static),
    visit: &mut dyn FnMut(&'a (dyn std::error::Error + 'static)),
) {
    let mut next = Some(error);
    for _ in 0..10 {
        let Some(current) = next else { return };
        visit(current);
        next = match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
}

/// reqwest's top-level message ("error sending request") with the causes that say why.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    walk(error, &mut |cause| {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
    });
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> TlsTarget {
        text.parse().unwrap()
    }

    #[test]
    fn urls_keep_the_host_and_pin_ip_literals_to_connect() {
        let connect = Some("127.0.0.9".parse().unwrap());
        assert_eq!(
            origin_url("https", &target("www.example.ca"), 443, connect),
            "https://www.example.ca:443/"
        );
        assert_eq!(
            origin_url("http", &target("[::1]:8443"), 80, None),
            "http://[::1]:80/"
        );
        assert_eq!(
            origin_url("https", &target("192.0.2.1"), 443, connect),
            "https://127.0.0.9:443/"
        );
        assert_eq!(
            host_header(&target("192.0.2.1"), connect).as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(host_header(&target("www.example.ca"), connect), None);
    }

    #[test]
    fn header_values_are_bounded() {
        assert_eq!(bounded_text(&[b'a'; 10_000]).len(), MAX_HEADER_VALUE_BYTES);
        assert_eq!(bounded_text(b" nginx \xff"), "nginx \u{fffd}");
    }
}
