//! Client-first binary and text protocols: Redis, memcached, PostgreSQL, SQL Server, MongoDB,
//! RDP, SMB, NFS, LDAP. The probe asks (see [`super::requests`]); these read the answer.

use super::{find, Auth, Build, Identification, Service};

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
