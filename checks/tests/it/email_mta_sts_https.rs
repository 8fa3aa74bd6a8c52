//! The MTA-STS policy fetch over real HTTPS: a TLS server on 127.0.0.1 with a certificate
//! made for the test, trusted through `NetOptions::ca_pem`, and `mta-sts.<domain>` pointed
//! at it. Proves that a valid policy is read, and that a certificate for another name, a
//! redirect (RFC 8461 §3.3 forbids following it) and a 404 are failures with a reason.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigie_checks::email::lookup::HttpsFetch;
use vigie_checks::email::{NetLookups, NetOptions};

const POLICY: &str =
    "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 86400\r\n";

/// Serves HTTPS on loopback with a certificate for `names`; answers by path. Returns the
/// address and the certificate (PEM) to trust.
async fn serve(names: &[&str]) -> (SocketAddr, String) {
    let certified =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("certificate");
    let pem = certified.cert.pem();
    let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                // Read the request head, bounded in size.
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request);
                let response = if head.starts_with("GET /.well-known/mta-sts.txt ") {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{POLICY}",
                        POLICY.len()
                    )
                } else if head.starts_with("GET /moved ") {
                    "HTTP/1.1 301 Moved Permanently\r\nlocation: /.well-known/mta-sts.txt\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
                } else {
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_owned()
                };
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, pem)
}

fn client(addr: SocketAddr, pem: &str) -> NetLookups {
    NetLookups::new(&NetOptions {
        // The resolver is never asked here; any loopback address will do.
        resolvers: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 9))],
        timeout: Duration::from_secs(5),
        ca_pem: Some(pem.as_bytes().to_vec()),
        https_resolve: vec![
            ("mta-sts.example.test".into(), addr),
            ("mta-sts.other.test".into(), addr),
        ],
    })
    .expect("client")
}

#[tokio::test]
async fn a_valid_policy_is_fetched_with_certificate_validation() {
    let (addr, pem) = serve(&["mta-sts.example.test"]).await;
    let net = client(addr, &pem);
    let port = addr.port();
    let body = net
        .fetch_text(&format!(
            "https://mta-sts.example.test:{port}/.well-known/mta-sts.txt"
        ))
        .await
        .expect("policy");
    assert_eq!(body, POLICY);

    let missing = net
        .fetch_text(&format!("https://mta-sts.example.test:{port}/nothing"))
        .await
        .expect_err("404");
    assert!(missing.reason.contains("404"), "{}", missing.reason);

    let redirect = net
        .fetch_text(&format!("https://mta-sts.example.test:{port}/moved"))
        .await
        .expect_err("redirects are not followed");
    assert!(redirect.reason.contains("301"), "{}", redirect.reason);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let (addr, pem) = serve(&["mta-sts.example.test"]).await;
    let net = client(addr, &pem);
    let error = net
        .fetch_text(&format!(
            "https://mta-sts.other.test:{}/.well-known/mta-sts.txt",
            addr.port()
        ))
        .await
        .expect_err("wrong name");
    assert!(
        error.reason.to_ascii_lowercase().contains("certificate"),
        "{}",
        error.reason
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let (addr, _pem) = serve(&["mta-sts.example.test"]).await;
    let (_, other_ca) = serve(&["unrelated.test"]).await;
    let net = client(addr, &other_ca);
    let error = net
        .fetch_text(&format!(
            "https://mta-sts.example.test:{}/.well-known/mta-sts.txt",
            addr.port()
        ))
        .await
        .expect_err("untrusted");
    assert!(
        error.reason.to_ascii_lowercase().contains("certificate"),
        "{}",
        error.reason
    );
}
