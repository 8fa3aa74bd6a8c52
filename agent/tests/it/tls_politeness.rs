//! How hard `scan tls` leans on one host: endpoints of one host are scanned at most
//! `TLS_ENDPOINTS_PER_HOST` at a time, whatever `--concurrency` allows the whole scan.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::process::Command;
use vigie_agent::scan::TLS_ENDPOINTS_PER_HOST;

/// Listeners that never answer a ClientHello: each connection is held 300 ms then closed,
/// and the most connections open at once across all of them is recorded.
struct Silent {
    ports: Vec<u16>,
    peak: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Silent {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn silent(ip: &str, count: usize) -> Silent {
    let current = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let mut ports = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..count {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        ports.push(listener.local_addr().unwrap().port());
        let (current, peak, accepted) = (
            Arc::clone(&current),
            Arc::clone(&peak),
            Arc::clone(&accepted),
        );
        tasks.push(tokio::spawn(async move {
            for _ in 0..200 {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let now = current.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let current = Arc::clone(&current);
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    let _ = tokio::time::timeout(Duration::from_millis(300), async {
                        while let Ok(n) = stream.read(&mut buffer).await {
                            if n == 0 {
                                break;
                            }
                        }
                    })
                    .await;
                    current.fetch_sub(1, Ordering::SeqCst);
                });
            }
        }));
    }
    Silent {
        ports,
        peak,
        accepted,
        tasks,
    }
}

#[tokio::test]
async fn endpoints_of_one_host_are_scanned_a_few_at_a_time() {
    let ip = "127.0.75.1";
    let servers = silent(ip, 6).await;
    let mut args: Vec<String> = [
        "scan",
        "tls",
        "--quick",
        "--timeout",
        "1s",
        "--concurrency",
        "16",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    args.extend(servers.ports.iter().map(|port| format!("{ip}:{port}")));
    args.extend(["--format".into(), "json".into()]);
    let run = Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .args(&args)
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_CONFIG")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("vigie-agent finished within 60 s")
        .unwrap();
    let report: vigie_model::Report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    // Every endpoint was tried and reported as unreachable over TLS…
    assert!(servers.accepted.load(Ordering::SeqCst) >= 6);
    for port in &servers.ports {
        let target = format!("{ip}:{port}");
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.check.as_str() == "tls.connect" && f.target == target),
            "no tls.connect finding for {target}"
        );
    }
    // …but never more than the per-host cap at once, though --concurrency allowed all six.
    let peak = servers.peak.load(Ordering::SeqCst);
    assert!(
        peak <= TLS_ENDPOINTS_PER_HOST,
        "{peak} connections at once to one host"
    );
}
