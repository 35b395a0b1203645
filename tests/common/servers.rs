//! Real stores for the forwarding tests: a private PostgreSQL cluster and a
//! private rsyslogd, both from Debian's packages, and a loopback HTTP server
//! that checks VictoriaLogs and Loki requests as their APIs define them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::wait_for;

use serde_json::Value;

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs a command, as the `postgres` user when we are root (PostgreSQL
/// refuses to run as root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn must(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL cluster of our own, on a loopback port.
pub struct Postgres {
    _dir: tempfile::TempDir,
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
}

impl Postgres {
    /// initdb and start.
    pub fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path().join("bin"))
                    .filter(|b| b.join("initdb").exists())
                    .max()
            })
            .expect(
                "PostgreSQL's server is not installed: apt-get install postgresql (see the README's set-up)",
            );
        let dir = tempfile::tempdir().expect("tempdir");
        if is_root() {
            must(
                Command::new("chown").arg("postgres").arg(dir.path()),
                "chown the cluster folder",
            );
        }
        let data = dir.path().join("data");
        must(
            as_postgres(&bin.join("initdb")).arg("-D").arg(&data).args([
                "-A",
                "trust",
                "-U",
                "audit",
                "-E",
                "UTF8",
                "--no-sync",
            ]),
            "initdb",
        );
        // A self-signed certificate for 127.0.0.1 and localhost: every
        // connection may use TLS, and the role `tls_only` must.
        must(
            as_postgres(Path::new("openssl"))
                .current_dir(&data)
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
                .args(["-keyout", "server.key", "-out", "server.crt"])
                .args(["-subj", "/CN=vault-audit test cluster"])
                .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
                .args(["-addext", "basicConstraints=critical,CA:FALSE"]),
            "openssl req (a self-signed certificate)",
        );
        must(
            as_postgres(Path::new("chmod"))
                .arg("600")
                .arg(data.join("server.key")),
            "chmod server.key",
        );
        let hba = data.join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).expect("pg_hba.conf");
        std::fs::write(
            &hba,
            format!("hostnossl all tls_only 127.0.0.1/32 reject\n{rules}"),
        )
        .expect("pg_hba.conf");
        let pg = Postgres {
            port: free_port(),
            _dir: dir,
            bin,
            data,
        };
        pg.up();
        pg
    }

    /// The server's certificate (its own root), for `sslrootcert`.
    pub fn certificate(&self) -> PathBuf {
        self.data.join("server.crt")
    }

    /// The URL for another role, with extra query parameters.
    pub fn url_as(&self, role: &str, query: &str) -> String {
        format!("postgres://{role}@127.0.0.1:{}/postgres{query}", self.port)
    }

    /// Starts it (again), waiting until it takes connections.
    pub fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on",
            self.port,
            self.data.parent().expect("parent").display()
        );
        must(
            as_postgres(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(self.data.join("server.log"))
                .args(["-o", &opts, "-w", "start"]),
            "pg_ctl start",
        );
    }

    /// Stops it (fast shutdown: clients are cut off).
    pub fn down(&self) {
        must(
            as_postgres(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "fast", "-w", "stop"]),
            "pg_ctl stop",
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://audit@127.0.0.1:{}/postgres", self.port)
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).expect("connect")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// An rsyslogd of our own listening on UDP and TCP on one loopback port,
/// writing each message's parsed fields, `|`-separated, to a file.
pub struct Rsyslog {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<std::process::Child>,
}

impl Rsyslog {
    pub fn start() -> Rsyslog {
        assert!(
            Path::new("/usr/sbin/rsyslogd").exists(),
            "rsyslogd is not installed: apt-get install rsyslog (see the README's set-up)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            r#"global(workDirectory="{d}" maxMessageSize="256k")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{port}")
input(type="imtcp" address="127.0.0.1" port="{port}")
template(name="fields" type="string" string="%syslogfacility-text%|%syslogseverity-text%|%timereported:::date-rfc3339%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\n")
*.* action(type="omfile" file="{d}/out.log" template="fields")
"#
        );
        std::fs::write(dir.path().join("rsyslog.conf"), conf).expect("conf");
        let mut r = Rsyslog {
            dir,
            port,
            child: None,
        };
        r.up();
        r
    }

    /// Starts it (again) and waits until it listens on TCP.
    pub fn up(&mut self) {
        let d = self.dir.path();
        let child = Command::new("/usr/sbin/rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(d.join("rsyslog.conf"))
            .arg("-i")
            .arg(d.join("rsyslogd.pid"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(d.join("stderr")).expect("stderr"))
            .spawn()
            .expect("rsyslogd");
        self.child = Some(child);
        let port = self.port;
        wait_for("rsyslogd to listen", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Stops it with SIGTERM and waits for it to end.
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// The lines it has written.
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("out.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One request the HTTP stand-in took.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The status it answered.
    pub status: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP/1.1 server standing in for VictoriaLogs and Loki. It
/// answers `status` (200 unless set), and 400 to any request that breaks the
/// store's documented API (recording why in `violations`).
#[derive(Clone)]
pub struct LogStore {
    pub port: u16,
    pub status: Arc<AtomicU16>,
    pub requests: Arc<Mutex<Vec<Request>>>,
    pub violations: Arc<Mutex<Vec<String>>>,
}

impl LogStore {
    pub fn start() -> LogStore {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let store = LogStore {
            port: listener.local_addr().expect("addr").port(),
            status: Arc::new(AtomicU16::new(200)),
            requests: Arc::default(),
            violations: Arc::default(),
        };
        let s = store.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || s.serve(conn));
            }
        });
        store
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// The JSON objects delivered with a 2xx answer, in order: VictoriaLogs
    /// lines, or for Loki the parsed log lines.
    pub fn delivered(&self) -> Vec<Value> {
        let requests = self.requests.lock().expect("lock");
        let mut out = Vec::new();
        for r in requests.iter().filter(|r| r.status < 300) {
            if r.path == "/loki/api/v1/push" {
                let body: Value = serde_json::from_str(&r.body).expect("json");
                for stream in body["streams"].as_array().expect("streams") {
                    for v in stream["values"].as_array().expect("values") {
                        out.push(
                            serde_json::from_str(v[1].as_str().expect("line")).expect("entry"),
                        );
                    }
                }
            } else {
                out.extend(
                    r.body
                        .lines()
                        .map(|l| serde_json::from_str(l).expect("line")),
                );
            }
        }
        out
    }

    pub fn count(&self, status: u16) -> usize {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.status == status)
            .count()
    }

    fn serve(&self, conn: TcpStream) {
        let mut reader = BufReader::new(conn.try_clone().expect("clone"));
        let mut conn = conn;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_owned();
            let target = parts.next().unwrap_or("").to_owned();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 {
                    return;
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let mut req = Request {
                path: path.to_owned(),
                query: query.to_owned(),
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
                status: self.status.load(Ordering::SeqCst),
            };
            if let Err(why) = check(&method, &req) {
                self.violations.lock().expect("lock").push(why);
                req.status = 400;
            }
            let status = req.status;
            self.requests.lock().expect("lock").push(req);
            let reason = match status {
                200 => "OK",
                204 => "No Content",
                400 => "Bad Request",
                429 => "Too Many Requests",
                _ => "Service Unavailable",
            };
            let extra = if status == 429 {
                "Retry-After: 1\r\n"
            } else {
                ""
            };
            let answer = format!(
                "HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: 0\r\nConnection: keep-alive\r\n\r\n"
            );
            if conn.write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
    }
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The documented shape of each API.
fn check(method: &str, r: &Request) -> Result<(), String> {
    if method != "POST" {
        return Err(format!("{method}: only POST inserts"));
    }
    match r.path.as_str() {
        "/insert/jsonline" => {
            let msg = param(&r.query, "_msg_field").ok_or("no _msg_field")?;
            let time = param(&r.query, "_time_field").ok_or("no _time_field")?;
            let streams = param(&r.query, "_stream_fields").ok_or("no _stream_fields")?;
            for line in r.body.lines() {
                let v: Value = serde_json::from_str(line).map_err(|e| format!("line: {e}"))?;
                if !v[msg].is_string() {
                    return Err(format!("no {msg} in {line}"));
                }
                let t = v[time].as_str().ok_or(format!("no {time}"))?;
                chrono::DateTime::parse_from_rfc3339(t).map_err(|e| format!("{t}: {e}"))?;
                for f in streams.split(',') {
                    if v[f].is_null() {
                        return Err(format!("no stream field {f}"));
                    }
                }
            }
            Ok(())
        }
        "/loki/api/v1/push" => {
            if r.header("Content-Type") != Some("application/json") {
                return Err("Loki wants Content-Type: application/json".into());
            }
            let v: Value = serde_json::from_str(&r.body).map_err(|e| e.to_string())?;
            for s in v["streams"].as_array().ok_or("no streams")? {
                let labels = s["stream"].as_object().ok_or("no stream labels")?;
                if labels.is_empty() || labels.values().any(|l| !l.is_string()) {
                    return Err("labels must be strings".into());
                }
                for pair in s["values"].as_array().ok_or("no values")? {
                    let ns = pair[0].as_str().ok_or("timestamp not a string")?;
                    if ns.is_empty() || !ns.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(format!("{ns}: not unix nanoseconds"));
                    }
                    if !pair[1].is_string() || pair.as_array().map(Vec::len) != Some(2) {
                        return Err("a value is [ns, line]".into());
                    }
                }
            }
            Ok(())
        }
        other => Err(format!("{other}: no such endpoint")),
    }
}

/// moto (the AWS stand-in from PyPI, `pip install 'moto[server]'`) in
/// server mode on a loopback port: a real implementation of the CloudWatch
/// Logs API. It keeps its state in memory: killed and started again, it
/// has forgotten every group and stream.
pub struct Moto {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<std::process::Child>,
}

/// The region the tests use.
pub const MOTO_REGION: &str = "us-east-1";

impl Moto {
    /// Starts it, or says loudly why it cannot and returns `None` (moto is
    /// not installed: `.ci/run` installs it).
    pub fn start() -> Option<Moto> {
        let probe = Command::new("python3")
            .args(["-c", "import moto.server, flask, flask_cors"])
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            eprintln!(
                "\n\n########## SKIPPED: moto's server is not installed ##########\n\
                 the CloudWatch Logs sink was NOT tested: pip install 'moto[server]' (.ci/run does)\n"
            );
            return None;
        }
        let mut m = Moto {
            dir: tempfile::tempdir().expect("tempdir"),
            port: free_port(),
            child: None,
        };
        m.up();
        Some(m)
    }

    /// Starts it (again, empty) and waits until it answers.
    pub fn up(&mut self) {
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("stderr")).expect("stderr"))
            .spawn()
            .expect("python3 -m moto.server");
        self.child = Some(child);
        let url = format!("{}/moto-api/", self.endpoint());
        wait_for("moto to answer", Duration::from_secs(60), || {
            matches!(
                ureq::get(&url).call(),
                Ok(_) | Err(ureq::Error::StatusCode(_))
            )
        });
    }

    /// Kills it (SIGKILL): the store goes away mid-flight, with its state.
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `AWS_ENDPOINT_URL` for it.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One call of the Logs API; its answer.
    pub fn call(&self, action: &str, body: &Value) -> Value {
        // moto checks no signature; the credential scope names the service and region.
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{MOTO_REGION}/logs/aws4_request, SignedHeaders=host, Signature=0"
        );
        // An error answer (a stream not created yet) is returned as it is.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = agent
            .post(&format!("{}/", self.endpoint()))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", &format!("Logs_20140328.{action}"))
            .header("Authorization", &auth)
            .send(body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("moto {action}: {e}"));
        let text = resp.body_mut().read_to_string().expect("moto's answer");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("moto {action}: {e}: {text}"))
    }

    /// Every event of a stream, oldest first (GetLogEvents, page by page);
    /// none while the stream does not exist.
    pub fn events(&self, group: &str, stream: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = serde_json::json!({"logGroupName": group, "logStreamName": stream,
                                              "startFromHead": true, "limit": 10000});
            if let Some(t) = &token {
                body["nextToken"] = t.clone().into();
            }
            let page = self.call("GetLogEvents", &body);
            let events = page["events"].as_array().cloned().unwrap_or_default();
            let next = page["nextForwardToken"].as_str().map(str::to_owned);
            if events.is_empty() || next.is_none() || next == token {
                out.extend(events);
                return out;
            }
            out.extend(events);
            token = next;
        }
    }

    /// The streams of a group, as DescribeLogStreams gives them.
    pub fn streams(&self, group: &str) -> Vec<Value> {
        let answer = self.call(
            "DescribeLogStreams",
            &serde_json::json!({"logGroupName": group}),
        );
        answer["logStreams"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.down();
    }
}
