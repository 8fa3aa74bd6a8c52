//! What speaks on a port, told from the bytes it sends: pure parsers (bytes in, typed
//! [`Identification`] out) and the read-only requests that make servers speak.
//!
//! Nothing here touches a socket, so every parser is unit-tested on captured bytes and
//! fuzzed (`checks/fuzz`, target `service_banner`). Parsers never panic and never trust a
//! length field: every index is checked. A parser answers `None` when the bytes are not its
//! protocol (or not yet complete), never a guess from the port number.

pub use vigie_model::observation::services::{Auth, Identification, Service, Software};

/// The builders the parsers below chain on an [`Identification`].
trait Build {
    fn product(self, product: &str, version: Option<String>) -> Identification;
    fn detail(self, detail: impl Into<String>) -> Identification;
}

impl Build for Identification {
    fn product(mut self, product: &str, version: Option<String>) -> Identification {
        self.product = Some(product.to_owned());
        self.version = version.filter(|v| !v.is_empty());
        self
    }

    fn detail(mut self, detail: impl Into<String>) -> Identification {
        self.detail = Some(detail.into());
        self
    }
}

/// The longest banner kept in an observation, in characters after escaping.
pub const BANNER_MAX: usize = 256;

/// The banner as text for a report: at most `max` characters, printable ASCII kept,
/// `\r`, `\n`, `\t` and other control or non-ASCII bytes escaped (`\x1b`), an ellipsis when cut.
pub fn escape_banner(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &byte in bytes {
        let piece = match byte {
            b'\r' => "\\r".to_owned(),
            b'\n' => "\\n".to_owned(),
            b'\t' => "\\t".to_owned(),
            b'\\' => "\\\\".to_owned(),
            0x20..=0x7e => (byte as char).to_string(),
            _ => format!("\\x{byte:02x}"),
        };
        if out.len() + piece.len() > max {
            out.push('…');
            return out;
        }
        out.push_str(&piece);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Requests: what the probe sends. Read-only, no credentials, no payloads.
// ---------------------------------------------------------------------------------------

/// The read-only requests, one per protocol a silent port may speak.
pub mod requests {
    /// `GET /` with `Connection: close`.
    pub fn http_get(host: &str) -> Vec<u8> {
        format!(
            "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: vigie/{} (security posture scan)\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        )
        .into_bytes()
    }

    /// Redis inline `PING`.
    pub const REDIS_PING: &[u8] = b"PING\r\n";
    /// Redis `INFO server` (read-only; sent only when `PING` answered without a password).
    pub const REDIS_INFO: &[u8] = b"INFO server\r\n";
    /// memcached `version`.
    pub const MEMCACHED_VERSION: &[u8] = b"version\r\n";
    /// FTP `FEAT` (lists `AUTH TLS` when offered).
    pub const FTP_FEAT: &[u8] = b"FEAT\r\n";
    /// FTP `QUIT`.
    pub const FTP_QUIT: &[u8] = b"QUIT\r\n";
    /// POP3 `CAPA` (lists `STLS` when offered).
    pub const POP3_CAPA: &[u8] = b"CAPA\r\n";
    /// IMAP `CAPABILITY`.
    pub const IMAP_CAPABILITY: &[u8] = b"v1 CAPABILITY\r\n";
    /// PostgreSQL `SSLRequest` (length 8, code 80877103): answered by one byte, `S` or `N`.
    pub const POSTGRES_SSL_REQUEST: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    /// RDP: X.224 Connection Request with an RDP negotiation request (TLS | CredSSP).
    pub const RDP_CONNECTION_REQUEST: &[u8] = &[
        0x03, 0x00, 0x00, 0x13, // TPKT, length 19
        0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, // X.224 CR TPDU
        0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00, // RDP_NEG_REQ
    ];

    /// SMB: an SMB1 `NEGOTIATE` offering `NT LM 0.12`, `SMB 2.002` and `SMB 2.???`, so that
    /// SMB2/3 servers answer with their own negotiate response.
    pub fn smb_negotiate() -> Vec<u8> {
        let mut smb = vec![
            0xff, b'S', b'M', b'B', 0x72, // SMB_COM_NEGOTIATE
            0, 0, 0, 0,    // status
            0x18, // flags
            0x01, 0x48, // flags2: unicode, NT status, long names
            0, 0, // pid high
            0, 0, 0, 0, 0, 0, 0, 0, // signature
            0, 0, // reserved
            0xff, 0xff, // tid
            0x2f, 0x4b, // pid
            0, 0, // uid
            0, 0, // mid
            0, // word count
        ];
        let mut dialects = Vec::new();
        for dialect in ["NT LM 0.12", "SMB 2.002", "SMB 2.???"] {
            dialects.push(0x02);
            dialects.extend_from_slice(dialect.as_bytes());
            dialects.push(0);
        }
        smb.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
        smb.extend_from_slice(&dialects);
        let mut packet = vec![0];
        let length = smb.len() as u32;
        packet.extend_from_slice(&length.to_be_bytes()[1..]);
        packet.extend_from_slice(&smb);
        packet
    }

    /// MS SQL: a TDS `PRELOGIN` packet asking nothing but the server's version.
    pub fn mssql_prelogin() -> Vec<u8> {
        // Options: VERSION(0) 6 bytes, ENCRYPTION(1) 1, INSTOPT(2) 1, THREADID(3) 4, MARS(4) 1.
        let options: [(u8, u16); 5] = [(0, 6), (1, 1), (2, 1), (3, 4), (4, 1)];
        let mut table = Vec::new();
        let mut offset = (options.len() * 5 + 1) as u16;
        for (token, length) in options {
            table.push(token);
            table.extend_from_slice(&offset.to_be_bytes());
            table.extend_from_slice(&length.to_be_bytes());
            offset += length;
        }
        table.push(0xff);
        table.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // version (client: none)
        table.push(0x02); // ENCRYPT_NOT_SUP
        table.push(0); // default instance
        table.extend_from_slice(&[0, 0, 0, 0]); // thread id
        table.push(0); // MARS off
        let mut packet = vec![0x12, 0x01];
        packet.extend_from_slice(&((table.len() + 8) as u16).to_be_bytes());
        packet.extend_from_slice(&[0, 0, 0, 0]);
        packet.extend_from_slice(&table);
        packet
    }

    /// MongoDB `OP_MSG` command `{<command>: 1, <extra…>, $db: "admin"}`.
    pub fn mongodb_command(request_id: i32, command: &str, extra_true: &[&str]) -> Vec<u8> {
        let mut doc = Vec::new();
        bson_int32(&mut doc, command, 1);
        for key in extra_true {
            doc.push(0x08);
            cstring(&mut doc, key);
            doc.push(1);
        }
        doc.push(0x02);
        cstring(&mut doc, "$db");
        let db = b"admin\0";
        doc.extend_from_slice(&(db.len() as i32).to_le_bytes());
        doc.extend_from_slice(db);
        doc.push(0);
        let mut bson = ((doc.len() + 4) as i32).to_le_bytes().to_vec();
        bson.extend_from_slice(&doc);

        let mut body = Vec::new();
        body.extend_from_slice(&0u32.to_le_bytes()); // flagBits
        body.push(0); // section kind 0: body
        body.extend_from_slice(&bson);
        let mut message = Vec::new();
        message.extend_from_slice(&((body.len() + 16) as i32).to_le_bytes());
        message.extend_from_slice(&request_id.to_le_bytes());
        message.extend_from_slice(&0i32.to_le_bytes());
        message.extend_from_slice(&2013i32.to_le_bytes()); // OP_MSG
        message.extend_from_slice(&body);
        message
    }

    fn cstring(out: &mut Vec<u8>, key: &str) {
        out.extend_from_slice(key.as_bytes());
        out.push(0);
    }

    fn bson_int32(out: &mut Vec<u8>, key: &str, value: i32) {
        out.push(0x10);
        cstring(out, key);
        out.extend_from_slice(&value.to_le_bytes());
    }

    /// NFS: the ONC RPC `NULL` procedure (which does nothing) of program 100003 version 3,
    /// with no credentials, framed for TCP (RFC 5531).
    pub const NFS_NULL_CALL: &[u8] = &[
        0x80, 0x00, 0x00, 0x28, // last fragment, 40 bytes
        0x56, 0x49, 0x47, 0x45, // xid "VIGE"
        0, 0, 0, 0, // CALL
        0, 0, 0, 2, // RPC version 2
        0x00, 0x01, 0x86, 0xa3, // program 100003 (NFS)
        0, 0, 0, 3, // version 3
        0, 0, 0, 0, // procedure 0: NULL
        0, 0, 0, 0, 0, 0, 0, 0, // credentials: AUTH_NONE
        0, 0, 0, 0, 0, 0, 0, 0, // verifier: AUTH_NONE
    ];

    /// LDAP: an anonymous search of the root DSE (base `""`, scope base, `(objectClass=*)`),
    /// asking only `supportedLDAPVersion`. Every LDAP server answers it by design.
    pub fn ldap_root_dse() -> Vec<u8> {
        fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
            let mut out = vec![tag, value.len() as u8];
            out.extend_from_slice(value);
            out
        }
        let mut search = Vec::new();
        search.extend(tlv(0x04, b"")); // baseObject
        search.extend(tlv(0x0a, &[0])); // scope: baseObject
        search.extend(tlv(0x0a, &[0])); // derefAliases: never
        search.extend(tlv(0x02, &[0])); // sizeLimit
        search.extend(tlv(0x02, &[0])); // timeLimit
        search.extend(tlv(0x01, &[0])); // typesOnly: false
        search.extend(tlv(0x87, b"objectClass")); // present filter
        search.extend(tlv(0x30, &tlv(0x04, b"supportedLDAPVersion")));
        let mut message = tlv(0x02, &[1]); // messageID
        message.extend(tlv(0x63, &search));
        tlv(0x30, &message)
    }
}

// ---------------------------------------------------------------------------------------
// Greetings: protocols where the server speaks first.
// ---------------------------------------------------------------------------------------

/// Whether a greeting is complete enough to parse: a whole line, a whole MySQL packet, the
/// 12 bytes of an RFB version, or Telnet negotiation.
pub fn greeting_complete(bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return false;
    }
    if bytes.first() == Some(&0xff) {
        return true; // Telnet IAC
    }
    if let Some(length) = mysql_packet_length(bytes) {
        if bytes.len() >= length + 4 {
            return true;
        }
    }
    if bytes.starts_with(b"RFB ") {
        return bytes.len() >= 12;
    }
    // Multi-line replies (`220-…`) end with a line whose code is followed by a space.
    let text = String::from_utf8_lossy(bytes);
    let Some(last_newline) = text.rfind('\n') else {
        return false;
    };
    let complete = &text[..last_newline];
    let last_line = complete
        .rsplit('\n')
        .next()
        .unwrap_or("")
        .trim_end_matches('\r');
    let code = last_line.get(..3).unwrap_or("");
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) {
        return last_line.as_bytes().get(3) != Some(&b'-');
    }
    true
}

/// Identifies a server that spoke first: SSH, FTP, SMTP, POP3, IMAP, VNC, Telnet, MySQL.
pub fn parse_greeting(bytes: &[u8]) -> Option<Identification> {
    if bytes.is_empty() {
        return None;
    }
    if let Some(found) = parse_telnet(bytes) {
        return Some(found);
    }
    if let Some(found) = parse_mysql(bytes) {
        return Some(found);
    }
    if let Some(found) = parse_vnc(bytes) {
        return Some(found);
    }
    let text = String::from_utf8_lossy(bytes);
    let first = text.lines().next().unwrap_or("").trim_end();
    if let Some(rest) = first.strip_prefix("SSH-") {
        return Some(parse_ssh(rest));
    }
    if first.starts_with("+OK") {
        let mut found = Identification::new(Service::Pop3);
        if first.to_ascii_lowercase().contains("dovecot") {
            found = found.product("Dovecot", None);
        }
        return Some(found);
    }
    if first.starts_with("* OK") || first.starts_with("* PREAUTH") {
        let mut found = Identification::new(Service::Imap);
        let upper = first.to_ascii_uppercase();
        if upper.contains("[CAPABILITY ") {
            found.starttls = Some(upper.contains("STARTTLS"));
        }
        if first.to_ascii_lowercase().contains("dovecot") {
            found = found.product("Dovecot", None);
        }
        return Some(found);
    }
    if first.starts_with("220") {
        return parse_220(&text);
    }
    None
}

fn parse_ssh(rest: &str) -> Identification {
    // SSH-protoversion-softwareversion SP comments
    let software = rest.split_once('-').map(|(_, s)| s).unwrap_or("");
    let software = software.split(' ').next().unwrap_or("");
    let found = Identification::new(Service::Ssh);
    let (name, version) = match software.split_once('_') {
        Some((name, version)) => (name, Some(version.to_owned())),
        None => (software, None),
    };
    match name.to_ascii_lowercase().as_str() {
        "" => found,
        "openssh" => found.product("OpenSSH", version),
        "dropbear" => found.product("Dropbear", version),
        _ => found.product(name, version),
    }
}

/// A `220` greeting: FTP or SMTP, told by what it says of itself.
fn parse_220(text: &str) -> Option<Identification> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("ftp") {
        let mut found = Identification::new(Service::Ftp);
        if let Some(version) = version_after(text, "vsFTPd ") {
            found = found.product("vsftpd", Some(version));
        } else if let Some(version) = version_after(text, "ProFTPD ") {
            found = found.product("ProFTPD", Some(version));
        } else if lower.contains("pure-ftpd") {
            found = found.product("Pure-FTPd", None);
        } else if let Some(version) = version_after(text, "FileZilla Server ") {
            found = found.product("FileZilla Server", Some(version));
        } else if lower.contains("microsoft ftp") {
            found = found.product("Microsoft FTP Service", None);
        }
        return Some(found);
    }
    if lower.contains("smtp") || lower.contains("postfix") || lower.contains("exim") {
        let mut found = Identification::new(Service::Smtp);
        if let Some(version) = version_after(text, "Exim ") {
            found = found.product("Exim", Some(version));
        } else if lower.contains("postfix") {
            found = found.product("Postfix", None);
        } else if let Some(version) = version_after(text, "Sendmail ") {
            found = found.product("Sendmail", Some(version));
        } else if lower.contains("microsoft esmtp") {
            found = found.product("Microsoft Exchange", None);
        }
        return Some(found);
    }
    None
}

/// The dotted version right after `marker` (`"Exim "` in `ESMTP Exim 4.96 …` → `4.96`).
fn version_after(text: &str, marker: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find(&marker.to_ascii_lowercase())? + marker.len();
    let version: String = text
        .get(at..)?
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    let version = version.trim_end_matches(['.', '-']).to_owned();
    version
        .starts_with(|c: char| c.is_ascii_digit())
        .then_some(version)
}

fn parse_telnet(bytes: &[u8]) -> Option<Identification> {
    // IAC (255) followed by WILL/WONT/DO/DONT (251–254) and an option.
    let first = bytes.first()?;
    let verb = bytes.get(1)?;
    (*first == 0xff && (0xfb..=0xfe).contains(verb)).then(|| Identification::new(Service::Telnet))
}

fn parse_vnc(bytes: &[u8]) -> Option<Identification> {
    // "RFB 003.008\n"
    let version = bytes.get(..12)?;
    if !version.starts_with(b"RFB ") || version.get(11) != Some(&b'\n') {
        return None;
    }
    let text = std::str::from_utf8(version.get(4..11)?).ok()?;
    let (major, minor) = text.split_once('.')?;
    let major: u32 = major.parse().ok()?;
    let minor: u32 = minor.parse().ok()?;
    Some(Identification::new(Service::Vnc).detail(format!("RFB {major}.{minor}")))
}

fn mysql_packet_length(bytes: &[u8]) -> Option<usize> {
    let header = bytes.get(..4)?;
    let length =
        usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    (header[3] == 0 && length > 0).then_some(length)
}

/// The MySQL/MariaDB initial handshake (protocol 10) or the error packet a server sends to a
/// client it refuses (e.g. "Host … is not allowed to connect").
fn parse_mysql(bytes: &[u8]) -> Option<Identification> {
    let length = mysql_packet_length(bytes)?;
    let payload = bytes.get(4..4 + length)?;
    match payload.first()? {
        0x0a => {
            let rest = payload.get(1..)?;
            let end = rest.iter().position(|b| *b == 0)?;
            let version = std::str::from_utf8(rest.get(..end)?).ok()?;
            if version.is_empty() || !version.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            // Thread id (4) and the first 8 bytes of the scramble must follow.
            rest.get(end + 1 + 4 + 8)?;
            let found = Identification::new(Service::Mysql);
            // MariaDB: "5.5.5-10.11.6-MariaDB-0+deb12u1" or "11.4.2-MariaDB".
            if version.contains("MariaDB") {
                let bare = version.strip_prefix("5.5.5-").unwrap_or(version);
                let number = bare.split('-').next().unwrap_or(bare);
                return Some(found.product("MariaDB", Some(number.to_owned())));
            }
            let number = version.split(['-', ' ']).next().unwrap_or(version);
            Some(found.product("MySQL", Some(number.to_owned())))
        }
        0xff => {
            // Error packet: code (2), then the message (no SQL state before the handshake).
            let code = u16::from_le_bytes([*payload.get(1)?, *payload.get(2)?]);
            let message = payload.get(3..)?;
            if !(1000..3000).contains(&code) || message.is_empty() {
                return None;
            }
            if !message.iter().all(|b| (0x20..0x7f).contains(b)) {
                return None;
            }
            Some(Identification::new(Service::Mysql).detail(format!("error {code}")))
        }
        _ => None,
    }
}

/// The answer to FTP `FEAT`: `Some(true)` when `AUTH TLS` is listed, `Some(false)` when the
/// reply is complete without it (or `FEAT` is refused), `None` when incomplete.
pub fn parse_ftp_feat(bytes: &[u8]) -> Option<bool> {
    let text = String::from_utf8_lossy(bytes);
    let upper = text.to_ascii_uppercase();
    let lines: Vec<&str> = upper.lines().collect();
    let last = lines.iter().rev().find(|line| line.len() >= 3)?;
    let code = last.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) || last.as_bytes().get(3) == Some(&b'-') {
        return None;
    }
    if code.starts_with('5') {
        return Some(false);
    }
    Some(
        lines
            .iter()
            .any(|line| line.trim_start().starts_with("AUTH") && line.contains("TLS")),
    )
}

/// The answer to POP3 `CAPA`: whether `STLS` is listed (`-ERR` counts as not offered).
pub fn parse_pop3_capa(bytes: &[u8]) -> Option<bool> {
    let text = String::from_utf8_lossy(bytes).to_ascii_uppercase();
    if text.starts_with("-ERR") {
        return Some(false);
    }
    if !text.starts_with("+OK") || !(text.contains("\n.\r\n") || text.contains("\n.\n")) {
        return None;
    }
    Some(text.lines().any(|line| line.trim() == "STLS"))
}

/// The answer to IMAP `v1 CAPABILITY`: whether `STARTTLS` is listed.
pub fn parse_imap_capability(bytes: &[u8]) -> Option<bool> {
    let text = String::from_utf8_lossy(bytes).to_ascii_uppercase();
    if !text.lines().any(|line| line.starts_with("V1 ")) {
        return None;
    }
    let capability = text.lines().find(|line| line.starts_with("* CAPABILITY"))?;
    Some(capability.split_whitespace().any(|word| word == "STARTTLS"))
}

// ---------------------------------------------------------------------------------------
// HTTP and what answers over it (Elasticsearch, CouchDB).
// ---------------------------------------------------------------------------------------

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

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

// ---------------------------------------------------------------------------------------
// Client-first binary and text protocols.
// ---------------------------------------------------------------------------------------

/// Redis' answer to `PING`: `+PONG` (no password), `-NOAUTH` (a password is required),
/// `-DENIED` (protected mode).
pub fn parse_redis_ping(bytes: &[u8]) -> Option<Identification> {
    let line = first_line(bytes)?;
    let found = Identification::new(Service::Redis).product("Redis", None);
    let auth = if line == "+PONG" {
        Auth::NotRequired
    } else if line.starts_with("-NOAUTH")
        || line.starts_with("-DENIED Redis")
        || (line.starts_with("-ERR") && line.contains("AUTH") && line.contains("password"))
    {
        Auth::Required
    } else {
        return None;
    };
    Some(Identification {
        auth: Some(auth),
        ..found
    })
}

/// `redis_version:7.0.15` from the answer to `INFO server`.
pub fn parse_redis_info(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines().find_map(|line| {
        line.strip_prefix("redis_version:")
            .map(|v| v.trim().chars().take(32).collect())
    })
}

/// Whether the `INFO` bulk reply (`$<len>\r\n…\r\n`) is complete.
pub fn redis_info_complete(bytes: &[u8]) -> bool {
    let Some(line) = first_line(bytes) else {
        return false;
    };
    match line.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
        Some(length) => bytes.len() >= line.len() + 2 + length + 2,
        None => true,
    }
}

/// memcached's answer to `version`: `VERSION 1.6.21`.
pub fn parse_memcached(bytes: &[u8]) -> Option<Identification> {
    let line = first_line(bytes)?;
    let version = line.strip_prefix("VERSION ")?;
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut found = Identification::new(Service::Memcached)
        .product("memcached", Some(version.chars().take(32).collect()));
    found.auth = Some(Auth::NotRequired);
    Some(found)
}

fn first_line(bytes: &[u8]) -> Option<String> {
    let end = find(bytes, b"\r\n")?;
    let line = std::str::from_utf8(bytes.get(..end)?).ok()?;
    Some(line.to_owned())
}

/// PostgreSQL's answer to `SSLRequest`: exactly one byte, `S` (TLS offered) or `N`.
pub fn parse_postgres(bytes: &[u8]) -> Option<Identification> {
    let found = Identification::new(Service::Postgresql).product("PostgreSQL", None);
    match bytes {
        [b'S'] => Some(found.detail("TLS offered")),
        [b'N'] => Some(found.detail("TLS not offered")),
        _ => None,
    }
}

/// The TDS `PRELOGIN` response of MS SQL Server, with its version.
pub fn parse_mssql(bytes: &[u8]) -> Option<Identification> {
    let header = bytes.get(..8)?;
    if header[0] != 0x04 {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if length < 8 + 6 || length > bytes.len() {
        return None;
    }
    let payload = bytes.get(8..length)?;
    let mut at = 0;
    let mut version = None;
    let mut terminated = false;
    for _ in 0..16 {
        let token = *payload.get(at)?;
        if token == 0xff {
            terminated = true;
            break;
        }
        let offset = usize::from(u16::from_be_bytes([
            *payload.get(at + 1)?,
            *payload.get(at + 2)?,
        ]));
        let size = usize::from(u16::from_be_bytes([
            *payload.get(at + 3)?,
            *payload.get(at + 4)?,
        ]));
        if token == 0 && size >= 6 {
            let v = payload.get(offset..offset + 6)?;
            let build = u16::from_be_bytes([v[2], v[3]]);
            version = Some(format!("{}.{}.{}", v[0], v[1], build));
        }
        at += 5;
    }
    if !terminated {
        return None;
    }
    Some(Identification::new(Service::Mssql).product("Microsoft SQL Server", version))
}

/// The reply to an `OP_MSG` command: the top-level BSON document, as (key, value) pairs
/// whose value is summarized (numbers and booleans and strings kept).
fn mongodb_reply(bytes: &[u8]) -> Option<Vec<(String, BsonValue)>> {
    let header = bytes.get(..16)?;
    let length = i32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let opcode = i32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    let length = usize::try_from(length).ok()?;
    if opcode != 2013 || length > bytes.len() || length < 21 {
        return None;
    }
    // flagBits (4), section kind (1) = 0, then the document.
    if *bytes.get(20)? != 0 {
        return None;
    }
    bson_document(bytes.get(21..length)?)
}

/// Whether an `OP_MSG` reply is complete.
pub fn mongodb_complete(bytes: &[u8]) -> bool {
    match bytes.get(..4) {
        Some(h) => {
            let length = i32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            usize::try_from(length).is_ok_and(|length| bytes.len() >= length)
        }
        None => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum BsonValue {
    Number(f64),
    Bool(bool),
    Text(String),
    Other,
}

/// A minimal walk over the top level of a BSON document.
fn bson_document(doc: &[u8]) -> Option<Vec<(String, BsonValue)>> {
    let length = usize::try_from(i32::from_le_bytes(doc.get(..4)?.try_into().ok()?)).ok()?;
    let doc = doc.get(..length)?;
    let mut at = 4;
    let mut out = Vec::new();
    for _ in 0..256 {
        let kind = *doc.get(at)?;
        if kind == 0 {
            return Some(out);
        }
        at += 1;
        let name_end = at + doc.get(at..)?.iter().position(|b| *b == 0)?;
        let name = String::from_utf8_lossy(doc.get(at..name_end)?).into_owned();
        at = name_end + 1;
        let i32_at = |at: usize| -> Option<usize> {
            usize::try_from(i32::from_le_bytes(doc.get(at..at + 4)?.try_into().ok()?)).ok()
        };
        let (value, size) = match kind {
            0x01 => (
                BsonValue::Number(f64::from_le_bytes(doc.get(at..at + 8)?.try_into().ok()?)),
                8,
            ),
            0x02 => {
                let n = i32_at(at)?;
                let text = doc.get(at + 4..(at + 4 + n).checked_sub(1)?)?;
                (
                    BsonValue::Text(String::from_utf8_lossy(text).into_owned()),
                    4 + n,
                )
            }
            0x03 | 0x04 => (BsonValue::Other, i32_at(at)?),
            0x05 => (BsonValue::Other, 5 + i32_at(at)?),
            0x07 => (BsonValue::Other, 12),
            0x08 => (BsonValue::Bool(*doc.get(at)? != 0), 1),
            0x09 | 0x11 => (BsonValue::Other, 8),
            0x0a => (BsonValue::Other, 0),
            0x10 => (
                BsonValue::Number(f64::from(i32::from_le_bytes(
                    doc.get(at..at + 4)?.try_into().ok()?,
                ))),
                4,
            ),
            0x12 => (
                BsonValue::Number(i64::from_le_bytes(doc.get(at..at + 8)?.try_into().ok()?) as f64),
                8,
            ),
            0x13 => (BsonValue::Other, 16),
            _ => return None,
        };
        if size == 0 && kind != 0x0a {
            return None;
        }
        at = at.checked_add(size)?;
        out.push((name, value));
    }
    None
}

/// MongoDB's answer to `hello`: a document with `maxWireVersion`.
pub fn parse_mongodb_hello(bytes: &[u8]) -> Option<Identification> {
    let fields = mongodb_reply(bytes)?;
    let wire = fields.iter().find_map(|(key, value)| match value {
        BsonValue::Number(n) if key == "maxWireVersion" => Some(*n),
        _ => None,
    })?;
    Some(
        Identification::new(Service::Mongodb)
            .product("MongoDB", None)
            .detail(format!("wire version {wire}")),
    )
}

/// MongoDB's answer to `listDatabases` (names only): `ok: 1` means it answered without
/// credentials; `ok: 0` with `Unauthorized` (code 13) means authentication is on.
pub fn parse_mongodb_list_databases(bytes: &[u8]) -> Option<Auth> {
    let fields = mongodb_reply(bytes)?;
    let ok = fields.iter().find_map(|(key, value)| match value {
        BsonValue::Number(n) if key == "ok" => Some(*n),
        BsonValue::Bool(b) if key == "ok" => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    })?;
    if ok >= 1.0 {
        return Some(Auth::NotRequired);
    }
    let code = fields.iter().find_map(|(key, value)| match value {
        BsonValue::Number(n) if key == "code" => Some(*n),
        _ => None,
    });
    let name = fields.iter().find_map(|(key, value)| match value {
        BsonValue::Text(t) if key == "codeName" => Some(t.as_str()),
        _ => None,
    });
    (code == Some(13.0) || name == Some("Unauthorized")).then_some(Auth::Required)
}

/// The X.224 Connection Confirm of an RDP server, with the security protocol it selected.
pub fn parse_rdp(bytes: &[u8]) -> Option<Identification> {
    let tpkt = bytes.get(..4)?;
    if tpkt[0] != 0x03 || tpkt[1] != 0 {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([tpkt[2], tpkt[3]]));
    if length < 11 || length > bytes.len() {
        return None;
    }
    // X.224: length indicator, then CC (0xd0).
    if bytes.get(5)? & 0xf0 != 0xd0 {
        return None;
    }
    let found = Identification::new(Service::Rdp);
    let detail = match (bytes.get(11), bytes.get(15)) {
        (Some(0x02), Some(protocol)) => match protocol {
            0 => "standard RDP security",
            1 => "TLS",
            2 => "CredSSP (NLA)",
            8 => "RDSTLS",
            _ => "negotiated",
        },
        (Some(0x03), _) => "negotiation failure",
        _ => "no negotiation (legacy RDP security)",
    };
    Some(found.detail(detail))
}

/// The answer to the SMB negotiate: SMB1 or SMB2/3 with its dialect, or a NetBIOS session
/// service that refused the session (port 139 without a session request).
pub fn parse_smb(bytes: &[u8]) -> Option<Identification> {
    let kind = *bytes.first()?;
    if kind == 0x82 || kind == 0x83 {
        if bytes.len() >= 4 && bytes.get(1..3) == Some(&[0, 0][..]) {
            return Some(Identification::new(Service::Netbios).detail("NetBIOS session service"));
        }
        return None;
    }
    if kind != 0 {
        return None;
    }
    let smb = bytes.get(4..)?;
    if smb.starts_with(b"\xffSMB") {
        if *smb.get(4)? != 0x72 {
            return None;
        }
        return Some(Identification::new(Service::Smb).detail("SMB1"));
    }
    if smb.starts_with(b"\xfeSMB") {
        // SMB2 header (64 bytes), then StructureSize (2), SecurityMode (2), DialectRevision.
        let dialect = u16::from_le_bytes([*smb.get(68)?, *smb.get(69)?]);
        let name = match dialect {
            0x0202 => "SMB 2.0.2",
            0x0210 => "SMB 2.1",
            0x0300 => "SMB 3.0",
            0x0302 => "SMB 3.0.2",
            0x0311 => "SMB 3.1.1",
            0x02ff => "SMB 2.x",
            _ => "SMB2+",
        };
        return Some(Identification::new(Service::Smb).detail(name));
    }
    None
}

/// The ONC RPC reply to [`requests::NFS_NULL_CALL`]: NFS when the call was accepted and the
/// program is there (`SUCCESS`, or `PROG_MISMATCH` naming the versions it serves).
pub fn parse_nfs(bytes: &[u8]) -> Option<Identification> {
    let word = |index: usize| -> Option<u32> {
        let at = 4 + index * 4;
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    // xid, REPLY, MSG_ACCEPTED, verifier flavor and length, accept_stat.
    if word(0)? != 0x5649_4745 || word(1)? != 1 || word(2)? != 0 {
        return None;
    }
    let verifier_length = usize::try_from(word(4)?).ok()?;
    if verifier_length > 400 {
        return None;
    }
    let after = 5 + verifier_length.div_ceil(4);
    let found = Identification::new(Service::Nfs);
    match word(after)? {
        0 => Some(found.detail("NFS v3")),
        2 => {
            let (low, high) = (word(after + 1)?, word(after + 2)?);
            Some(found.detail(format!("NFS v{low}–v{high}")))
        }
        _ => None,
    }
}

/// Whether an RPC record (one fragment) is complete.
pub fn rpc_complete(bytes: &[u8]) -> bool {
    match bytes.get(..4) {
        Some(mark) => {
            let length = u32::from_be_bytes([mark[0] & 0x7f, mark[1], mark[2], mark[3]]);
            usize::try_from(length).is_ok_and(|length| bytes.len() >= 4 + length)
        }
        None => false,
    }
}

/// An LDAP response to the root DSE search: a `LDAPMessage` with message id 1 and a search
/// entry, search done or notice of disconnection.
pub fn parse_ldap(bytes: &[u8]) -> Option<Identification> {
    if *bytes.first()? != 0x30 {
        return None;
    }
    let (_, mut at) = ber_length(bytes, 1)?;
    if *bytes.get(at)? != 0x02 {
        return None;
    }
    let (id_len, id_at) = ber_length(bytes, at + 1)?;
    if id_len == 0 || id_len > 4 {
        return None;
    }
    at = id_at + id_len;
    match *bytes.get(at)? {
        0x64 | 0x65 | 0x78 => Some(Identification::new(Service::Ldap)),
        _ => None,
    }
}

fn ber_length(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *bytes.get(at)?;
    if first < 0x80 {
        return Some((usize::from(first), at + 1));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 {
        return None;
    }
    let mut length = 0usize;
    for i in 0..count {
        length = (length << 8) | usize::from(*bytes.get(at + 1 + i)?);
    }
    Some((length, at + 1 + count))
}

/// Runs every parser over bytes, for the fuzz target: none may panic.
pub fn parse_any(bytes: &[u8]) -> Vec<Identification> {
    let _ = greeting_complete(bytes);
    let _ = http_complete(bytes);
    let _ = mongodb_complete(bytes);
    let _ = redis_info_complete(bytes);
    let _ = rpc_complete(bytes);
    let _ = parse_ftp_feat(bytes);
    let _ = parse_pop3_capa(bytes);
    let _ = parse_imap_capability(bytes);
    let _ = parse_redis_info(bytes);
    let _ = parse_mongodb_list_databases(bytes);
    let _ = escape_banner(bytes, BANNER_MAX);
    [
        parse_greeting(bytes),
        parse_http(bytes),
        parse_redis_ping(bytes),
        parse_memcached(bytes),
        parse_postgres(bytes),
        parse_mssql(bytes),
        parse_mongodb_hello(bytes),
        parse_rdp(bytes),
        parse_smb(bytes),
        parse_ldap(bytes),
        parse_nfs(bytes),
    ]
    .into_iter()
    .flatten()
    .collect()
}
