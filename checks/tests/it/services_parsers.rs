//! Pure parts of the service checks: identification of captured server bytes, port sets and
//! the bundled ranking, the maintained-branches table, scope expansion and the risk rules.

use std::collections::BTreeMap;
use std::net::IpAddr;

use vigie_checks::services::identify::{self, requests, BANNER_MAX};
use vigie_checks::services::observation::Unresolved;
use vigie_checks::services::ports::{parse_ranking, ranking};
use vigie_checks::services::scope::DEFAULT_MAX_ADDRESSES;
use vigie_checks::services::{
    expand, Auth, HostObservation, Identification, PortObservation, PortSet, PortState, Scope,
    ScopeError, Service, ServiceTarget, ServicesObservation,
};
use vigie_grade::services::evaluate;
use vigie_grade::services::versions;
use vigie_model::{Check, Lang, Status};

// ---------------------------------------------------------------------------------------
// Identification of captured bytes
// ---------------------------------------------------------------------------------------

#[test]
fn ssh_banners_name_product_and_version() {
    let found = identify::parse_greeting(b"SSH-2.0-OpenSSH_7.4\r\n").unwrap();
    assert_eq!(found.service, Service::Ssh);
    assert_eq!(found.product.as_deref(), Some("OpenSSH"));
    assert_eq!(found.version.as_deref(), Some("7.4"));
    let found = identify::parse_greeting(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n").unwrap();
    assert_eq!(found.version.as_deref(), Some("9.2p1"));
    let found = identify::parse_greeting(b"SSH-2.0-dropbear_2022.83\r\n").unwrap();
    assert_eq!(found.product.as_deref(), Some("Dropbear"));
    assert_eq!(found.version.as_deref(), Some("2022.83"));
}

#[test]
fn ftp_and_smtp_greetings_are_told_apart_by_what_they_say() {
    let found = identify::parse_greeting(b"220 (vsFTPd 3.0.3)\r\n").unwrap();
    assert_eq!(found.service, Service::Ftp);
    assert_eq!(found.product.as_deref(), Some("vsftpd"));
    assert_eq!(found.version.as_deref(), Some("3.0.3"));
    let found =
        identify::parse_greeting(b"220 ProFTPD 1.3.5e Server (Debian) [::ffff:192.0.2.10]\r\n")
            .unwrap();
    assert_eq!(found.product.as_deref(), Some("ProFTPD"));
    assert_eq!(found.version.as_deref(), Some("1.3.5e"));
    let found = identify::parse_greeting(
        b"220 mail.example.ca ESMTP Exim 4.92 Mon, 23 Nov 2026 10:00:00 +0000\r\n",
    )
    .unwrap();
    assert_eq!(found.service, Service::Smtp);
    assert_eq!(found.product.as_deref(), Some("Exim"));
    assert_eq!(found.version.as_deref(), Some("4.92"));
    let found =
        identify::parse_greeting(b"220 mx.example.ca ESMTP Postfix (Debian/GNU)\r\n").unwrap();
    assert_eq!(found.product.as_deref(), Some("Postfix"));
    assert_eq!(found.version, None);
    assert_eq!(
        identify::parse_greeting(b"220 hello\r\n"),
        None,
        "unknown 220"
    );
}

#[test]
fn mail_greetings_and_capabilities() {
    let pop = identify::parse_greeting(b"+OK Dovecot (Debian) ready.\r\n").unwrap();
    assert_eq!(pop.service, Service::Pop3);
    assert_eq!(pop.product.as_deref(), Some("Dovecot"));
    let imap = identify::parse_greeting(
        b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
    )
    .unwrap();
    assert_eq!(imap.service, Service::Imap);
    assert_eq!(imap.starttls, Some(true));
    let bare = identify::parse_greeting(b"* OK IMAP4rev1 server ready\r\n").unwrap();
    assert_eq!(bare.starttls, None, "not announced: ask CAPABILITY");

    assert_eq!(
        identify::parse_pop3_capa(b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nSTLS\r\nUSER\r\n.\r\n"),
        Some(true)
    );
    assert_eq!(
        identify::parse_pop3_capa(b"+OK\r\nTOP\r\nUSER\r\n.\r\n"),
        Some(false)
    );
    assert_eq!(
        identify::parse_pop3_capa(b"+OK\r\nTOP\r\n"),
        None,
        "incomplete"
    );
    assert_eq!(
        identify::parse_imap_capability(
            b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\nv1 OK done\r\n"
        ),
        Some(true)
    );
    assert_eq!(
        identify::parse_imap_capability(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nv1 OK done\r\n"),
        Some(false)
    );
    assert_eq!(
        identify::parse_ftp_feat(b"211-Features:\r\n EPRT\r\n AUTH TLS\r\n PBSZ\r\n211 End\r\n"),
        Some(true)
    );
    assert_eq!(
        identify::parse_ftp_feat(b"211-Features:\r\n EPRT\r\n MDTM\r\n211 End\r\n"),
        Some(false)
    );
    assert_eq!(
        identify::parse_ftp_feat(b"211-Features:\r\n EPRT\r\n"),
        None
    );
    assert_eq!(
        identify::parse_ftp_feat(b"500 Unknown command.\r\n"),
        Some(false)
    );
}

#[test]
fn telnet_and_vnc_greetings() {
    // IAC DO TERMINAL-TYPE, IAC DO TSPEED… as sent by inetutils telnetd.
    let found =
        identify::parse_greeting(b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27").unwrap();
    assert_eq!(found.service, Service::Telnet);
    let found = identify::parse_greeting(b"RFB 003.008\n").unwrap();
    assert_eq!(found.service, Service::Vnc);
    assert_eq!(found.detail.as_deref(), Some("RFB 3.8"));
    assert_eq!(identify::parse_greeting(b"RFB 003.00"), None, "short");
}

fn mysql_packet(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    out.push(0);
    out.extend_from_slice(payload);
    out
}

fn mysql_handshake(version: &str) -> Vec<u8> {
    let mut payload = vec![0x0a];
    payload.extend_from_slice(version.as_bytes());
    payload.push(0);
    payload.extend_from_slice(&[0x2a, 0, 0, 0]); // thread id
    payload.extend_from_slice(b"abcdefgh\0"); // scramble part 1
    payload.extend_from_slice(&[0xff, 0xf7, 0x08, 0x02, 0x00]);
    mysql_packet(&payload)
}

#[test]
fn mysql_and_mariadb_handshakes() {
    let found = identify::parse_greeting(&mysql_handshake("8.0.36-0ubuntu0.22.04.1")).unwrap();
    assert_eq!(found.service, Service::Mysql);
    assert_eq!(found.product.as_deref(), Some("MySQL"));
    assert_eq!(found.version.as_deref(), Some("8.0.36"));
    let found =
        identify::parse_greeting(&mysql_handshake("5.5.5-10.11.6-MariaDB-0+deb12u1")).unwrap();
    assert_eq!(found.product.as_deref(), Some("MariaDB"));
    assert_eq!(found.version.as_deref(), Some("10.11.6"));
    let mut refused = vec![0xff, 0x6a, 0x04];
    refused.extend_from_slice(b"Host '192.0.2.7' is not allowed to connect to this MySQL server");
    let found = identify::parse_greeting(&mysql_packet(&refused)).unwrap();
    assert_eq!(found.service, Service::Mysql);
    assert_eq!(found.detail.as_deref(), Some("error 1130"));
    assert!(identify::greeting_complete(&mysql_handshake("8.0.36")));
    let truncated = mysql_handshake("8.0.36");
    assert_eq!(identify::parse_greeting(&truncated[..10]), None);
}

#[test]
fn http_server_header_title_and_basic_auth() {
    let response = b"HTTP/1.1 200 OK\r\nDate: Sun, 29 Nov 2026 10:00:00 GMT\r\nServer: Apache/2.4.41 (Ubuntu) OpenSSL/1.1.1f\r\nContent-Type: text/html\r\nContent-Length: 52\r\n\r\n<html><head><title>It  works!</title></head></html>\n";
    assert!(identify::http_complete(response));
    let found = identify::parse_http(response).unwrap();
    assert_eq!(found.service, Service::Http);
    assert_eq!(found.product.as_deref(), Some("Apache httpd"));
    assert_eq!(found.version.as_deref(), Some("2.4.41"));
    assert_eq!(found.components[0].product, "OpenSSL");
    assert_eq!(found.components[0].version.as_deref(), Some("1.1.1f"));
    assert_eq!(found.title.as_deref(), Some("It works!"));
    assert!(!found.basic_auth);

    let response = b"HTTP/1.1 401 Unauthorized\r\nServer: nginx/1.18.0\r\nWWW-Authenticate: Basic realm=\"admin\"\r\nContent-Length: 0\r\n\r\n";
    let found = identify::parse_http(response).unwrap();
    assert!(found.basic_auth);
    assert_eq!(found.product.as_deref(), Some("nginx"));
    assert_eq!(found.detail.as_deref(), Some("HTTP 401"));
    assert_eq!(identify::parse_http(b"SSH-2.0-OpenSSH_9.2\r\n"), None);
    assert_eq!(
        identify::parse_http(b"HTTP/1.1 200 OK\r\nServer: x"),
        None,
        "incomplete head"
    );
}

#[test]
fn elasticsearch_and_couchdb_answer_over_http() {
    let body = r#"{"name":"node-1","cluster_name":"docker-cluster","cluster_uuid":"x","version":{"number":"7.17.9","build_flavor":"default"},"tagline":"You Know, for Search"}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let found = identify::parse_http(response.as_bytes()).unwrap();
    assert_eq!(found.service, Service::Elasticsearch);
    assert_eq!(found.version.as_deref(), Some("7.17.9"));
    assert_eq!(found.auth, Some(Auth::NotRequired));
    let locked = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"security\" charset=\"UTF-8\"\r\nX-elastic-product: Elasticsearch\r\ncontent-length: 0\r\n\r\n";
    let found = identify::parse_http(locked).unwrap();
    assert_eq!(found.service, Service::Elasticsearch);
    assert_eq!(found.auth, Some(Auth::Required));
    let couch = b"HTTP/1.1 200 OK\r\nServer: CouchDB/3.3.2 (Erlang OTP/24)\r\nContent-Length: 40\r\n\r\n{\"couchdb\":\"Welcome\",\"version\":\"3.3.2\"}\n";
    let found = identify::parse_http(couch).unwrap();
    assert_eq!(found.service, Service::Couchdb);
    assert_eq!(found.version.as_deref(), Some("3.3.2"));
}

#[test]
fn redis_memcached_and_postgresql_answers() {
    let open = identify::parse_redis_ping(b"+PONG\r\n").unwrap();
    assert_eq!(open.service, Service::Redis);
    assert_eq!(open.auth, Some(Auth::NotRequired));
    let locked = identify::parse_redis_ping(b"-NOAUTH Authentication required.\r\n").unwrap();
    assert_eq!(locked.auth, Some(Auth::Required));
    let protected = identify::parse_redis_ping(
        b"-DENIED Redis is running in protected mode because protected mode is enabled\r\n",
    )
    .unwrap();
    assert_eq!(protected.auth, Some(Auth::Required));
    assert_eq!(
        identify::parse_redis_ping(b"HTTP/1.1 400 Bad Request\r\n"),
        None
    );
    let info = b"$40\r\n# Server\r\nredis_version:7.0.15\r\nx:1\r\n\r\n";
    assert_eq!(identify::parse_redis_info(info).as_deref(), Some("7.0.15"));

    let memcached = identify::parse_memcached(b"VERSION 1.6.21\r\n").unwrap();
    assert_eq!(memcached.version.as_deref(), Some("1.6.21"));
    assert_eq!(memcached.auth, Some(Auth::NotRequired));
    assert_eq!(identify::parse_memcached(b"ERROR\r\n"), None);

    assert_eq!(
        identify::parse_postgres(b"N").unwrap().service,
        Service::Postgresql
    );
    assert_eq!(
        identify::parse_postgres(b"S").unwrap().detail.as_deref(),
        Some("TLS offered")
    );
    assert_eq!(identify::parse_postgres(b"NO"), None);
}

#[test]
fn mssql_prelogin_response() {
    // A SQL Server 2019 (15.0.2000) PRELOGIN response: VERSION, ENCRYPTION, INSTOPT,
    // THREADID, MARS, terminator, data.
    let payload: Vec<u8> = vec![
        0x00, 0x00, 0x1a, 0x00, 0x06, 0x01, 0x00, 0x20, 0x00, 0x01, 0x02, 0x00, 0x21, 0x00, 0x01,
        0x03, 0x00, 0x22, 0x00, 0x00, 0x04, 0x00, 0x22, 0x00, 0x01, 0xff, 0x0f, 0x00, 0x07, 0xd0,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let mut packet = vec![0x04, 0x01];
    packet.extend_from_slice(&((payload.len() + 8) as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0, 1, 0]);
    packet.extend_from_slice(&payload);
    let found = identify::parse_mssql(&packet).unwrap();
    assert_eq!(found.service, Service::Mssql);
    assert_eq!(found.version.as_deref(), Some("15.0.2000"));
    assert_eq!(identify::parse_mssql(&packet[..20]), None);
    // Our own request is a well-formed PRELOGIN our parser reads back (type aside).
    let mut request = requests::mssql_prelogin();
    request[0] = 0x04;
    assert!(identify::parse_mssql(&request).is_some());
}

/// An OP_MSG reply carrying `doc`.
fn mongodb_reply(doc: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 0, 0];
    body.extend_from_slice(doc);
    let mut out = ((body.len() + 16) as i32).to_le_bytes().to_vec();
    out.extend_from_slice(&7i32.to_le_bytes());
    out.extend_from_slice(&1i32.to_le_bytes());
    out.extend_from_slice(&2013i32.to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn bson(elements: &[(&str, BsonTest)]) -> Vec<u8> {
    let mut doc = Vec::new();
    for (key, value) in elements {
        match value {
            BsonTest::Double(v) => {
                doc.push(0x01);
                doc.extend_from_slice(key.as_bytes());
                doc.push(0);
                doc.extend_from_slice(&v.to_le_bytes());
            }
            BsonTest::Int(v) => {
                doc.push(0x10);
                doc.extend_from_slice(key.as_bytes());
                doc.push(0);
                doc.extend_from_slice(&v.to_le_bytes());
            }
            BsonTest::Text(v) => {
                doc.push(0x02);
                doc.extend_from_slice(key.as_bytes());
                doc.push(0);
                doc.extend_from_slice(&((v.len() + 1) as i32).to_le_bytes());
                doc.extend_from_slice(v.as_bytes());
                doc.push(0);
            }
        }
    }
    doc.push(0);
    let mut out = ((doc.len() + 4) as i32).to_le_bytes().to_vec();
    out.extend_from_slice(&doc);
    out
}

enum BsonTest {
    Double(f64),
    Int(i32),
    Text(&'static str),
}

#[test]
fn mongodb_hello_and_list_databases() {
    let hello = mongodb_reply(&bson(&[
        ("helloOk", BsonTest::Int(1)),
        ("maxWireVersion", BsonTest::Int(21)),
        ("ok", BsonTest::Double(1.0)),
    ]));
    assert!(identify::mongodb_complete(&hello));
    let found = identify::parse_mongodb_hello(&hello).unwrap();
    assert_eq!(found.service, Service::Mongodb);
    assert_eq!(found.detail.as_deref(), Some("wire version 21"));
    let open = mongodb_reply(&bson(&[
        ("totalSize", BsonTest::Double(8192.0)),
        ("ok", BsonTest::Double(1.0)),
    ]));
    assert_eq!(
        identify::parse_mongodb_list_databases(&open),
        Some(Auth::NotRequired)
    );
    let locked = mongodb_reply(&bson(&[
        ("ok", BsonTest::Double(0.0)),
        (
            "errmsg",
            BsonTest::Text("command listDatabases requires authentication"),
        ),
        ("code", BsonTest::Int(13)),
        ("codeName", BsonTest::Text("Unauthorized")),
    ]));
    assert_eq!(
        identify::parse_mongodb_list_databases(&locked),
        Some(Auth::Required)
    );
    assert_eq!(identify::parse_mongodb_hello(&hello[..30]), None);
    // Our hello request parses as an OP_MSG document.
    let request = requests::mongodb_command(1, "hello", &[]);
    assert!(identify::mongodb_complete(&request));
}

#[test]
fn rdp_smb_and_ldap_answers() {
    // X.224 Connection Confirm with RDP_NEG_RSP selecting CredSSP.
    let rdp = [
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x1f, 0x08, 0x00,
        0x02, 0x00, 0x00, 0x00,
    ];
    let found = identify::parse_rdp(&rdp).unwrap();
    assert_eq!(found.service, Service::Rdp);
    assert_eq!(found.detail.as_deref(), Some("CredSSP (NLA)"));
    assert_eq!(identify::parse_rdp(&rdp[..4]), None);

    let mut smb2 = vec![0x00, 0x00, 0x00, 0x90];
    let mut header = vec![0xfe, b'S', b'M', b'B'];
    header.resize(64, 0);
    smb2.extend_from_slice(&header);
    smb2.extend_from_slice(&[0x41, 0x00, 0x01, 0x00, 0xff, 0x02]); // size, security, 2.???
    smb2.resize(0x94, 0);
    let found = identify::parse_smb(&smb2).unwrap();
    assert_eq!(found.service, Service::Smb);
    assert_eq!(found.detail.as_deref(), Some("SMB 2.x"));
    let netbios = [0x83, 0x00, 0x00, 0x01, 0x8f];
    assert_eq!(
        identify::parse_smb(&netbios).unwrap().service,
        Service::Netbios
    );
    // Our negotiate request is a valid NetBIOS-framed SMB1 negotiate.
    let request = requests::smb_negotiate();
    assert_eq!(
        identify::parse_smb(&request).unwrap().detail.as_deref(),
        Some("SMB1")
    );

    // searchResDone, success, for message 1.
    let ldap = [
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x65, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
    ];
    assert_eq!(identify::parse_ldap(&ldap).unwrap().service, Service::Ldap);
    assert_eq!(
        identify::parse_ldap(&requests::ldap_root_dse()),
        None,
        "a request is not an answer"
    );
    let request = requests::ldap_root_dse();
    assert_eq!(request[0], 0x30);
    assert_eq!(usize::from(request[1]) + 2, request.len(), "BER length");
}

#[test]
fn banners_are_bounded_and_escaped() {
    assert_eq!(
        identify::escape_banner(b"220 ok\r\n", BANNER_MAX),
        "220 ok\\r\\n"
    );
    assert_eq!(
        identify::escape_banner(b"\x1b[31mred\xff", BANNER_MAX),
        "\\x1b[31mred\\xff"
    );
    let long = vec![b'a'; 10_000];
    let escaped = identify::escape_banner(&long, BANNER_MAX);
    assert!(escaped.chars().count() <= BANNER_MAX + 1);
    assert!(escaped.ends_with('…'));
    assert!(escaped.chars().all(|c| !c.is_control()));
}

#[test]
fn parsers_survive_garbage_and_truncation() {
    let samples: Vec<Vec<u8>> = vec![
        mysql_handshake("8.0.36"),
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n".to_vec(),
        vec![0xff; 64],
        vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02],
        vec![
            0x04, 0x01, 0xff, 0xff, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
        ],
        mongodb_reply(&[
            0xff, 0xff, 0xff, 0x7f, 0x02, b'a', 0, 0xff, 0xff, 0xff, 0x7f,
        ]),
    ];
    for sample in samples {
        for end in 0..=sample.len() {
            let _ = identify::parse_any(&sample[..end]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Port sets and the bundled ranking
// ---------------------------------------------------------------------------------------

#[test]
fn port_lists_and_ranges_parse() {
    let set: PortSet = "22,80,8000-8003, 443".parse().unwrap();
    assert_eq!(set.ports(), &[22, 80, 8000, 8001, 8002, 8003, 443]);
    let set: PortSet = "80,80,79-81".parse().unwrap();
    assert_eq!(set.ports(), &[80, 79, 81], "duplicates dropped, order kept");
    assert_eq!("1-65535".parse::<PortSet>().unwrap().len(), 65535);
    assert_eq!("TOP100".parse::<PortSet>().unwrap().name(), "top100");
    for (bad, hint) in [
        ("", "no port"),
        ("0", "port 0"),
        ("65536", "1 to 65535"),
        ("22,,80", "empty item"),
        ("80-22", "goes down"),
        ("ssh", "number"),
        ("22-", "number"),
        ("-5", "number"),
        ("top10", "number"),
    ] {
        let error = bad.parse::<PortSet>().unwrap_err().to_string();
        assert!(error.contains(hint), "{bad:?}: {error}");
    }
}

#[test]
fn the_bundled_ranking_is_sound() {
    let data = ranking().unwrap();
    let top100 = PortSet::top100().unwrap();
    let top1000 = PortSet::top1000().unwrap();
    assert_eq!(top100.len(), 100);
    assert_eq!(top1000.len(), 1000);
    assert_eq!(
        &top1000.ports()[..100],
        top100.ports(),
        "top100 heads top1000"
    );
    let distinct: std::collections::HashSet<u16> = top1000.ports().iter().copied().collect();
    assert_eq!(distinct.len(), 1000);
    assert!(!distinct.contains(&0));
    assert!(data.ranked.len() >= 100);
    // The services the risk rules are about are in the top 100.
    for port in [
        21, 22, 23, 25, 80, 110, 139, 143, 443, 445, 1433, 3306, 3389, 5432, 5900, 6379, 9200,
        11211, 27017,
    ] {
        assert!(top100.ports().contains(&port), "{port} missing from top100");
    }
    assert_eq!(top100.ports()[0], 80);
}

#[test]
fn a_bad_ranking_file_is_refused_with_the_reason() {
    let twice = "fill = [[1, 1023]]\nranked = [{ port = 80, service = \"http\" }, { port = 80, service = \"http\" }]";
    assert!(parse_ranking(twice)
        .unwrap_err()
        .contains("80 is listed twice"));
    let short = "fill = [[1, 1023]]\nranked = [{ port = 80, service = \"http\" }]";
    assert!(parse_ranking(short).unwrap_err().contains("at least 100"));
    let unknown = "fill = []\nranked = []\nextra = 1";
    assert!(parse_ranking(unknown).is_err());
}

// ---------------------------------------------------------------------------------------
// Maintained branches
// ---------------------------------------------------------------------------------------

#[test]
fn the_versions_table_is_sound_and_compares_numerically() {
    let table = versions::table().unwrap();
    for product in [
        "OpenSSH",
        "Apache httpd",
        "nginx",
        "OpenSSL",
        "Exim",
        "Postfix",
        "vsftpd",
        "ProFTPD",
        "MySQL",
        "PostgreSQL",
        "Redis",
    ] {
        assert!(
            table.iter().any(|row| row.name == product),
            "{product} missing"
        );
    }
    assert!(versions::outdated(table, "OpenSSH", "7.4").is_some());
    assert!(versions::outdated(table, "OpenSSH", "8.9p1").is_none());
    assert!(
        versions::outdated(table, "OpenSSH", "10.0p2").is_none(),
        "10 > 8 numerically"
    );
    assert!(versions::outdated(table, "Apache httpd", "2.2.34").is_some());
    assert!(versions::outdated(table, "Apache httpd", "2.4.41").is_none());
    assert!(versions::outdated(table, "OpenSSL", "1.0.2k").is_some());
    assert!(versions::outdated(table, "OpenSSL", "1.1.1f").is_none());
    assert!(versions::outdated(table, "vsftpd", "2.3.4").is_some());
    assert!(versions::outdated(table, "Unknown", "0.1").is_none());
    assert!(versions::outdated(table, "OpenSSH", "banana").is_none());
    assert!(versions::parse_table("[[product]]\nname = \"x\"\noldest_maintained = \"v\"\nnote = \"n\"\nsource = \"s\"\nreviewed = \"2026-01-01\"").is_err());
}

// ---------------------------------------------------------------------------------------
// Scope
// ---------------------------------------------------------------------------------------

fn targets(items: &[&str]) -> Vec<ServiceTarget> {
    items.iter().map(|item| item.parse().unwrap()).collect()
}

#[test]
fn targets_expand_inside_the_scope() {
    let scope = Scope::parse(&["127.0.10.0/30", "127.0.20.5", "lab.test"]).unwrap();
    let mut resolved = BTreeMap::new();
    resolved.insert(
        "lab.test".to_owned(),
        vec!["127.0.20.5".parse::<IpAddr>().unwrap()],
    );
    let hosts = expand(
        &targets(&["127.0.10.0/30", "lab.test", "127.0.20.5"]),
        &resolved,
        &scope,
        DEFAULT_MAX_ADDRESSES,
    )
    .unwrap();
    let addresses: Vec<String> = hosts.iter().map(|h| h.address.to_string()).collect();
    assert_eq!(addresses, ["127.0.10.1", "127.0.10.2", "127.0.20.5"]);
    assert_eq!(hosts[2].names, ["lab.test"]);
}

#[test]
fn every_refusal_names_the_address_and_why() {
    let scope = Scope::parse(&["127.0.10.0/28", "lab.test"]).unwrap();
    let none = BTreeMap::new();

    let error = expand(&targets(&["127.0.11.1"]), &none, &scope, 1024).unwrap_err();
    assert!(matches!(error, ScopeError::OutsideAllowlist { .. }));
    assert!(error.to_string().contains("127.0.11.1"), "{error}");
    assert!(
        error.to_string().contains("outside the scope allowlist"),
        "{error}"
    );

    let error = expand(&targets(&["127.0.10.0/27"]), &none, &scope, 1024).unwrap_err();
    assert!(
        error.to_string().contains("127.0.10.16"),
        "first address outside: {error}"
    );

    let mut resolved = BTreeMap::new();
    resolved.insert(
        "lab.test".to_owned(),
        vec!["127.0.10.3".parse().unwrap(), "127.0.99.9".parse().unwrap()],
    );
    let error = expand(&targets(&["lab.test"]), &resolved, &scope, 1024).unwrap_err();
    assert!(matches!(error, ScopeError::ResolvedOutside { .. }));
    let text = error.to_string();
    assert!(
        text.contains("lab.test") && text.contains("127.0.99.9"),
        "{text}"
    );

    let big = Scope::parse(&["127.0.0.0/8"]).unwrap();
    let error = expand(&targets(&["127.0.0.0/8"]), &none, &big, 1024).unwrap_err();
    assert!(matches!(error, ScopeError::OverCap { cap: 1024, .. }));
    assert!(error.to_string().contains("16777214"), "{error}");
    let error = expand(
        &targets(&["127.1.0.0/24", "127.2.0.0/24"]),
        &none,
        &big,
        300,
    )
    .unwrap_err();
    assert!(error.to_string().contains("cap of 300"), "{error}");
    assert!(
        expand(&targets(&["127.1.0.0/24"]), &none, &big, 254).is_ok(),
        "exactly the cap"
    );

    let error = expand(&targets(&["127.0.10.1"]), &none, &Scope::default(), 1024).unwrap_err();
    assert!(
        matches!(error, ScopeError::OutsideAllowlist { .. }),
        "empty scope allows nothing"
    );

    let v6 = Scope::parse(&["::1"]).unwrap();
    assert!(expand(&targets(&["::1"]), &none, &v6, 1).is_ok());
    let error = expand(&targets(&["::/0"]), &none, &v6, 1024).unwrap_err();
    assert!(
        matches!(error, ScopeError::OverCap { .. }),
        "no overflow on ::/0"
    );

    for (bad, hint) in [
        ("*.lab.test", "wildcard"),
        ("not a host", "host name"),
        ("127.0.0.1/33", "too long"),
    ] {
        let error = bad.parse::<ServiceTarget>().unwrap_err().to_string();
        assert!(
            error.contains(hint) && error.contains(bad),
            "{bad}: {error}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Risk rules
// ---------------------------------------------------------------------------------------

fn port(number: u16, found: Option<Identification>) -> PortObservation {
    PortObservation {
        port: number,
        state: PortState::Open,
        tls: false,
        banner: Some("banner\\r\\n".to_owned()),
        identified: found,
    }
}

fn ident(service: Service) -> Identification {
    Identification::new(service)
}

fn observation(open: Vec<PortObservation>) -> ServicesObservation {
    ServicesObservation {
        targets: vec!["127.0.0.9".to_owned()],
        ports: "top100".to_owned(),
        port_count: 100,
        started_at: chrono::Utc::now(),
        finished_at: chrono::Utc::now(),
        hosts: vec![HostObservation {
            address: "127.0.0.9".parse().unwrap(),
            target: "127.0.0.9".to_owned(),
            names: Vec::new(),
            open,
            closed: 90,
            filtered: 3,
        }],
        unresolved: Vec::new(),
    }
}

fn status_of(verdicts: &[vigie_model::Verdict], check: Check, target: &str) -> Option<Status> {
    verdicts
        .iter()
        .find(|v| v.check == check && v.target == target)
        .map(|v| v.status)
}

#[test]
fn every_risk_rule_fails_on_its_services_and_passes_otherwise() {
    let mut ftp = ident(Service::Ftp);
    ftp.starttls = Some(false);
    let mut ftps = ident(Service::Ftp);
    ftps.starttls = Some(true);
    let mut basic = ident(Service::Http);
    basic.basic_auth = true;
    let mut redis = ident(Service::Redis);
    redis.auth = Some(Auth::NotRequired);
    let mut ssh = ident(Service::Ssh);
    ssh.product = Some("OpenSSH".to_owned());
    ssh.version = Some("7.4".to_owned());
    let mut http = ident(Service::Http);
    http.product = Some("Apache httpd".to_owned());
    http.version = Some("2.4.62".to_owned());
    http.components = vec![vigie_checks::services::Software {
        product: "OpenSSL".to_owned(),
        version: Some("1.0.2k".to_owned()),
    }];
    let obs = observation(vec![
        port(21, Some(ftp)),
        port(990, Some(ftps)),
        port(22, Some(ssh)),
        port(23, Some(ident(Service::Telnet))),
        port(80, Some(basic)),
        port(8080, Some(http)),
        port(445, Some(ident(Service::Smb))),
        port(3389, Some(ident(Service::Rdp))),
        port(6379, Some(redis)),
        port(5432, Some(ident(Service::Postgresql))),
        port(9999, None),
    ]);
    let verdicts = evaluate(&obs, obs.finished_at);
    let fail = Some(Status::Fail);
    assert_eq!(
        status_of(&verdicts, Check::ServiceCleartext, "127.0.0.9:21"),
        fail
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceCleartext, "127.0.0.9:990"),
        None,
        "AUTH TLS offered"
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceCleartext, "127.0.0.9:23"),
        fail
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceCleartext, "127.0.0.9:80"),
        fail
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceFileSharing, "127.0.0.9:445"),
        fail
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceRemoteDesktop, "127.0.0.9:3389"),
        fail
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceDatabase, "127.0.0.9:6379"),
        fail
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceDatabase, "127.0.0.9:5432"),
        fail
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceUnauthenticated, "127.0.0.9:6379"),
        fail
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceUnauthenticated, "127.0.0.9:5432"),
        None
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceOutdated, "127.0.0.9:22"),
        fail
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceOutdated, "127.0.0.9:8080"),
        fail,
        "OpenSSL 1.0.2k"
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceOpen, "127.0.0.9:9999"),
        Some(Status::Info)
    );
    let open_count = verdicts
        .iter()
        .filter(|v| v.check == Check::ServiceOpen)
        .count();
    assert_eq!(open_count, 11, "one service.open per open port");

    // Severities are the spec's.
    for verdict in &verdicts {
        if verdict.status == Status::Fail {
            assert_eq!(verdict.severity, verdict.check.default_severity());
        }
        assert!(verdict.summary.is_defined(), "{}", verdict.summary.key);
        if let Some(fix) = &verdict.remediation {
            assert!(fix.is_defined(), "{}", fix.key);
        }
        for lang in [Lang::En, Lang::Fr] {
            assert!(
                !verdict.summary.render(lang).contains('{'),
                "{}",
                verdict.summary.render(lang)
            );
        }
    }
    let outdated = verdicts
        .iter()
        .find(|v| v.check == Check::ServiceOutdated && v.target == "127.0.0.9:22")
        .unwrap();
    assert_eq!(outdated.evidence["product"], "OpenSSH");
    assert_eq!(outdated.evidence["version"], "7.4");
    assert_eq!(outdated.evidence["banner"], "banner\\r\\n");
    assert!(outdated.summary.render(Lang::En).contains("OpenSSH 7.4"));

    // A host with nothing risky passes every rule.
    let mut modern = ident(Service::Ssh);
    modern.product = Some("OpenSSH".to_owned());
    modern.version = Some("9.6p1".to_owned());
    let verdicts = evaluate(
        &observation(vec![port(22, Some(modern))]),
        chrono::Utc::now(),
    );
    for check in [
        Check::ServiceCleartext,
        Check::ServiceRemoteDesktop,
        Check::ServiceFileSharing,
        Check::ServiceDatabase,
        Check::ServiceUnauthenticated,
        Check::ServiceOutdated,
    ] {
        assert_eq!(
            status_of(&verdicts, check, "127.0.0.9"),
            Some(Status::Pass),
            "{check:?}"
        );
    }
}

#[test]
fn no_open_port_and_unresolved_names_are_reported() {
    let mut obs = observation(Vec::new());
    obs.unresolved.push(Unresolved {
        target: "gone.lab.test".to_owned(),
        reason: "no such name".to_owned(),
        kind: None,
    });
    let verdicts = evaluate(&obs, obs.finished_at);
    assert_eq!(
        status_of(&verdicts, Check::ServiceOpen, "127.0.0.9"),
        Some(Status::Pass)
    );
    assert_eq!(
        status_of(&verdicts, Check::ServiceOpen, "gone.lab.test"),
        Some(Status::Error)
    );
}

#[test]
fn observations_serialize_to_json_and_back() {
    let mut redis = ident(Service::Redis);
    redis.auth = Some(Auth::NotRequired);
    redis.product = Some("Redis".to_owned());
    redis.version = Some("7.0.15".to_owned());
    let obs = observation(vec![port(6379, Some(redis)), port(9999, None)]);
    let json = obs.to_json();
    let open = &json["hosts"][0]["open"];
    assert_eq!(open[0]["port"], 6379);
    assert_eq!(open[0]["state"], "open");
    assert_eq!(open[0]["service"], "redis");
    assert_eq!(open[0]["product"], "Redis");
    assert_eq!(open[0]["version"], "7.0.15");
    assert_eq!(open[0]["auth"], "not_required");
    assert_eq!(open[0]["banner"], "banner\\r\\n");
    assert!(open[1].get("service").is_none());
    let back: ServicesObservation = serde_json::from_value(json).unwrap();
    assert_eq!(back, obs);
}

#[test]
fn parsers_survive_random_bytes_and_mutated_captures() {
    // A fixed-seed generator: the same inputs every run, 20,000 of them.
    let mut state: u64 = 0x005e_ed0f_0b5e_2026_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let captures: Vec<Vec<u8>> = vec![
        mysql_handshake("8.0.36"),
        b"HTTP/1.1 200 OK\r\nServer: Apache/2.4.41 (Ubuntu)\r\nContent-Length: 5\r\n\r\nhello"
            .to_vec(),
        requests::mssql_prelogin(),
        requests::smb_negotiate(),
        requests::ldap_root_dse(),
        requests::mongodb_command(1, "hello", &[]),
        b"SSH-2.0-OpenSSH_9.2p1\r\n".to_vec(),
    ];
    for round in 0..20_000usize {
        let mut bytes = captures[round % captures.len()].clone();
        let flips = (next() % 4) as usize;
        for _ in 0..flips {
            if bytes.is_empty() {
                break;
            }
            let at = (next() as usize) % bytes.len();
            bytes[at] = next() as u8;
        }
        let cut = (next() as usize) % (bytes.len() + 1);
        bytes.truncate(cut);
        if round % 5 == 0 {
            bytes = (0..(next() % 64)).map(|_| next() as u8).collect();
        }
        for found in identify::parse_any(&bytes) {
            assert!(serde_json::to_string(&found).is_ok());
        }
    }
}

/// An ONC RPC accepted reply to our NFS NULL call, with `tail` after the verifier.
fn rpc_reply(tail: &[u32]) -> Vec<u8> {
    let mut words = vec![0x5649_4745u32, 1, 0, 0, 0];
    words.extend_from_slice(tail);
    let mut out = (0x8000_0000u32 | (words.len() as u32 * 4))
        .to_be_bytes()
        .to_vec();
    for word in words {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out
}

#[test]
fn nfs_answers_its_null_procedure() {
    let success = rpc_reply(&[0]);
    assert!(identify::rpc_complete(&success));
    let found = identify::parse_nfs(&success).unwrap();
    assert_eq!(found.service, Service::Nfs);
    let mismatch = identify::parse_nfs(&rpc_reply(&[2, 2, 4])).unwrap();
    assert_eq!(mismatch.detail.as_deref(), Some("NFS v2–v4"));
    assert_eq!(
        identify::parse_nfs(&rpc_reply(&[1])),
        None,
        "PROG_UNAVAIL: not NFS"
    );
    assert_eq!(identify::parse_nfs(&success[..12]), None);
    // Our call is a complete RPC record.
    assert!(identify::rpc_complete(requests::NFS_NULL_CALL));
    let verdicts = evaluate(
        &observation(vec![port(2049, Some(found))]),
        chrono::Utc::now(),
    );
    let nfs = verdicts
        .iter()
        .find(|v| v.check == Check::ServiceFileSharing && v.target == "127.0.0.9:2049")
        .unwrap();
    assert_eq!(nfs.status, Status::Fail);
    assert_eq!(
        nfs.remediation.as_ref().unwrap().key,
        "service.file_sharing.fix.nfs"
    );
}
