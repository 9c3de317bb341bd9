//! `livecode-compile SOCKET -d DIR FILE...`: what a build runs to compile through the
//! toolchain's resident compiler (see `livecode_runner::compiler`). A binary of its own, run as
//! the run's uid: the runner itself is root's alone. It sends the files, writes
//! the outputs it gets back under DIR, prints the diagnostics and exits with the compiler's
//! code. With no daemon to answer, or one that breaks off, it exits `FALLBACK_EXIT` and the
//! build's script compiles by itself: a daemon only ever makes a build faster.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use livecode_runner::compiler::{encode_request, read_answer, FALLBACK_EXIT};

/// How long a daemon may take to answer before the build compiles by itself: longer than a
/// daemon lets one compile run (20 s), so that a compile it gives up on is told as such. A
/// daemon busy with another client answers at once ([`BUSY`]) instead of queueing this one.
///
/// [`BUSY`]: livecode_runner::compiler::BUSY
const ANSWER_WITHIN: Duration = Duration::from_secs(25);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(compile(&args));
}

fn compile(args: &[String]) -> i32 {
    let (socket, dir, files) = match args {
        [socket, flag, dir, files @ ..] if flag == "-d" && !files.is_empty() => {
            (socket, Path::new(dir), files)
        }
        _ => {
            eprintln!("usage: livecode-compile SOCKET -d DIR FILE...");
            return 2;
        }
    };
    let Ok(cwd) = std::env::current_dir() else {
        return FALLBACK_EXIT;
    };
    let mut sources = Vec::with_capacity(files.len());
    for file in files {
        let path = cwd.join(file);
        // A file that cannot be read is for the compiler itself to report.
        let Ok(content) = std::fs::read(&path) else {
            return FALLBACK_EXIT;
        };
        // As the build named it: the daemon prints it as its compiler would.
        sources.push((file.clone(), content));
    }
    let answer = UnixStream::connect(socket).and_then(|mut stream| {
        // A daemon that does not answer in time is as good as none.
        stream.set_read_timeout(Some(ANSWER_WITHIN))?;
        stream.set_write_timeout(Some(ANSWER_WITHIN))?;
        stream.write_all(&encode_request(&sources))?;
        read_answer(&mut stream)
    });
    let Ok(answer) = answer else {
        return FALLBACK_EXIT;
    };
    for (name, content) in &answer.files {
        // read_answer checked that each path stays inside DIR.
        let target = dir.join(name);
        let written = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&target, content));
        if let Err(e) = written {
            eprintln!("livecode-compile: cannot write {}: {e}", target.display());
            return 1;
        }
    }
    let _ = std::io::stderr().write_all(&answer.diagnostics);
    answer.exit_code
}
