//! A fake SMTP server on `127.0.0.1:0`, for the email connector's tests.
//!
//! It runs on its own thread with its own tokio runtime (like `fake_network`); dropping it
//! shuts it down. It speaks enough of RFC 5321 for a submission client: the greeting,
//! EHLO/HELO (advertising 8BITMIME, SMTPUTF8 and, when it has credentials, AUTH), AUTH PLAIN
//! and LOGIN (checked against the credentials given), MAIL FROM, RCPT TO, DATA up to
//! `<CRLF>.<CRLF>` (dot-unstuffed), RSET, NOOP and QUIT. With credentials, MAIL is refused
//! with `530` until the client signed in. It never offers STARTTLS.
//!
//! Like a real server it does not deduplicate: every accepted DATA is a new message, even
//! one with a Message-ID seen before. Each connection takes the next queued fault, if any.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A way to misbehave, for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Greets with this reply (e.g. `421`) and closes the connection.
    Greeting { code: u16, text: String },
    /// Waits this long before the greeting.
    SlowGreeting(Duration),
    /// Answers the first RCPT TO with this reply.
    RejectRecipient { code: u16, text: String },
    /// Closes the connection when RCPT TO arrives, without answering.
    DropAtRecipient,
    /// Answers the end of DATA with this reply; the message is not kept.
    RejectMessage { code: u16, text: String },
    /// Keeps the message, then closes the connection without answering its end.
    DropAfterData,
    /// Keeps the message, then waits this long before answering `250`.
    SlowAfterData(Duration),
}

/// One message the fake accepted (or kept before a fault).
#[derive(Debug, Clone)]
pub struct FakeMail {
    /// The address of `MAIL FROM:<…>`.
    pub mail_from: String,
    /// What followed the address on the MAIL line (`BODY=8BITMIME`, `SMTPUTF8`).
    pub mail_parameters: String,
    pub rcpt_to: Vec<String>,
    /// The message as received, dot-unstuffed, lines ending in CRLF.
    pub data: String,
    /// Who had signed in on the connection.
    pub signed_in_as: Option<String>,
    pub at: Instant,
}

/// One connection: the command lines received (AUTH data included) and its fault.
#[derive(Debug, Clone, Default)]
pub struct FakeSession {
    pub commands: Vec<String>,
    pub fault: Option<Fault>,
    /// Sign-in attempts: the user name tried and whether it matched.
    pub sign_ins: Vec<(String, bool)>,
    /// The client closed the connection while a slow fault kept the server silent.
    pub hung_up_while_silent: bool,
}

impl FakeSession {
    /// The command verbs, upper case (`EHLO`, `MAIL`, …), without AUTH continuation lines.
    pub fn verbs(&self) -> Vec<String> {
        self.commands
            .iter()
            .filter(|line| !line.starts_with("  "))
            .map(|line| {
                line.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase()
            })
            .collect()
    }
}

#[derive(Default)]
struct Inner {
    mails: Vec<FakeMail>,
    sessions: Vec<FakeSession>,
    faults: VecDeque<Fault>,
}

type Shared = Arc<Mutex<Inner>>;

#[derive(Debug, Clone)]
struct Config {
    credentials: Option<(String, String)>,
    mechanisms: Vec<String>,
}

pub struct FakeSmtp {
    addr: SocketAddr,
    inner: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeSmtp {
    /// A server that takes mail from anyone, without signing in.
    pub fn start() -> FakeSmtp {
        FakeSmtp::spawn(Config {
            credentials: None,
            mechanisms: vec![],
        })
    }

    /// A server that requires signing in as `username` with `password`, offering
    /// `mechanisms` (`PLAIN`, `LOGIN`).
    pub fn with_auth(username: &str, password: &str, mechanisms: &[&str]) -> FakeSmtp {
        FakeSmtp::spawn(Config {
            credentials: Some((username.into(), password.into())),
            mechanisms: mechanisms.iter().map(|m| m.to_string()).collect(),
        })
    }

    fn spawn(config: Config) -> FakeSmtp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let inner = Shared::default();
        let (shutdown, stop) = oneshot::channel();
        let state = inner.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fake-smtp-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake smtp runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("tokio listener");
                    let accept = async {
                        loop {
                            let Ok((stream, _)) = listener.accept().await else {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                continue;
                            };
                            let fault = lock(&state).faults.pop_front();
                            tokio::spawn(serve(stream, state.clone(), config.clone(), fault));
                        }
                    };
                    tokio::select! {
                        _ = accept => {}
                        _ = stop => {}
                    }
                });
                // Dropping the runtime ends every connection, slow ones included.
            })
            .expect("fake smtp thread");
        FakeSmtp {
            addr,
            inner,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `smtp://127.0.0.1:PORT`: plain, as the loopback allows.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next connection misbehaves so (queued faults go one per connection).
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.inner).faults.push_back(fault);
    }

    pub fn mails(&self) -> Vec<FakeMail> {
        lock(&self.inner).mails.clone()
    }

    pub fn sessions(&self) -> Vec<FakeSession> {
        lock(&self.inner).sessions.clone()
    }

    /// The first connection once its client has hung up on a silent server; `None` if that
    /// has not happened within `limit`. The client's close reaches the fake a moment after
    /// the client returns, hence the (bounded) wait.
    pub fn hung_up_session(&self, limit: Duration) -> Option<FakeSession> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(session) = self.sessions().into_iter().next()
                && session.hung_up_while_silent
            {
                return Some(session);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock(inner: &Shared) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|e| e.into_inner())
}

/// The longest line the fake reads; a real server would refuse longer ones too.
const MAX_LINE: usize = 64 * 1024;

struct Connection {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    state: Shared,
    index: usize,
}

impl Connection {
    async fn reply(&mut self, reply: &str) -> std::io::Result<()> {
        // One write per reply: two small ones would wait on Nagle and delayed ACKs.
        self.writer
            .write_all(format!("{reply}\r\n").as_bytes())
            .await?;
        self.writer.flush().await
    }

    /// One line without its CRLF; `None` when the client closed the connection.
    async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let read = self.reader.read_line(&mut line).await.ok()?;
        if read == 0 || line.len() > MAX_LINE {
            return None;
        }
        while line.ends_with('\n') || line.ends_with('\r') {
            line.pop();
        }
        Some(line)
    }

    fn record(&self, change: impl FnOnce(&mut FakeSession)) {
        let mut inner = lock(&self.state);
        change(&mut inner.sessions[self.index]);
    }
}

async fn serve(stream: TcpStream, state: Shared, config: Config, fault: Option<Fault>) {
    let index = {
        let mut inner = lock(&state);
        inner.sessions.push(FakeSession {
            fault: fault.clone(),
            ..FakeSession::default()
        });
        inner.sessions.len() - 1
    };
    let _ = stream.set_nodelay(true);
    let (read, writer) = stream.into_split();
    let mut conn = Connection {
        reader: BufReader::new(read),
        writer,
        state,
        index,
    };
    let _ = converse(&mut conn, &config, fault).await;
}

/// The SMTP dialogue; returns when the client quits, the connection breaks or a fault ends it.
async fn converse(
    conn: &mut Connection,
    config: &Config,
    mut fault: Option<Fault>,
) -> std::io::Result<()> {
    match &fault {
        Some(Fault::Greeting { code, text }) => {
            return conn.reply(&format!("{code} {text}")).await;
        }
        // The client hung up on the silent server: nothing more to say.
        Some(Fault::SlowGreeting(delay)) if silent_for(conn, *delay).await => return Ok(()),
        _ => {}
    }
    conn.reply("220 fake-smtp.test ESMTP ready").await?;
    let mut signed_in: Option<String> = None;
    let mut mail_from: Option<(String, String)> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    while let Some(line) = conn.line().await {
        conn.record(|s| s.commands.push(line.clone()));
        let (verb, rest) = match line.split_once(' ') {
            Some((verb, rest)) => (verb.to_ascii_uppercase(), rest.trim().to_owned()),
            None => (line.trim().to_ascii_uppercase(), String::new()),
        };
        match verb.as_str() {
            "EHLO" => {
                let mut lines = vec![
                    format!("fake-smtp.test greets {rest}"),
                    "8BITMIME".into(),
                    "SMTPUTF8".into(),
                    "SIZE 10485760".into(),
                ];
                if config.credentials.is_some() {
                    lines.push(format!("AUTH {}", config.mechanisms.join(" ")));
                }
                let last = lines.len() - 1;
                let reply: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, text)| format!("250{}{text}", if i == last { ' ' } else { '-' }))
                    .collect();
                conn.reply(&reply.join("\r\n")).await?;
            }
            "HELO" => conn.reply("250 fake-smtp.test").await?,
            "AUTH" => {
                let outcome = authenticate(conn, config, &rest).await?;
                if let Some((user, ok)) = outcome {
                    conn.record(|s| s.sign_ins.push((user.clone(), ok)));
                    if ok {
                        signed_in = Some(user);
                        conn.reply("235 2.7.0 Authentication successful").await?;
                    } else {
                        conn.reply("535 5.7.8 Authentication credentials invalid")
                            .await?;
                    }
                }
            }
            "MAIL" => {
                if config.credentials.is_some() && signed_in.is_none() {
                    conn.reply("530 5.7.0 Authentication required").await?;
                    continue;
                }
                let Some((address, parameters)) = path_of(&rest, "FROM:") else {
                    conn.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await?;
                    continue;
                };
                mail_from = Some((address, parameters));
                rcpt_to.clear();
                conn.reply("250 2.1.0 Ok").await?;
            }
            "RCPT" => {
                if mail_from.is_none() {
                    conn.reply("503 5.5.1 Error: need MAIL command").await?;
                    continue;
                }
                match &fault {
                    Some(Fault::DropAtRecipient) => return Ok(()),
                    Some(Fault::RejectRecipient { code, text }) => {
                        let reply = format!("{code} {text}");
                        fault = None;
                        conn.reply(&reply).await?;
                        continue;
                    }
                    _ => {}
                }
                let Some((address, _)) = path_of(&rest, "TO:") else {
                    conn.reply("501 5.5.4 Syntax: RCPT TO:<address>").await?;
                    continue;
                };
                rcpt_to.push(address);
                conn.reply("250 2.1.5 Ok").await?;
            }
            "DATA" => {
                let Some((from, parameters)) = mail_from.take() else {
                    conn.reply("503 5.5.1 Error: need MAIL command").await?;
                    continue;
                };
                if rcpt_to.is_empty() {
                    conn.reply("554 5.5.1 Error: no valid recipients").await?;
                    continue;
                }
                conn.reply("354 End data with <CR><LF>.<CR><LF>").await?;
                let Some(data) = read_data(conn).await else {
                    return Ok(());
                };
                let mail = FakeMail {
                    mail_from: from,
                    mail_parameters: parameters,
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                    signed_in_as: signed_in.clone(),
                    at: Instant::now(),
                };
                match fault.take() {
                    Some(Fault::RejectMessage { code, text }) => {
                        conn.reply(&format!("{code} {text}")).await?;
                    }
                    Some(Fault::DropAfterData) => {
                        lock(&conn.state).mails.push(mail);
                        return Ok(());
                    }
                    Some(Fault::SlowAfterData(delay)) => {
                        lock(&conn.state).mails.push(mail);
                        if silent_for(conn, delay).await {
                            return Ok(());
                        }
                        conn.reply("250 2.0.0 Ok: queued").await?;
                    }
                    other => {
                        fault = other;
                        lock(&conn.state).mails.push(mail);
                        conn.reply("250 2.0.0 Ok: queued").await?;
                    }
                }
            }
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                conn.reply("250 2.0.0 Ok").await?;
            }
            "NOOP" => conn.reply("250 2.0.0 Ok").await?,
            "QUIT" => {
                conn.reply("221 2.0.0 Bye").await?;
                return Ok(());
            }
            _ => {
                conn.reply("502 5.5.2 Error: command not recognized")
                    .await?
            }
        }
    }
    Ok(())
}

/// Answers nothing for `delay`, recording what the client sends meanwhile; `true` when the
/// client hung up before the delay was over.
async fn silent_for(conn: &mut Connection, delay: Duration) -> bool {
    let over = tokio::time::sleep(delay);
    tokio::pin!(over);
    loop {
        tokio::select! {
            _ = &mut over => return false,
            line = conn.line() => match line {
                Some(line) => conn.record(|s| s.commands.push(line)),
                None => {
                    conn.record(|s| s.hung_up_while_silent = true);
                    return true;
                }
            },
        }
    }
}

/// `FROM:<a@b> PARAMS` → (`a@b`, `PARAMS`).
fn path_of(rest: &str, prefix: &str) -> Option<(String, String)> {
    let head = rest.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = rest[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let (address, parameters) = rest.split_once('>')?;
    Some((address.to_owned(), parameters.trim().to_owned()))
}

/// The message after `354`, up to the line with a single dot.
async fn read_data(conn: &mut Connection) -> Option<String> {
    let mut data = String::new();
    loop {
        let line = conn.line().await?;
        if line == "." {
            return Some(data);
        }
        let line = line.strip_prefix('.').unwrap_or(&line);
        data.push_str(line);
        data.push_str("\r\n");
    }
}

/// Runs an AUTH exchange: `Some((user, matched))`, or `None` when it already answered (an
/// unknown mechanism, a malformed exchange).
async fn authenticate(
    conn: &mut Connection,
    config: &Config,
    rest: &str,
) -> std::io::Result<Option<(String, bool)>> {
    let Some((expected_user, expected_password)) = &config.credentials else {
        conn.reply("503 5.5.1 Error: authentication not enabled")
            .await?;
        return Ok(None);
    };
    let (mechanism, initial) = match rest.split_once(' ') {
        Some((mechanism, initial)) => (mechanism.to_ascii_uppercase(), Some(initial.to_owned())),
        None => (rest.to_ascii_uppercase(), None),
    };
    if !config.mechanisms.contains(&mechanism) {
        conn.reply("504 5.5.4 Unrecognized authentication type")
            .await?;
        return Ok(None);
    }
    let (user, password) = match mechanism.as_str() {
        "PLAIN" => {
            let response = match initial {
                Some(initial) => initial,
                None => {
                    conn.reply("334 ").await?;
                    let Some(line) = conn.line().await else {
                        return Ok(None);
                    };
                    conn.record(|s| s.commands.push(format!("  {line}")));
                    line
                }
            };
            let decoded = base64_decode(&response).unwrap_or_default();
            let mut parts = decoded.split(|b| *b == 0).skip(1);
            let user = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let password = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            (user, password)
        }
        _ => {
            // LOGIN: "Username:" and "Password:", each base64.
            let user = match initial {
                Some(initial) => initial,
                None => {
                    conn.reply("334 VXNlcm5hbWU6").await?;
                    let Some(line) = conn.line().await else {
                        return Ok(None);
                    };
                    conn.record(|s| s.commands.push(format!("  {line}")));
                    line
                }
            };
            conn.reply("334 UGFzc3dvcmQ6").await?;
            let Some(password) = conn.line().await else {
                return Ok(None);
            };
            conn.record(|s| s.commands.push(format!("  {password}")));
            let decode = |text: &str| {
                String::from_utf8_lossy(&base64_decode(text).unwrap_or_default()).into_owned()
            };
            (decode(&user), decode(&password))
        }
    };
    let matched = user == *expected_user && password == *expected_password;
    Ok(Some((user, matched)))
}

/// Standard base64 (with or without padding); `None` on a character outside the alphabet.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.trim().bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|a| *a == byte)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}
