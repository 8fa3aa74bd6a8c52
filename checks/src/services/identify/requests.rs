//! What the probe sends to make a silent port speak: read-only, no credentials, no payloads.

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
