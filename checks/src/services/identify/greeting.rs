//! Protocols where the server speaks first: SSH, SMTP, FTP, POP3, IMAP, Telnet, VNC, MySQL,
//! and the read-only capability answers that follow their greeting.

use super::{Build, Identification, Service};

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
