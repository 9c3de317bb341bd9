//! The server's end of `livecode-runner`: one [`RunnerConn`] per sandbox, over the one
//! stream the runner was exec'd with. Frames (see the runner's `protocol`) are written under
//! a lock and read by one task, which hands each run's events to that run alone.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use livecode_runner::protocol::{self, Event, Finished, Phase, Request, PROTOCOL_VERSION};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};
use tokio_util::io::StreamReader;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{OutputStream, Sandbox, SandboxError, SandboxId};

/// How long a freshly exec'd runner may take to say hello (it first clears the sandbox).
const HELLO_WAIT: Duration = Duration::from_secs(15);
/// How long writing one frame may take before the stream counts as broken.
const WRITE_WAIT: Duration = Duration::from_secs(30);
/// Events of one run that may wait for the run task: past it the runner's stream waits, and
/// so does the program's output (backpressure, not loss).
const EVENT_QUEUE: usize = 32;

/// What the runner says about one run.
#[derive(Debug)]
pub enum RunEvent {
    Started(Phase),
    Output {
        seq: u64,
        stream: OutputStream,
        data: Bytes,
    },
    StdinConsumed(u64),
    Finished(Finished),
    Refused(String),
}

/// Why the runner could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("the sandbox's runner speaks protocol {0}, this server {PROTOCOL_VERSION}: rebuild the environment's image")]
    Protocol(u32),
    #[error("the sandbox's runner did not start: {0}")]
    NoHello(String),
    #[error("the sandbox's runner stream is closed")]
    Closed,
}

/// The run the reader hands events to.
struct Route {
    run: u64,
    tx: mpsc::Sender<RunEvent>,
}

/// A live stream to one sandbox's runner. Cheap to share: runs take an `Arc`.
pub struct RunnerConn {
    pub sandbox: SandboxId,
    /// The runner build it announced.
    pub build: String,
    writer: tokio::sync::Mutex<Pin<Box<dyn AsyncWrite + Send>>>,
    route: Arc<Mutex<Option<Route>>>,
    closed: CancellationToken,
    next_run: AtomicU64,
}

impl std::fmt::Debug for RunnerConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerConn")
            .field("sandbox", &self.sandbox)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// One run's events, in the order the runner sent them.
pub struct RunEvents {
    pub run: u64,
    rx: mpsc::Receiver<RunEvent>,
}

impl RunEvents {
    /// The next event; `None` when the stream ended before the run did.
    pub async fn next(&mut self) -> Option<RunEvent> {
        self.rx.recv().await
    }
}

impl RunnerConn {
    /// Execs the runner into `id` and waits for its hello; the stream is read by a task on
    /// `tasks` until it ends.
    pub async fn open(
        sandbox: &dyn Sandbox,
        id: &SandboxId,
        tasks: &TaskTracker,
    ) -> Result<Arc<Self>, RunnerError> {
        let pipe = sandbox.open_runner(id).await?;
        let log_id = id.clone();
        // The runner's stderr is its diagnostics: to the log, never into a frame.
        let bytes = pipe.output.filter_map(move |item| {
            let item = match item {
                Ok(chunk) if chunk.stream == OutputStream::Stdout => Some(Ok(chunk.data)),
                Ok(chunk) => {
                    let text = String::from_utf8_lossy(&chunk.data);
                    tracing::debug!(sandbox = %log_id, "runner: {}", text.trim_end());
                    None
                }
                Err(e) => Some(Err(io::Error::other(e))),
            };
            std::future::ready(item)
        });
        let mut frames = FramedRead::new(
            StreamReader::new(Box::pin(bytes)),
            LengthDelimitedCodec::builder()
                .little_endian()
                .length_field_length(4)
                .max_frame_length(protocol::MAX_FRAME)
                .new_codec(),
        );
        let hello = match tokio::time::timeout(HELLO_WAIT, frames.next()).await {
            Err(_) => return Err(RunnerError::NoHello("no answer in time".into())),
            Ok(None) => return Err(RunnerError::NoHello("it exited at once".into())),
            Ok(Some(Err(e))) => return Err(RunnerError::NoHello(e.to_string())),
            Ok(Some(Ok(body))) => Event::decode(&body),
        };
        let build = match hello {
            Ok(Event::Hello { protocol, build }) if protocol == PROTOCOL_VERSION => build,
            Ok(Event::Hello { protocol, .. }) => return Err(RunnerError::Protocol(protocol)),
            Ok(other) => return Err(RunnerError::NoHello(format!("it said {other:?} first"))),
            Err(e) => return Err(RunnerError::NoHello(e.to_string())),
        };
        let conn = Arc::new(RunnerConn {
            sandbox: id.clone(),
            build,
            writer: tokio::sync::Mutex::new(pipe.input),
            route: Arc::default(),
            closed: CancellationToken::new(),
            next_run: AtomicU64::new(1),
        });
        let (route, closed, sandbox) = (conn.route.clone(), conn.closed.clone(), id.clone());
        tasks.spawn(async move {
            let why = read_frames(&mut frames, &route).await;
            tracing::debug!(%sandbox, %why, "runner stream ended");
            closed.cancel();
            // The run in progress hears the end as its channel closing.
            route.lock().expect("route lock poisoned").take();
        });
        Ok(conn)
    }

    /// The stream ended (the runner exited, the container died, or [`Self::close`]).
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Resolves once the stream has ended.
    pub async fn closed(&self) {
        self.closed.cancelled().await
    }

    /// Starts a run; its events arrive on the answer. One run at a time: the caller
    /// serializes runs, so a second one here is a bug and refused.
    pub async fn start(&self, mut req: protocol::RunRequest) -> Result<RunEvents, RunnerError> {
        if self.is_closed() {
            return Err(RunnerError::Closed);
        }
        let run = self.next_run.fetch_add(1, Ordering::Relaxed);
        req.run = run;
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        {
            let mut route = self.route.lock().expect("route lock poisoned");
            if route.is_some() {
                return Err(RunnerError::NoHello("a run is already in progress".into()));
            }
            *route = Some(Route { run, tx });
        }
        if let Err(e) = self.send(&Request::Run(req)).await {
            self.route.lock().expect("route lock poisoned").take();
            return Err(e);
        }
        Ok(RunEvents { run, rx })
    }

    /// Sends one request frame.
    pub async fn send(&self, req: &Request) -> Result<(), RunnerError> {
        let frame = req.encode();
        let mut writer = self.writer.lock().await;
        let write = async {
            writer.write_all(&frame).await?;
            writer.flush().await
        };
        match tokio::time::timeout(WRITE_WAIT, write).await {
            Ok(Ok(())) => Ok(()),
            _ => {
                self.closed.cancel();
                Err(RunnerError::Closed)
            }
        }
    }

    /// Closes the runner's stdin: it kills what runs, empties the sandbox and exits.
    pub async fn close(&self) {
        let mut writer = self.writer.lock().await;
        let _ = tokio::time::timeout(WRITE_WAIT, writer.shutdown()).await;
    }
}

/// Hands frames to the run they belong to until the stream ends; answers why it ended.
async fn read_frames<R>(frames: &mut R, route: &Mutex<Option<Route>>) -> String
where
    R: futures_util::Stream<Item = io::Result<bytes::BytesMut>> + Unpin,
{
    loop {
        let body = match frames.next().await {
            None => return "end of stream".into(),
            Some(Err(e)) => return e.to_string(),
            Some(Ok(body)) => body,
        };
        let (run, event) = match Event::decode(&body) {
            Err(e) => return e.to_string(),
            Ok(Event::Hello { .. }) => continue,
            Ok(Event::Started { run, phase }) => (run, RunEvent::Started(phase)),
            Ok(Event::Output {
                run,
                seq,
                stream,
                data,
            }) => (
                run,
                RunEvent::Output {
                    seq,
                    stream: match stream {
                        protocol::Stream::Stdout => OutputStream::Stdout,
                        protocol::Stream::Stderr => OutputStream::Stderr,
                    },
                    data: Bytes::from(data),
                },
            ),
            Ok(Event::StdinConsumed { run, bytes }) => (run, RunEvent::StdinConsumed(bytes)),
            Ok(Event::Finished(f)) => (f.run, RunEvent::Finished(f)),
            Ok(Event::Refused { run, message }) => (run, RunEvent::Refused(message)),
        };
        let last = matches!(event, RunEvent::Finished(_) | RunEvent::Refused(_));
        let tx = match &*route.lock().expect("route lock poisoned") {
            Some(r) if r.run == run => r.tx.clone(),
            _ => continue, // a run nobody waits for any more
        };
        // Waiting here is the backpressure: the runner's writes, and the program, wait too.
        let _ = tx.send(event).await;
        if last {
            let mut route = route.lock().expect("route lock poisoned");
            if route.as_ref().is_some_and(|r| r.run == run) {
                route.take();
            }
        }
    }
}
