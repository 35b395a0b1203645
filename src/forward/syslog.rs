//! The syslog sink: RFC 5424 messages over UDP, or TCP with octet counting
//! (RFC 6587).
//!
//! ```text
//! <134>1 2026-11-22T10:00:00.123Z host vault-audit 4242 file_drop [audit@32473 vault="v" actor="a" target="t" result="success" session="s" day="2026-11-22" position="7"] {"timestamp":...}
//! ```
//!
//! Plain syslog has no acknowledgement. Over TCP a batch counts as delivered
//! once the receiving host's TCP stack has acknowledged every byte of it
//! (the socket's send queue is empty) and the connection is still open;
//! after a reconnect the previous batch is sent again, so an entry the host
//! took in but its syslog daemon did not write before it stopped is not lost
//! (it may arrive twice). Over UDP a batch counts as delivered once sent.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use super::{Record, Sink, SinkConfigError, SinkError};
use crate::chain::head::Head;
use crate::entry::LogLevel;

/// The private enterprise number in the SD-ID: 32473 is the one RFC 5612
/// reserves for documentation and examples.
pub const SD_ID: &str = "audit@32473";
/// The APP-NAME.
pub const APP_NAME: &str = "vault-audit";
/// The largest datagram sent over UDP; a longer message's JSON is cut.
const MAX_UDP: usize = 65_000;
/// How long a write, or the wait for the peer's acknowledgement, may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One datagram per message.
    Udp,
    /// A stream, octet-counted.
    Tcp,
}

/// A facility by its RFC 5424 name or number.
pub fn parse_facility(text: &str) -> Option<u8> {
    const NAMES: [&str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];
    let text = text.trim().to_ascii_lowercase();
    if let Ok(n) = text.parse::<u8>() {
        return (n < 24).then_some(n);
    }
    NAMES.iter().position(|n| *n == text).map(|i| i as u8)
}

/// The RFC 5424 severity of a level.
pub fn severity(level: LogLevel) -> u8 {
    match level {
        LogLevel::Critical => 2,
        LogLevel::Error => 3,
        LogLevel::Warning => 4,
        LogLevel::Info => 6,
    }
}

/// A header field: printable US-ASCII without spaces, at most `max`
/// characters, `-` when empty.
fn header_field(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".to_owned()
    } else {
        cleaned
    }
}

/// An SD-PARAM value with `"`, `\` and `]` escaped.
fn sd_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The machine's host name (`gethostname(2)`, `GetComputerNameExW` on
/// Windows), if it has one.
pub fn system_hostname() -> Option<String> {
    let name = gethostname::gethostname();
    let name = name.to_string_lossy();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Formats one RFC 5424 message.
pub fn format(record: &Record, facility: u8, vault: &str, host: &str) -> String {
    let pri = u16::from(facility) * 8 + u16::from(severity(record.level()));
    let ts = record.field("timestamp");
    let timestamp = chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        })
        .unwrap_or_else(|_| "-".to_owned());
    let sd = format!(
        "[{SD_ID} vault=\"{}\" actor=\"{}\" target=\"{}\" result=\"{}\" session=\"{}\" day=\"{}\" position=\"{}\"]",
        sd_value(vault),
        sd_value(record.field("actor")),
        sd_value(record.field("target")),
        sd_value(record.field("result")),
        sd_value(record.field("session_id")),
        record.date.format("%Y-%m-%d"),
        record.position
    );
    format!(
        "<{pri}>1 {timestamp} {host} {APP_NAME} {} {} {sd} {}",
        std::process::id(),
        header_field(record.field("action_type"), 32),
        record.line
    )
}

/// Sends entries to a syslog receiver.
pub struct SyslogSink {
    name: String,
    addr: String,
    transport: Transport,
    facility: u8,
    vault: String,
    host: String,
    udp: Option<UdpSocket>,
    tcp: Option<TcpStream>,
    /// The frames of the last batch sent over TCP, sent again after a reconnect.
    last: Vec<u8>,
}

impl SyslogSink {
    /// A sink for `udp://host:port` or `tcp://host:port` (514 if no port).
    pub fn new(url: &str, facility: u8, vault: &str) -> Result<SyslogSink, SinkConfigError> {
        const ACCEPTED: &str = "udp://host:port or tcp://host:port";
        let (transport, rest) = if let Some(rest) = url.strip_prefix("udp://") {
            (Transport::Udp, rest)
        } else if let Some(rest) = url.strip_prefix("tcp://") {
            (Transport::Tcp, rest)
        } else {
            return Err(SinkConfigError::Scheme {
                url: url.to_owned(),
                accepted: ACCEPTED,
            });
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() {
            return Err(SinkConfigError::NoHost {
                url: url.to_owned(),
                accepted: ACCEPTED,
            });
        }
        let addr = if rest
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            rest.to_owned()
        } else {
            format!("{rest}:514")
        };
        Ok(SyslogSink {
            name: "syslog".to_owned(),
            addr,
            transport,
            facility,
            vault: vault.to_owned(),
            host: header_field(&system_hostname().unwrap_or_default(), 255),
            udp: None,
            tcp: None,
            last: Vec::new(),
        })
    }

    /// The host name the messages carry (default the system's, `-` when
    /// unknown).
    pub fn host(mut self, name: &str) -> Self {
        self.host = header_field(name.trim(), 255);
        self
    }

    fn resolve(&self) -> Result<SocketAddr, SinkError> {
        self.addr
            .to_socket_addrs()
            .map_err(|e| SinkError::Unavailable(format!("{}: {e}", self.addr)))?
            .next()
            .ok_or_else(|| SinkError::Unavailable(format!("{}: no address", self.addr)))
    }

    fn send_udp(&mut self, batch: &[String]) -> Result<(), SinkError> {
        let down = |e: io::Error| SinkError::Unavailable(format!("udp {}: {e}", self.addr));
        if self.udp.is_none() {
            let target = self.resolve()?;
            let bind = if target.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let socket = UdpSocket::bind(bind).map_err(down)?;
            socket.connect(target).map_err(down)?;
            self.udp = Some(socket);
        }
        let socket = self.udp.as_ref().expect("bound above");
        for msg in batch {
            let mut msg = msg.clone();
            if msg.len() > MAX_UDP {
                let mut cut = MAX_UDP;
                while !msg.is_char_boundary(cut) {
                    cut -= 1;
                }
                msg.truncate(cut);
            }
            if let Err(e) = socket.send(msg.as_bytes()) {
                self.udp = None;
                return Err(SinkError::Unavailable(format!("udp {}: {e}", self.addr)));
            }
        }
        Ok(())
    }

    /// Whether the open connection was closed by the peer (EOF or error).
    fn peer_closed(stream: &TcpStream) -> bool {
        if stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut buf = [0u8; 256];
        let closed = match (&*stream).read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false, // a syslog receiver sends nothing; ignore it
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        };
        closed || stream.set_nonblocking(false).is_err()
    }

    fn connect(&mut self) -> Result<bool, SinkError> {
        if let Some(stream) = &self.tcp {
            if !Self::peer_closed(stream) {
                return Ok(false);
            }
            self.tcp = None;
        }
        let target = self.resolve()?;
        let stream = TcpStream::connect_timeout(&target, TIMEOUT)
            .map_err(|e| SinkError::Unavailable(format!("tcp {}: {e}", self.addr)))?;
        let _ = stream.set_write_timeout(Some(TIMEOUT));
        let _ = stream.set_nodelay(true);
        self.tcp = Some(stream);
        Ok(true)
    }

    fn send_tcp(&mut self, batch: &[String]) -> Result<(), SinkError> {
        let reconnected = self.connect()?;
        let mut frames = Vec::new();
        for msg in batch {
            frames.extend_from_slice(format!("{} ", msg.len()).as_bytes());
            frames.extend_from_slice(msg.as_bytes());
        }
        let stream = self.tcp.as_mut().expect("connected above");
        let mut out = Vec::new();
        if reconnected {
            out.extend_from_slice(&self.last);
        }
        out.extend_from_slice(&frames);
        let sent = stream.write_all(&out).and_then(|()| stream.flush());
        let acked = sent.and_then(|()| wait_acked(stream));
        if let Err(e) = acked {
            self.tcp = None;
            return Err(SinkError::Unavailable(format!("tcp {}: {e}", self.addr)));
        }
        if Self::peer_closed(self.tcp.as_ref().expect("connected")) {
            self.tcp = None;
            return Err(SinkError::Unavailable(format!(
                "tcp {}: the receiver closed the connection",
                self.addr
            )));
        }
        self.last = frames;
        Ok(())
    }
}

/// Waits until the peer's TCP stack has acknowledged every byte written.
#[cfg(target_os = "linux")]
fn wait_acked(stream: &TcpStream) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let started = std::time::Instant::now();
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: SIOCOUTQ (== TIOCOUTQ) writes one int through the pointer,
        // which points at a live local.
        let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        if queued == 0 {
            return Ok(());
        }
        if started.elapsed() > TIMEOUT {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{queued} bytes not acknowledged"),
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(not(target_os = "linux"))]
fn wait_acked(_stream: &TcpStream) -> io::Result<()> {
    Ok(())
}

impl SyslogSink {
    fn send_messages(&mut self, msgs: &[String]) -> Result<(), SinkError> {
        match self.transport {
            Transport::Udp => self.send_udp(msgs),
            Transport::Tcp => self.send_tcp(msgs),
        }
    }
}

/// The MSGID of chain head messages.
pub const HEAD_MSGID: &str = "chain_head";

/// Formats a chain head as an RFC 5424 message (MSGID `chain_head`,
/// severity notice), the head line as its message.
pub fn format_head(head: &Head, facility: u8, vault: &str, host: &str) -> String {
    let pri = u16::from(facility) * 8 + 5;
    let sd = format!(
        "[{SD_ID} vault=\"{}\" day=\"{}\" seq=\"{}\" entries=\"{}\"]",
        sd_value(vault),
        head.state.day.format("%Y-%m-%d"),
        head.seq,
        head.state.entries
    );
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
    format!(
        "<{pri}>1 {now} {host} {APP_NAME} {} {HEAD_MSGID} {sd} {}",
        std::process::id(),
        head.line
    )
}

impl Sink for SyslogSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, batch: &[Record]) -> Result<(), SinkError> {
        let msgs: Vec<String> = batch
            .iter()
            .map(|r| format(r, self.facility, &self.vault, &self.host))
            .collect();
        self.send_messages(&msgs)
    }

    fn send_head(&mut self, head: &Head) -> Result<(), SinkError> {
        let msg = format_head(head, self.facility, &self.vault, &self.host);
        self.send_messages(&[msg])
    }

    fn health(&mut self) -> Result<(), SinkError> {
        match self.transport {
            Transport::Udp => self.resolve().map(|_| ()),
            Transport::Tcp => self.connect().map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_name_is_the_systems_without_proc() {
        let name = system_hostname().expect("this machine has a host name");
        assert!(
            !name.is_empty() && !name.contains(char::is_whitespace),
            "{name:?}"
        );
    }

    fn record(line: &str) -> Record {
        Record {
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("date"),
            position: 7,
            line: line.to_owned(),
            value: serde_json::from_str(line).expect("json"),
        }
    }

    #[test]
    fn messages_follow_rfc_5424() {
        let r = record(
            r#"{"timestamp":"2026-11-22T10:00:00.123Z","log_level":"ERROR","action_type":"a_very_long_action_type_name_over_32_chars","actor":"x\"]\\y","target":"t","result":"failure","session_id":"s"}"#,
        );
        let m = format(&r, 16, "vault", "host");
        let pid = std::process::id();
        assert!(m.starts_with(&format!(
            "<131>1 2026-11-22T10:00:00.123Z host vault-audit {pid} a_very_long_action_type_name_ove [audit@32473 vault=\"vault\" actor=\"x\\\"\\]\\\\y\" target=\"t\""
        )), "{m}");
        assert!(m.ends_with(&format!("position=\"7\"] {}", r.line)));
        assert_eq!(parse_facility("local0"), Some(16));
        assert_eq!(parse_facility("23"), Some(23));
        assert_eq!(parse_facility("local9"), None);
    }
}
