//! The streams of a run: frames out to the server (one at a time, output numbered), the
//! output budget, the pumps that read a step's stdout and stderr, the stdin writer, and what
//! a step's process starts with (its environment, whether its program is there).

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;

use livecode_runner::procfs;
use livecode_runner::protocol::{Event, Stream};

use crate::cache::{Output, Recorder};
use crate::Msg;

/// Writes frames to stdout, one at a time, numbering a run's output; while a build is being
/// recorded for the cache, keeps a copy of what it prints.
pub struct Out {
    seq: Mutex<u64>,
    recorder: Mutex<Option<Recorder>>,
}

impl Out {
    pub fn new() -> Self {
        Self {
            seq: Mutex::new(0),
            recorder: Mutex::new(None),
        }
    }

    /// Starts keeping a copy of the output.
    pub fn record(&self) {
        *self.recorder.lock().unwrap_or_else(|p| p.into_inner()) = Some(Recorder::default());
    }

    /// What was output since [`Self::record`], unless it was too much.
    pub fn take_recorded(&self) -> Option<Output> {
        self.recorder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()?
            .finish()
    }

    pub fn send(&self, event: &Event) {
        let _one_at_a_time = self.seq.lock().unwrap_or_else(|p| p.into_inner());
        write_frame(&event.encode());
    }

    pub fn output(&self, run: u64, stream: Stream, data: &[u8]) {
        if let Some(recorder) = self
            .recorder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            recorder.push(stream, data);
        }
        let mut seq = self.seq.lock().unwrap_or_else(|p| p.into_inner());
        *seq += 1;
        let frame = Event::Output {
            run,
            seq: *seq,
            stream,
            data: data.to_vec(),
        }
        .encode();
        write_frame(&frame);
    }

    pub fn reset(&self) {
        *self.seq.lock().unwrap_or_else(|p| p.into_inner()) = 0;
    }
}

fn write_frame(frame: &[u8]) {
    // A failed write means the server is gone; the reader sees the same and ends the runner.
    let mut out = io::stdout().lock();
    let _ = out.write_all(frame).and_then(|()| out.flush());
}

/// The run's output budget, both streams and both steps together.
pub struct Budget {
    pub used: AtomicU64,
    pub limit: u64,
    pub hit: AtomicBool,
}

impl Budget {
    /// How much of `n` bytes may still go out.
    pub fn take(&self, n: usize) -> usize {
        let n = n as u64;
        let before = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some((used + n).min(self.limit))
            })
            .expect("the closure always answers");
        (self.limit - before).min(n) as usize
    }
}

pub enum StdinCmd {
    Data(Vec<u8>),
    Eof,
}

pub struct Helpers {
    pub pumps: Vec<JoinHandle<()>>,
    pub stdin: Option<Sender<StdinCmd>>,
    pub stdin_thread: Option<JoinHandle<()>>,
}

impl Helpers {
    /// Ends the threads of a step that never ran: their pipes have no other end any more.
    pub fn join(self) {
        drop(self.stdin);
        for pump in self.pumps {
            let _ = pump.join();
        }
        if let Some(writer) = self.stdin_thread {
            let _ = writer.join();
        }
    }
}

/// Streams one pipe as output frames until every writer of it is gone; past the budget it
/// keeps reading (so the program is not stuck on a full pipe until it is killed) but sends
/// nothing.
pub fn pump(
    mut pipe: std::fs::File,
    stream: Stream,
    run: u64,
    out: &Out,
    budget: &Budget,
    tx: &Sender<Msg>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let room = budget.take(n);
        if room > 0 {
            out.output(run, stream, &buf[..room]);
        }
        if room < n && !budget.hit.swap(true, Ordering::AcqRel) {
            let _ = tx.send(Msg::OutputLimit(run));
        }
    }
}

pub fn write_stdin(mut pipe: std::fs::File, rx: &Receiver<StdinCmd>, run: u64, out: &Out) {
    for cmd in rx {
        match cmd {
            StdinCmd::Data(data) => {
                let written = pipe.write_all(&data).is_ok();
                out.send(&Event::StdinConsumed {
                    run,
                    bytes: data.len() as u64,
                });
                if !written {
                    break;
                }
            }
            StdinCmd::Eof => break, // dropping the pipe closes it
        }
    }
}

/// The environment of both steps: the image's, with HOME in the emptied /tmp and no place a
/// language would read code from outside the workspace, then the request's.
pub fn run_env(extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("HOME", "/tmp"),
        ("USER", "runner"),
        ("LOGNAME", "runner"),
        ("LANG", "C.UTF-8"),
        ("PYTHONNOUSERSITE", "1"),
        ("PYTHONDONTWRITEBYTECODE", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(extra.iter().cloned());
    env
}

/// Whether `program` names an executable file, as the shell would find it on PATH.
pub fn executable(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return is_exec(std::path::Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| is_exec(&dir.join(program))))
}

/// The container's OOM-kill counter (cgroup v2, then v1).
pub fn oom_kills() -> Option<u64> {
    [
        "/sys/fs/cgroup/memory.events",
        "/sys/fs/cgroup/memory/memory.oom_control",
    ]
    .iter()
    .find_map(|path| procfs::oom_kills(&std::fs::read_to_string(path).ok()?))
}
