//! A DNS responder on UDP 127.0.0.1, answering from a table: enough of an authoritative
//! server for the email checks of `vigie-agent scan email --resolver 127.0.0.1:PORT`.
//!
//! Written on the wire format directly (RFC 1035 §4) so that the agent needs no DNS library
//! of its own: one question per message, answers pointing at the question's name, NXDOMAIN
//! for names that do not exist, an empty answer (NODATA) for names that exist without the
//! type asked. No DNSSEC: answers never carry the AD bit. It runs on a thread of the test
//! and stops when its handle is dropped.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One record's data.
#[derive(Debug, Clone)]
pub enum Rdata {
    /// TXT, as one or more character strings (each at most 255 bytes).
    Txt(Vec<String>),
    /// MX: preference and exchange.
    Mx(u16, String),
    /// A.
    A(Ipv4Addr),
}

impl Rdata {
    fn record_type(&self) -> u16 {
        match self {
            Rdata::A(_) => 1,
            Rdata::Mx(..) => 15,
            Rdata::Txt(_) => 16,
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Rdata::A(ip) => ip.octets().to_vec(),
            Rdata::Mx(preference, exchange) => {
                let mut out = preference.to_be_bytes().to_vec();
                out.extend(encode_name(exchange));
                out
            }
            Rdata::Txt(strings) => {
                let mut out = Vec::new();
                for text in strings {
                    let bytes = text.as_bytes();
                    assert!(bytes.len() <= 255, "a TXT string is 255 bytes at most");
                    out.push(bytes.len() as u8);
                    out.extend_from_slice(bytes);
                }
                out
            }
        }
    }
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// The records served, by owner name (lowercase, no final dot).
#[derive(Debug, Clone, Default)]
pub struct Zone {
    records: Vec<(String, Rdata)>,
}

impl Zone {
    pub fn new() -> Zone {
        Zone::default()
    }

    fn add(mut self, owner: &str, rdata: Rdata) -> Zone {
        let owner = owner.trim_end_matches('.').to_ascii_lowercase();
        self.records.push((owner, rdata));
        self
    }

    /// A TXT record of one string.
    pub fn txt(self, owner: &str, text: &str) -> Zone {
        self.add(owner, Rdata::Txt(vec![text.to_owned()]))
    }

    pub fn mx(self, owner: &str, preference: u16, exchange: &str) -> Zone {
        self.add(owner, Rdata::Mx(preference, exchange.to_owned()))
    }

    pub fn a(self, owner: &str, ip: Ipv4Addr) -> Zone {
        self.add(owner, Rdata::A(ip))
    }

    /// A name exists when it owns records or has names below it (an empty non-terminal).
    fn exists(&self, name: &str) -> bool {
        self.records
            .iter()
            .any(|(owner, _)| owner == name || owner.ends_with(&format!(".{name}")))
    }

    /// The response to one query message, and the name asked; `None` for what is not a
    /// query of one question.
    fn answer(&self, query: &[u8]) -> Option<(String, Vec<u8>)> {
        let header = query.get(..12)?;
        let flags = u16::from_be_bytes([header[2], header[3]]);
        let questions = u16::from_be_bytes([header[4], header[5]]);
        if flags & 0x8000 != 0 || questions != 1 {
            return None;
        }
        let mut labels = Vec::new();
        let mut pos = 12;
        // A name has at most 127 labels; the bound also stops a malformed message.
        for _ in 0..128 {
            let len = usize::from(*query.get(pos)?);
            pos += 1;
            if len == 0 {
                break;
            }
            if len & 0xC0 != 0 {
                return None;
            }
            let label = query.get(pos..pos + len)?;
            labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
            pos += len;
        }
        let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
        let question = query.get(12..pos + 4)?;
        let name = labels.join(".");
        let answers: Vec<&Rdata> = self
            .records
            .iter()
            .filter(|(owner, rdata)| *owner == name && rdata.record_type() == qtype)
            .map(|(_, rdata)| rdata)
            .collect();
        let rcode: u16 = if answers.is_empty() && !self.exists(&name) {
            3 // NXDOMAIN
        } else {
            0
        };
        let opcode = flags & 0x7800;
        let recursion_desired = flags & 0x0100;
        // QR, AA, RA; never AD.
        let response_flags = 0x8000 | opcode | 0x0400 | recursion_desired | 0x0080 | rcode;
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(&header[..2]);
        out.extend_from_slice(&response_flags.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&u16::try_from(answers.len()).ok()?.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(question);
        for rdata in answers {
            out.extend_from_slice(&[0xC0, 0x0C]); // the question's name
            out.extend_from_slice(&qtype.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes()); // IN
            out.extend_from_slice(&300u32.to_be_bytes());
            let data = rdata.encode();
            out.extend_from_slice(&u16::try_from(data.len()).ok()?.to_be_bytes());
            out.extend_from_slice(&data);
        }
        Some((name, out))
    }
}

/// A running responder. Dropping it stops its thread.
pub struct DnsResponder {
    addr: SocketAddr,
    /// The names asked, in order.
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsResponder {
    /// Serves `zone` on 127.0.0.1, on a port chosen by the system.
    pub fn start(zone: Zone) -> DnsResponder {
        let socket =
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a UDP port on 127.0.0.1");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("set the read timeout");
        let addr = socket.local_addr().expect("the responder's address");
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopped) = (Arc::clone(&asked), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends when the handle is dropped; each turn waits at most the read timeout.
            while !stopped.load(Ordering::SeqCst) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some((name, response)) = zone.answer(&buf[..n]) {
                    if let Ok(mut log) = log.lock() {
                        log.push(name);
                    }
                    let _ = socket.send_to(&response, peer);
                }
            }
        });
        DnsResponder {
            addr,
            asked,
            stop,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`, for `--resolver`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many queries it has answered.
    pub fn queries(&self) -> usize {
        self.asked.lock().map_or(0, |log| log.len())
    }

    /// How many queries for `name` (any type) it has answered.
    pub fn queries_for(&self, name: &str) -> usize {
        self.asked
            .lock()
            .map_or(0, |log| log.iter().filter(|asked| *asked == name).count())
    }
}

impl Drop for DnsResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
