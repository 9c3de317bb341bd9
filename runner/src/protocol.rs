//! The frames the server and `livecode-runner` exchange over the runner's stdin and stdout.
//!
//! A frame is a little-endian `u32` length, then that many bytes: a kind byte and the kind's
//! fields. Integers are little-endian, byte strings and text are a `u32` length and the bytes,
//! an optional value is a `0`/`1` byte and the value. The first frame the runner sends is
//! [`Event::Hello`] with [`PROTOCOL_VERSION`]; a server that speaks another version stops there.
//!
//! Std only: this file is compiled into the runner by Debian's `rustc` with no crates.

use std::fmt;

use crate::path::WorkspacePath;

/// Bumped whenever a frame changes shape or meaning.
pub const PROTOCOL_VERSION: u32 = 3;
/// The largest frame either side accepts; anything longer is a broken stream.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

/// One step of a run: a command in `sh` syntax, run in `/workspace` as the run's uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub command: String,
    /// Wall-clock limit of the step.
    pub timeout_ms: u64,
}

/// A file of the run's workspace. A frame whose path breaks the rule of [`WorkspacePath`]
/// does not decode: the server parsed the same type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: WorkspacePath,
    pub content: Vec<u8>,
}

/// Everything one run needs, in one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    pub run: u64,
    /// Exactly what `/workspace` holds when the first step starts.
    pub files: Vec<File>,
    /// Compiled languages: the build step, run before `step` with no stdin. A build that
    /// fails ends the run.
    pub build: Option<Step>,
    pub step: Step,
    /// Added to the image's environment for both steps.
    pub env: Vec<(String, String)>,
    /// Bytes of stdout and stderr of both steps together; past it the run is stopped.
    pub output_limit: u64,
    /// A digest of everything the build reads (64 hex digits), from the server: a build whose
    /// key is in the runner's cache is not run, its outputs are copied in instead.
    pub build_key: Option<String>,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Run(RunRequest),
    /// Bytes for the run step's stdin (kept until it starts).
    Stdin {
        run: u64,
        data: Vec<u8>,
    },
    /// Close the run step's stdin once what came before is written.
    StdinEof {
        run: u64,
    },
    /// Stop the run now.
    Kill {
        run: u64,
    },
}

/// Which step of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Build,
    Run,
}

/// Which output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a run ended, as far as the runner knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The step's process exited by itself (`exit_code` or `signal` says how).
    Exited,
    Timeout,
    OutputLimit,
    /// A `Kill` frame stopped it.
    Killed,
    /// Nothing of the step ran: the workspace could not be written, the process could not
    /// be started, or an earlier run's processes could not be cleared. `message` says why.
    Failed,
}

/// The last frame of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub run: u64,
    pub end: End,
    /// The step the run ended in: `Build` with an exit code other than 0 is a compile error.
    pub phase: Phase,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// The kernel's OOM killer killed a process of the run (the cgroup's counter moved).
    pub oom: bool,
    pub build_ms: Option<u64>,
    pub run_ms: Option<u64>,
    /// Output was cut at `output_limit`.
    pub truncated: bool,
    pub message: String,
    /// The build step did not run: its outputs came from the cache (`build_ms` is 0).
    pub build_cached: bool,
    /// The runner could not clear the sandbox (before or after the run): why. The container
    /// is broken; the server replaces it rather than send it another run.
    pub broken: Option<String>,
}

/// What the runner sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// First frame: the runner is ready, its workspace clean.
    Hello {
        protocol: u32,
        build: String,
    },
    /// A step's process started.
    Started {
        run: u64,
        phase: Phase,
    },
    /// Output as it was read; `seq` counts the run's output frames from 1.
    Output {
        run: u64,
        seq: u64,
        stream: Stream,
        data: Vec<u8>,
    },
    /// This many bytes of stdin were written to the program: the server may send more.
    StdinConsumed {
        run: u64,
        bytes: u64,
    },
    Finished(Finished),
    /// A request was refused (`run` 0 when it names none).
    Refused {
        run: u64,
        message: String,
    },
}

/// A frame that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed runner frame: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Builds one frame: the length is filled in by [`Writer::finish`].
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn new(kind: u8) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; 4]);
        buf.push(kind);
        Self { buf }
    }

    fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
        self
    }

    fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    fn opt_u64(&mut self, v: Option<u64>) -> &mut Self {
        match v {
            Some(v) => self.u8(1).u64(v),
            None => self.u8(0),
        }
    }

    fn opt_i32(&mut self, v: Option<i32>) -> &mut Self {
        match v {
            Some(v) => self.u8(1).u32(v as u32),
            None => self.u8(0),
        }
    }

    fn opt_str(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.u8(1).str(v),
            None => self.u8(0),
        }
    }

    fn step(&mut self, s: &Step) -> &mut Self {
        self.str(&s.command).u64(s.timeout_ms)
    }

    fn finish(mut self) -> Vec<u8> {
        let len = (self.buf.len() - 4) as u32;
        self.buf[..4].copy_from_slice(&len.to_le_bytes());
        self.buf
    }
}

/// Reads the fields of one frame's body.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError("frame ends early"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }

    fn str(&mut self) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes()?).map_err(|_| DecodeError("text is not UTF-8"))
    }

    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError("bad flag")),
        }
    }

    fn opt_u64(&mut self) -> Result<Option<u64>, DecodeError> {
        Ok(if self.bool()? {
            Some(self.u64()?)
        } else {
            None
        })
    }

    fn opt_i32(&mut self) -> Result<Option<i32>, DecodeError> {
        Ok(if self.bool()? {
            Some(self.u32()? as i32)
        } else {
            None
        })
    }

    fn opt_str(&mut self) -> Result<Option<String>, DecodeError> {
        Ok(if self.bool()? {
            Some(self.str()?)
        } else {
            None
        })
    }

    fn step(&mut self) -> Result<Step, DecodeError> {
        Ok(Step {
            command: self.str()?,
            timeout_ms: self.u64()?,
        })
    }

    /// Counts for lists, bounded by what the rest of the frame could hold, so a forged count
    /// cannot make the reader allocate.
    fn count(&mut self, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item) > self.buf.len() {
            return Err(DecodeError("count larger than the frame"));
        }
        Ok(n)
    }

    fn end(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError("trailing bytes"))
        }
    }
}

fn phase_byte(p: Phase) -> u8 {
    match p {
        Phase::Build => 0,
        Phase::Run => 1,
    }
}

fn phase_of(b: u8) -> Result<Phase, DecodeError> {
    match b {
        0 => Ok(Phase::Build),
        1 => Ok(Phase::Run),
        _ => Err(DecodeError("bad phase")),
    }
}

impl Request {
    /// The whole frame, length first.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Run(r) => {
                let mut w = Writer::new(1);
                w.u64(r.run).u32(r.files.len() as u32);
                for f in &r.files {
                    w.str(f.path.as_str()).bytes(&f.content);
                }
                match &r.build {
                    Some(b) => w.u8(1).step(b),
                    None => w.u8(0),
                };
                w.step(&r.step).u32(r.env.len() as u32);
                for (k, v) in &r.env {
                    w.str(k).str(v);
                }
                w.u64(r.output_limit).opt_str(r.build_key.as_deref());
                w.finish()
            }
            Request::Stdin { run, data } => {
                let mut w = Writer::new(2);
                w.u64(*run).bytes(data);
                w.finish()
            }
            Request::StdinEof { run } => {
                let mut w = Writer::new(3);
                w.u64(*run);
                w.finish()
            }
            Request::Kill { run } => {
                let mut w = Writer::new(4);
                w.u64(*run);
                w.finish()
            }
        }
    }

    /// Parses a frame's body (without its length).
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader { buf: body };
        let req = match r.u8()? {
            1 => {
                let run = r.u64()?;
                let n = r.count(8)?;
                let mut files = Vec::with_capacity(n);
                for _ in 0..n {
                    files.push(File {
                        path: WorkspacePath::parse(&r.str()?)
                            .map_err(|_| DecodeError("bad file path"))?,
                        content: r.bytes()?,
                    });
                }
                let build = if r.bool()? { Some(r.step()?) } else { None };
                let step = r.step()?;
                let n = r.count(8)?;
                let mut env = Vec::with_capacity(n);
                for _ in 0..n {
                    env.push((r.str()?, r.str()?));
                }
                Request::Run(RunRequest {
                    run,
                    files,
                    build,
                    step,
                    env,
                    output_limit: r.u64()?,
                    build_key: r.opt_str()?,
                })
            }
            2 => Request::Stdin {
                run: r.u64()?,
                data: r.bytes()?,
            },
            3 => Request::StdinEof { run: r.u64()? },
            4 => Request::Kill { run: r.u64()? },
            _ => return Err(DecodeError("unknown request")),
        };
        r.end()?;
        Ok(req)
    }
}

impl Event {
    /// The whole frame, length first.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Event::Hello { protocol, build } => {
                let mut w = Writer::new(1);
                w.u32(*protocol).str(build);
                w.finish()
            }
            Event::Started { run, phase } => {
                let mut w = Writer::new(2);
                w.u64(*run).u8(phase_byte(*phase));
                w.finish()
            }
            Event::Output {
                run,
                seq,
                stream,
                data,
            } => {
                let mut w = Writer::new(3);
                let s = match stream {
                    Stream::Stdout => 1,
                    Stream::Stderr => 2,
                };
                w.u64(*run).u64(*seq).u8(s).bytes(data);
                w.finish()
            }
            Event::StdinConsumed { run, bytes } => {
                let mut w = Writer::new(4);
                w.u64(*run).u64(*bytes);
                w.finish()
            }
            Event::Finished(f) => {
                let mut w = Writer::new(5);
                let end = match f.end {
                    End::Exited => 0,
                    End::Timeout => 1,
                    End::OutputLimit => 2,
                    End::Killed => 3,
                    End::Failed => 4,
                };
                w.u64(f.run)
                    .u8(end)
                    .u8(phase_byte(f.phase))
                    .opt_i32(f.exit_code)
                    .opt_i32(f.signal)
                    .u8(f.oom as u8)
                    .opt_u64(f.build_ms)
                    .opt_u64(f.run_ms)
                    .u8(f.truncated as u8)
                    .str(&f.message)
                    .u8(f.build_cached as u8)
                    .opt_str(f.broken.as_deref());
                w.finish()
            }
            Event::Refused { run, message } => {
                let mut w = Writer::new(6);
                w.u64(*run).str(message);
                w.finish()
            }
        }
    }

    /// Parses a frame's body (without its length).
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader { buf: body };
        let event = match r.u8()? {
            1 => Event::Hello {
                protocol: r.u32()?,
                build: r.str()?,
            },
            2 => Event::Started {
                run: r.u64()?,
                phase: phase_of(r.u8()?)?,
            },
            3 => Event::Output {
                run: r.u64()?,
                seq: r.u64()?,
                stream: match r.u8()? {
                    1 => Stream::Stdout,
                    2 => Stream::Stderr,
                    _ => return Err(DecodeError("bad stream")),
                },
                data: r.bytes()?,
            },
            4 => Event::StdinConsumed {
                run: r.u64()?,
                bytes: r.u64()?,
            },
            5 => Event::Finished(Finished {
                run: r.u64()?,
                end: match r.u8()? {
                    0 => End::Exited,
                    1 => End::Timeout,
                    2 => End::OutputLimit,
                    3 => End::Killed,
                    4 => End::Failed,
                    _ => return Err(DecodeError("bad end")),
                },
                phase: phase_of(r.u8()?)?,
                exit_code: r.opt_i32()?,
                signal: r.opt_i32()?,
                oom: r.bool()?,
                build_ms: r.opt_u64()?,
                run_ms: r.opt_u64()?,
                truncated: r.bool()?,
                message: r.str()?,
                build_cached: r.bool()?,
                broken: r.opt_str()?,
            }),
            6 => Event::Refused {
                run: r.u64()?,
                message: r.str()?,
            },
            _ => return Err(DecodeError("unknown event")),
        };
        r.end()?;
        Ok(event)
    }
}

/// The body length a frame header announces, if it is one either side accepts.
pub fn frame_len(header: [u8; 4]) -> Result<usize, DecodeError> {
    let n = u32::from_le_bytes(header) as usize;
    if n == 0 || n > MAX_FRAME {
        return Err(DecodeError("frame length out of bounds"));
    }
    Ok(n)
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
