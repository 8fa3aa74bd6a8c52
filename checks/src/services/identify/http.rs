//! HTTP, and what answers over it (Elasticsearch, CouchDB).

use super::{find, Auth, Build, Identification, Service, Software};

/// Whether an HTTP response has all its body (by `Content-Length`); without a length the
/// probe reads until the server closes (it asked `Connection: close`) or the cap.
pub fn http_complete(bytes: &[u8]) -> bool {
    let Some(end) = find(bytes, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&bytes[..end]);
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    match length {
        Some(length) => bytes.len() >= end + 4 + length,
        None => false,
    }
}

/// An HTTP response: status, `Server` header, `WWW-Authenticate`, title; Elasticsearch and
/// CouchDB recognized by their root JSON.
pub fn parse_http(bytes: &[u8]) -> Option<Identification> {
    let head_end = find(bytes, b"\r\n\r\n").or_else(|| find(bytes, b"\n\n"))?;
    let head = String::from_utf8_lossy(bytes.get(..head_end)?);
    let mut lines = head.lines();
    let status_line = lines.next()?;
    let mut parts = status_line.split_whitespace();
    let protocol = parts.next()?;
    if !protocol.starts_with("HTTP/1.") && protocol != "HTTP/2" {
        return None;
    }
    let status: u16 = parts.next()?.parse().ok()?;
    if !(100..600).contains(&status) {
        return None;
    }
    let mut server = None;
    let mut basic = false;
    let mut elastic_header = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "server" => server = Some(value.to_owned()),
            "www-authenticate" => {
                basic |= value.to_ascii_lowercase().starts_with("basic");
            }
            "x-elastic-product" => elastic_header = true,
            _ => {}
        }
    }
    let body = bytes.get(head_end..).unwrap_or(&[]);
    let body_text = String::from_utf8_lossy(body);
    let json: Option<serde_json::Value> = serde_json::from_str(body_text.trim()).ok();

    let mut found = Identification::new(Service::Http);
    if let Some(json) = &json {
        let version = json
            .pointer("/version/number")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let tagline = json.get("tagline").and_then(|v| v.as_str()).unwrap_or("");
        if json.get("cluster_name").is_some() && tagline.contains("You Know, for Search") {
            found = Identification::new(Service::Elasticsearch).product("Elasticsearch", version);
        } else if json.get("cluster_name").is_some() && tagline.contains("OpenSearch") {
            found = Identification::new(Service::Elasticsearch).product("OpenSearch", version);
        } else if json.get("couchdb").is_some() {
            let version = json
                .get("version")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            found = Identification::new(Service::Couchdb).product("CouchDB", version);
        }
    }
    if found.service == Service::Http && elastic_header {
        found = Identification::new(Service::Elasticsearch).product("Elasticsearch", None);
    }
    match found.service {
        Service::Elasticsearch | Service::Couchdb => {
            found.auth = Some(match status {
                200..=299 => Auth::NotRequired,
                _ => Auth::Required,
            });
            if status == 401 || status == 403 {
                found.auth = Some(Auth::Required);
            }
        }
        _ => {
            if let Some(server) = &server {
                let mut software = parse_server_header(server);
                if !software.is_empty() {
                    let first = software.remove(0);
                    found.product = Some(first.product);
                    found.version = first.version;
                    found.components = software;
                } else if !server.is_empty() {
                    found.product = Some(server.chars().take(64).collect());
                }
            }
            found.title = html_title(&body_text);
        }
    }
    found.basic_auth = status == 401 && basic;
    found.detail = Some(format!("HTTP {status}"));
    Some(found)
}

/// `Apache/2.4.41 (Ubuntu) OpenSSL/1.1.1f` → Apache httpd 2.4.41, OpenSSL 1.1.1f.
pub fn parse_server_header(value: &str) -> Vec<Software> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut clean = String::new();
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => clean.push(c),
            _ => {}
        }
    }
    for token in clean.split_whitespace().take(8) {
        let (name, version) = match token.split_once('/') {
            Some((name, version)) => (name, Some(version)),
            None => (token, None),
        };
        if name.is_empty() {
            continue;
        }
        let product = match name.to_ascii_lowercase().as_str() {
            "apache" => "Apache httpd".to_owned(),
            "nginx" => "nginx".to_owned(),
            "openssl" => "OpenSSL".to_owned(),
            _ => name.chars().take(64).collect(),
        };
        let version = version
            .map(|v| v.chars().take(32).collect::<String>())
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()));
        out.push(Software { product, version });
    }
    out
}

fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower.get(open..)?.find('>')? + 1;
    let end = start + lower.get(start..)?.find("</title")?;
    let title: String = body
        .get(start..end)?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then(|| title.chars().take(120).collect())
}
