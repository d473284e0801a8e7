//! Shared by the process tests: scratch folders, a running `ferroalloy run` whose
//! stderr lines arrive on a channel, and small blocking HTTP helpers.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ferroalloy");

pub fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_run")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Starts `cmd` with its stderr lines arriving on a channel (stdout discarded).
pub fn spawn_logged(cmd: &mut Command) -> (Child, mpsc::Receiver<String>) {
    let mut child = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stderr = child.stderr.take().expect("piped");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, lines)
}

/// A child's stderr lines as they arrive, and every line read so far.
pub struct LogLines {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl LogLines {
    pub fn new(lines: mpsc::Receiver<String>) -> LogLines {
        LogLines {
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line containing `needle` within `bound`; `None` when none came or
    /// the process closed its stderr.
    pub fn next_with(&mut self, needle: &str, bound: Duration) -> Option<String> {
        let deadline = Instant::now() + bound;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let line = self.lines.recv_timeout(left).ok()?;
            let found = line.contains(needle);
            self.seen.push(line.clone());
            if found {
                return Some(line);
            }
        }
        None
    }

    /// [`LogLines::next_with`], panicking with everything read so far when no line
    /// came.
    pub fn wait_for(&mut self, needle: &str, bound: Duration) -> String {
        match self.next_with(needle, bound) {
            Some(line) => line,
            None => self.missing(needle),
        }
    }

    /// Fails the test: no line contained `needle`. Shows everything read so far.
    pub fn missing(&self, needle: &str) -> ! {
        panic!(
            "no line with {needle:?}; stderr so far:\n{}",
            self.seen.join("\n")
        )
    }

    /// Every line read so far, oldest first.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }
}

/// A running `ferroalloy run` whose stderr lines arrive on a channel.
pub struct Running {
    pub child: Child,
    log: LogLines,
}

impl Running {
    pub fn start(dir: &Path) -> Running {
        let (child, lines) = spawn_logged(
            Command::new(BIN)
                // Port 0: tests run in parallel, and the default port may be in use.
                .args([
                    "run",
                    "config.alloy",
                    "--storage.path",
                    "data",
                    "--server.http.listen-addr",
                    "127.0.0.1:0",
                ])
                .current_dir(dir)
                .env("NO_COLOR", "1"),
        );
        Running {
            child,
            log: LogLines::new(lines),
        }
    }

    /// Waits (at most 10 s) for a stderr line containing `needle` and returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        match self.log.next_with(needle, Duration::from_secs(10)) {
            Some(line) => line,
            None => {
                let _ = self.child.kill();
                self.log.missing(needle)
            }
        }
    }

    /// Every stderr line read so far, oldest first.
    pub fn seen(&self) -> &[String] {
        self.log.seen()
    }

    /// The HTTP base URL, from the log line that names the bound address.
    pub fn http_base(&mut self) -> String {
        let line = self.wait_for("now listening for http traffic");
        let addr = line
            .split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        format!("http://{addr}")
    }

    /// SIGTERM, and the process must exit cleanly.
    pub fn stop(mut self) {
        self.signal("TERM");
        let status = self.child.wait().expect("exits");
        assert!(status.success(), "{status:?}");
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1, one thread per connection, running until the
/// test process ends. `answer` gets each request's target (path and query) and gives
/// the content type and body of a 200, or `None` for a 404. Returns `host:port`.
pub fn serve_http<F>(answer: F) -> String
where
    F: Fn(&str) -> Option<(&'static str, String)> + Send + Sync + 'static,
{
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&buf);
                let target = request.split_whitespace().nth(1).unwrap_or("");
                let response = match answer(target) {
                    Some((content_type, body)) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
                };
                let _ = stream.write_all(response.as_bytes());
            });
        }
    });
    addr
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Status and body of one request.
pub fn call(
    client: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
) -> (u16, String) {
    let resp = client.request(method, url).send().expect("request");
    (resp.status().as_u16(), resp.text().expect("body"))
}

/// Polls `url` (at most 10 s) until it answers with `status`; returns the body.
pub fn poll_until(client: &reqwest::blocking::Client, url: &str, status: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (got, body) = call(client, reqwest::Method::GET, url);
        if got == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{url} still answers {got} {body:?}, not {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A helper process (a Prometheus, an exporter) killed when the test ends, however it
/// ends.
pub struct Peer(pub Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for a test peer).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The path of a Debian-packaged peer binary. Missing peers fail the test under CI
/// (`.ci/run` installs them) and skip it elsewhere, with a note.
pub fn peer_binary(name: &str) -> Option<PathBuf> {
    let path = Path::new("/usr/bin").join(name);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{} is missing; .ci/run installs it", path.display());
    }
    eprintln!("skipping: {} is not installed", path.display());
    None
}
