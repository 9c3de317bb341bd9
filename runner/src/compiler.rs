//! The resident-compiler protocol: how a build reaches a toolchain's compiler kept warm in
//! the container (environment.toml `daemon`; the runner starts it, see `daemon.rs` in the
//! binary). One request and one answer per connection on a unix socket; a blob is a
//! big-endian u32 length and its bytes, names are UTF-8.
//!
//! - request: u32 [`MAGIC`], u32 n, n × (blob name, blob content): the sources, named as the
//!   build named them (the daemon shows them in its diagnostics as its compiler would);
//! - answer: u32 exit code, blob diagnostics, u32 n, n × (blob path, blob content): what the
//!   compile wrote, paths relative to the output directory.
//!
//! `livecode-compile SOCKET -d DIR FILE...` is the client a build runs. With no daemon
//! to answer it exits [`FALLBACK_EXIT`], and the build compiles the slow way.
//!
//! A daemon compiles for one client at a time: to any other it answers [`BUSY`] at once, so
//! no build waits behind another's compile. A compile whose client goes away (its run ended)
//! is cancelled, and none runs longer than the daemon's limit (20 s).

use std::io::{self, Read};

/// "LCD1".
pub const MAGIC: u32 = 0x4c43_4431;
/// The client's exit code when no daemon answered: compile without one.
pub const FALLBACK_EXIT: i32 = 75;
/// The answer of a daemon busy with another client's compile: exit code [`FALLBACK_EXIT`],
/// no diagnostics, no files. The client exits with that code and the build compiles by itself.
pub const BUSY: Answer = Answer {
    exit_code: FALLBACK_EXIT,
    diagnostics: Vec::new(),
    files: Vec::new(),
};
/// At most this much comes back (classes and diagnostics together).
pub const MAX_ANSWER: usize = 64 << 20;
pub const MAX_FILES: usize = 4096;

/// What the daemon answered.
#[derive(Debug, PartialEq)]
pub struct Answer {
    pub exit_code: i32,
    pub diagnostics: Vec<u8>,
    pub files: Vec<(String, Vec<u8>)>,
}

fn blob(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

fn files(buf: &mut Vec<u8>, files: &[(String, Vec<u8>)]) {
    buf.extend_from_slice(&(files.len() as u32).to_be_bytes());
    for (name, content) in files {
        blob(buf, name.as_bytes());
        blob(buf, content);
    }
}

pub fn encode_request(sources: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut buf = MAGIC.to_be_bytes().to_vec();
    files(&mut buf, sources);
    buf
}

/// The daemon's side of an answer (for tests, and for a daemon written in Rust).
pub fn encode_answer(answer: &Answer) -> Vec<u8> {
    let mut buf = answer.exit_code.to_be_bytes().to_vec();
    blob(&mut buf, &answer.diagnostics);
    files(&mut buf, &answer.files);
    buf
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn read_blob(r: &mut impl Read, budget: &mut usize) -> io::Result<Vec<u8>> {
    let len = read_u32(r)? as usize;
    if len > *budget {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "answer too large",
        ));
    }
    *budget -= len;
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes)?;
    Ok(bytes)
}

pub fn read_answer(r: &mut impl Read) -> io::Result<Answer> {
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
    let mut budget = MAX_ANSWER;
    let exit_code = read_u32(r)? as i32;
    let diagnostics = read_blob(r, &mut budget)?;
    let n = read_u32(r)? as usize;
    if n > MAX_FILES {
        return Err(invalid("too many files"));
    }
    let mut files = Vec::with_capacity(n);
    for _ in 0..n {
        let name = String::from_utf8(read_blob(r, &mut budget)?)
            .map_err(|_| invalid("a file name is not UTF-8"))?;
        if !is_relative_inside(&name) {
            return Err(invalid("a file's path leaves the output directory"));
        }
        files.push((name, read_blob(r, &mut budget)?));
    }
    Ok(Answer {
        exit_code,
        diagnostics,
        files,
    })
}

/// A relative path with no `..`, `.` or empty part: it stays inside the directory it is
/// joined to.
pub fn is_relative_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reads_back_as_written() {
        let answer = Answer {
            exit_code: 1,
            diagnostics: b"main.kt:2:20: error: ...\n".to_vec(),
            files: vec![
                ("MainKt.class".into(), vec![0xca, 0xfe]),
                ("META-INF/main.kotlin_module".into(), vec![]),
            ],
        };
        let bytes = encode_answer(&answer);
        assert_eq!(read_answer(&mut &bytes[..]).unwrap(), answer);
        // Cut anywhere, it is an error, not a shorter answer.
        for cut in 0..bytes.len() {
            assert!(read_answer(&mut &bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn an_answer_may_not_escape_the_output_directory() {
        for name in ["../x", "/etc/x", "a/../../x", "a//b", "", "./x"] {
            let answer = Answer {
                exit_code: 0,
                diagnostics: vec![],
                files: vec![(name.into(), vec![1])],
            };
            assert!(
                read_answer(&mut &encode_answer(&answer)[..]).is_err(),
                "{name:?}"
            );
        }
        assert!(is_relative_inside("a/b/C.class"));
    }

    #[test]
    fn a_request_starts_with_the_magic_and_counts_its_files() {
        let req = encode_request(&[("main.kt".into(), b"fun main() {}".to_vec())]);
        assert_eq!(&req[..4], b"LCD1");
        assert_eq!(&req[4..8], &1u32.to_be_bytes());
        assert_eq!(&req[8..12], &7u32.to_be_bytes());
        assert_eq!(&req[12..19], b"main.kt");
    }

    #[test]
    fn an_oversized_answer_is_refused_before_it_is_read() {
        let mut bytes = 0i32.to_be_bytes().to_vec();
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(read_answer(&mut &bytes[..]).is_err());
    }
}
