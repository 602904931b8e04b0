//! The server under the Telegram, Discord and Slack fakes: an axum app on `127.0.0.1:0`, on
//! its own thread with its own runtime (so it works from `#[tokio::test]` and plain tests),
//! shut down on drop. Handlers get a [`Conn`] to drop their connection without answering.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub struct ChatServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ChatServer {
    /// Serves `app` (built on the server's thread by `make_app`); listens before returning.
    pub fn start(name: &str, make_app: impl FnOnce() -> Router + Send + 'static) -> ChatServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let (shutdown, stop) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake server runtime");
                runtime.block_on(async move {
                    let listener =
                        KillableListener(TcpListener::from_std(listener).expect("tokio listener"));
                    let app = make_app();
                    let serve =
                        axum::serve(listener, app.into_make_service_with_connect_info::<Conn>());
                    tokio::select! {
                        _ = serve => {}
                        _ = stop => {}
                    }
                });
                // Dropping the runtime cancels every connection, slow replies included.
            })
            .expect("fake server thread");
        ChatServer {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A connection as handlers see it (`ConnectInfo<Conn>`). Every fake server serves through
/// [`KillableListener`] so that its handlers can drop a connection after doing the work
/// (an outcome-unknown send).
#[derive(Debug, Clone)]
pub struct Conn {
    kill: Arc<AtomicBool>,
}

impl Conn {
    /// Makes the connection's next write fail: the client gets no answer at all.
    pub fn drop_connection(&self) {
        self.kill.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

pub struct KillableListener(pub TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = Conn;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, _peer)) => {
                    let kill = Arc::new(AtomicBool::new(false));
                    let conn = Conn { kill: kill.clone() };
                    return (KillableStream { stream, kill }, conn);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr().map(|_| Conn {
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

pub struct KillableStream {
    stream: TcpStream,
    kill: Arc<AtomicBool>,
}

fn reset() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "fake server dropped the connection",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A multipart/form-data body split into its fields, for fakes that take uploads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormField {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

impl FormField {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Splits a `multipart/form-data` body; `None` if `content_type` names no boundary.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Option<Vec<FormField>> {
    let boundary = content_type
        .split(';')
        .find_map(|part| part.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let mut fields = Vec::new();
    let mut rest = body;
    // Skip to the first delimiter.
    let start = find(rest, &delimiter)?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&rest[..header_end]).into_owned();
        rest = &rest[header_end + 4..];
        let end = find(rest, &[b"\r\n".as_slice(), &delimiter].concat())?;
        let data = rest[..end].to_vec();
        rest = &rest[end + 2 + delimiter.len()..];
        let mut field = FormField {
            data,
            ..FormField::default()
        };
        for line in headers.lines() {
            let (name, value) = line.split_once(':')?;
            if name.eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').map(str::trim) {
                    if let Some(v) = param.strip_prefix("name=") {
                        field.name = v.trim_matches('"').to_owned();
                    } else if let Some(v) = param.strip_prefix("filename=") {
                        field.file_name = Some(v.trim_matches('"').to_owned());
                    }
                }
            } else if name.eq_ignore_ascii_case("content-type") {
                field.content_type = Some(value.trim().to_owned());
            }
        }
        fields.push(field);
    }
    Some(fields)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
