//! The build cache: what a successful build left in the workspace and what it printed, kept
//! under the key the server sends (a digest of everything the build reads), so that pressing
//! Run on unchanged code does not build again.
//!
//! Entries live in [`CACHE_DIR`], a tmpfs of its own owned by [`CACHE_UID`], which only the
//! cache thread acts as, and which it keeps to itself (mode 0700, entries 0700 and 0600): no
//! run can plant, change, remove or read an entry. A session's runs are not all its
//! candidate's: an interviewer's private code, run through `execute` with `code`, is cached
//! too. On a hit the cache thread opens the entry's files and hands them, open, to the worker
//! thread, which copies them into the workspace for the run that needs them (see
//! [`Cache::open`]). Each entry is `<key>/files/…` and `<key>/output`; it is written under a
//! temporary name and renamed, so a half-written entry is never found. When the mount is
//! full the least recently used entries go.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::SystemTime;

use livecode_runner::protocol::Stream;

use crate::sys;

/// The cache's own tmpfs (the server mounts it; without it there is no cache).
pub const CACHE_DIR: &str = "/var/cache/livecode";
/// The owner of [`CACHE_DIR`]: the worker's real uid, which no process has.
const CACHE_UID: u32 = 1001;
/// Past this much output a build is not cached (its warnings would be cut).
const MAX_OUTPUT: usize = 64 * 1024;
/// Entries kept at most, however small.
const MAX_ENTRIES: usize = 16;

/// What a build printed, in order.
pub type Output = Vec<(Stream, Vec<u8>)>;

/// Only keys of the server's shape name a directory.
pub fn valid_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// One piece of a cached build on its way into the workspace, in order: a directory before
/// what it holds; then `End` with how the cache's side went.
pub enum Piece {
    /// A directory, relative to the workspace.
    Dir(String),
    /// A file, relative to the workspace, the mode it gets there, and the entry's copy, open.
    File(String, u32, fs::File),
    End(Result<(), String>),
}

/// Cached files in flight to the worker at once (each holds a descriptor).
const PIECES_IN_FLIGHT: usize = 8;

enum Job {
    Lookup(String),
    Open(String, mpsc::SyncSender<Piece>),
    Store {
        key: String,
        inputs: Vec<String>,
        output: Output,
    },
}

/// A handle on the cache thread.
pub struct Cache {
    jobs: mpsc::Sender<(Job, mpsc::Sender<Option<Output>>)>,
}

impl Cache {
    /// Starts the cache thread, or `None` when there is no cache mount (an older container)
    /// or the thread cannot become its owner.
    pub fn start() -> Option<Self> {
        let meta = fs::symlink_metadata(CACHE_DIR).ok()?;
        if !meta.is_dir() || meta.uid() != CACHE_UID {
            return None;
        }
        let (tx, rx) = mpsc::channel::<(Job, mpsc::Sender<Option<Output>>)>();
        let (ready_tx, ready_rx) = mpsc::channel();
        thread::Builder::new()
            .name("cache".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let creds = sys::set_thread_credentials([CACHE_UID; 3], [CACHE_UID; 3]);
                // The mount is made readable by all; the cache is its thread's alone.
                let ok = creds.is_ok()
                    && fs::set_permissions(CACHE_DIR, fs::Permissions::from_mode(0o700)).is_ok();
                let _ = ready_tx.send(ok);
                if !ok {
                    return;
                }
                for (job, reply) in rx {
                    let answer = match job {
                        Job::Lookup(key) => lookup(&key),
                        Job::Open(key, sink) => {
                            let result = open(&key, &sink).map_err(|e| e.to_string());
                            let _ = sink.send(Piece::End(result));
                            None
                        }
                        Job::Store {
                            key,
                            inputs,
                            output,
                        } => {
                            if let Err(e) = store(&key, &inputs, &output) {
                                eprintln!("livecode-runner: the build was not cached: {e}");
                            }
                            None
                        }
                    };
                    let _ = reply.send(answer);
                }
            })
            .ok()?;
        ready_rx.recv().ok()?.then_some(Self { jobs: tx })
    }

    fn ask(&self, job: Job) -> Option<Output> {
        let (tx, rx) = mpsc::channel();
        self.jobs.send((job, tx)).ok()?;
        rx.recv().ok().flatten()
    }

    /// The output of the cached build of `key`, if there is one (it becomes the newest).
    pub fn lookup(&self, key: &str) -> Option<Output> {
        self.ask(Job::Lookup(key.to_string()))
    }

    /// The files of entry `key`, opened by the cache thread and sent as [`Piece`]s (at most
    /// [`PIECES_IN_FLIGHT`] at a time); the worker thread writes them into the workspace as
    /// they come. Returns at once: the receiver is the worker's to drain.
    pub fn open(&self, key: &str) -> mpsc::Receiver<Piece> {
        let (tx, rx) = mpsc::sync_channel(PIECES_IN_FLIGHT);
        // No answer to wait for: the pieces are the answer.
        let (reply, _) = mpsc::channel();
        let _ = self.jobs.send((Job::Open(key.to_string(), tx), reply));
        rx
    }

    /// Keeps what the build of `key` left in the workspace (every regular file that is not
    /// one of `inputs`) and what it printed.
    pub fn store(&self, key: &str, inputs: Vec<String>, output: Output) {
        self.ask(Job::Store {
            key: key.to_string(),
            inputs,
            output,
        });
    }
}

/// Sends entry `key`'s directories and files, each directory before what it holds. A file is
/// restored 0755 if the build made it executable, else 0644.
fn open(key: &str, sink: &mpsc::SyncSender<Piece>) -> io::Result<()> {
    let gone = || io::Error::other("the worker stopped taking the files");
    let root = Path::new(CACHE_DIR).join(key).join("files");
    // Directories still to send, by path relative to `root`: no descriptor is held while
    // the worker writes.
    let mut dirs = vec![String::new()];
    while let Some(rel) = dirs.pop() {
        for entry in fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let name = entry.file_name().into_string().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "a file name is not UTF-8")
            })?;
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = fs::symlink_metadata(entry.path())?;
            if meta.is_dir() {
                sink.send(Piece::Dir(path.clone())).map_err(|_| gone())?;
                dirs.push(path);
            } else if meta.is_file() {
                let mode = if meta.mode() & 0o100 != 0 {
                    0o755
                } else {
                    0o644
                };
                let file = fs::File::open(entry.path())?;
                sink.send(Piece::File(path, mode, file))
                    .map_err(|_| gone())?;
            }
        }
    }
    Ok(())
}

fn lookup(key: &str) -> Option<Output> {
    let path = Path::new(CACHE_DIR).join(key).join("output");
    let mut file = fs::File::options().read(true).write(true).open(path).ok()?;
    let mut raw = Vec::new();
    file.read_to_end(&mut raw).ok()?;
    // Its modification time orders the entries for eviction.
    let _ = file.set_modified(SystemTime::now());
    decode_output(&raw)
}

fn store(key: &str, inputs: &[String], output: &Output) -> io::Result<()> {
    let root = Path::new(CACHE_DIR);
    if root.join(key).exists() {
        return Ok(());
    }
    let mut outputs = Vec::new();
    collect(Path::new("/workspace"), "", inputs, &mut outputs)?;
    let tmp = root.join(format!(".new-{key}"));
    let _ = remove_tree(&tmp);
    let mut evicted = 0;
    loop {
        match write_entry(&tmp, &outputs, output) {
            Ok(()) => break,
            // Full: the oldest entry goes, until this one fits or none is left.
            Err(e) if e.raw_os_error() == Some(sys::ENOSPC) && evict_oldest(root)? => {
                evicted += 1;
                let _ = remove_tree(&tmp);
                if evicted > MAX_ENTRIES {
                    return Err(e);
                }
            }
            Err(e) => {
                let _ = remove_tree(&tmp);
                return Err(e);
            }
        }
    }
    fs::rename(&tmp, root.join(key))?;
    while entries(root)?.len() > MAX_ENTRIES && evict_oldest(root)? {}
    Ok(())
}

/// The regular files under `dir` that are not inputs, by relative path. A build's outputs are
/// the compiler's; anything not a plain readable file (a symlink, a fifo) is left out.
fn collect(
    dir: &Path,
    prefix: &str,
    inputs: &[String],
    out: &mut Vec<(String, PathBuf)>,
) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a file name is not UTF-8"))?;
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta = fs::symlink_metadata(entry.path())?;
        if meta.is_dir() {
            collect(&entry.path(), &rel, inputs, out)?;
        } else if meta.is_file() && !inputs.contains(&rel) {
            out.push((rel, entry.path()));
        }
    }
    Ok(())
}

/// Writes an entry, readable by the cache's uid alone: directories 0700, files 0600 (0700
/// for what the build made executable, which is how it is restored).
fn write_entry(tmp: &Path, outputs: &[(String, PathBuf)], output: &Output) -> io::Result<()> {
    let files = tmp.join("files");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&files)?;
    for (rel, from) in outputs {
        let to = files.join(rel);
        if let Some(parent) = to.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)?;
        }
        let mut src = fs::File::open(from)?;
        let mode = src.metadata()?.permissions().mode() & 0o100 | 0o600;
        let mut dst = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&to)?;
        io::copy(&mut src, &mut dst)?;
        fs::set_permissions(&to, fs::Permissions::from_mode(mode))?;
    }
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp.join("output"))?;
    out.write_all(&encode_output(output))
}

/// Entry names with the time each was last used.
fn entries(root: &Path) -> io::Result<Vec<(SystemTime, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(root)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !valid_key(name) {
            continue;
        }
        let used = fs::metadata(path.join("output"))
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        found.push((used, path));
    }
    Ok(found)
}

/// Removes the least recently used entry; false when there is none.
fn evict_oldest(root: &Path) -> io::Result<bool> {
    let Some((_, oldest)) = entries(root)?.into_iter().min() else {
        return Ok(false);
    };
    remove_tree(&oldest)?;
    Ok(true)
}

fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// A stream byte, a length, the bytes; repeated.
fn encode_output(output: &Output) -> Vec<u8> {
    let mut buf = Vec::new();
    for (stream, data) in output {
        buf.push(match stream {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        });
        buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
        buf.extend_from_slice(data);
    }
    buf
}

fn decode_output(mut raw: &[u8]) -> Option<Output> {
    let mut output = Vec::new();
    while !raw.is_empty() {
        let stream = match raw[0] {
            1 => Stream::Stdout,
            2 => Stream::Stderr,
            _ => return None,
        };
        let len = u32::from_le_bytes(raw.get(1..5)?.try_into().ok()?) as usize;
        let data = raw.get(5..5 + len)?;
        output.push((stream, data.to_vec()));
        raw = &raw[5 + len..];
    }
    Some(output)
}

/// Collects what a build prints, up to [`MAX_OUTPUT`]; past it the build is not cached.
#[derive(Default)]
pub struct Recorder {
    output: Output,
    bytes: usize,
    overflow: bool,
}

impl Recorder {
    pub fn push(&mut self, stream: Stream, data: &[u8]) {
        self.bytes += data.len();
        if self.bytes > MAX_OUTPUT {
            self.overflow = true;
            self.output.clear();
        } else if !self.overflow {
            self.output.push((stream, data.to_vec()));
        }
    }

    pub fn finish(self) -> Option<Output> {
        (!self.overflow).then_some(self.output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_64_lowercase_hex_digits() {
        assert!(valid_key(&"a1".repeat(32)));
        for bad in [
            "",
            "../x",
            &"A1".repeat(32),
            &"a".repeat(63),
            &"a/".repeat(32),
        ] {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn recorded_output_round_trips_and_overflows() {
        let mut rec = Recorder::default();
        rec.push(Stream::Stderr, b"warning: x\n");
        rec.push(Stream::Stdout, b"");
        let output = rec.finish().expect("small");
        assert_eq!(decode_output(&encode_output(&output)), Some(output));
        assert_eq!(decode_output(&[9, 0, 0, 0, 0]), None);
        assert_eq!(decode_output(&[1, 5, 0, 0, 0, b'a']), None);

        let mut rec = Recorder::default();
        rec.push(Stream::Stderr, &vec![b'w'; MAX_OUTPUT + 1]);
        rec.push(Stream::Stderr, b"more");
        assert!(rec.finish().is_none());
    }
}
