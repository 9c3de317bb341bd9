//! `livecode-compile SOCKET -d DIR FILE...`: what a build runs to compile through the
//! toolchain's resident compiler (see `livecode_runner::compiler`). A binary of its own, run as
//! the run's uid: the runner itself is root's alone. It sends the files, writes
//! the outputs it gets back under DIR, prints the diagnostics and exits with the compiler's
//! code. With no daemon to answer, or one that breaks off, it exits `FALLBACK_EXIT` and the
//! build's script compiles by itself: a daemon only ever makes a build faster.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use livecode_runner::compiler::{encode_request, read_answer, FALLBACK_EXIT};

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
        // As the compiler prints it: relative to the working directory when under it.
        let shown = path.strip_prefix(&cwd).map_or(path.clone(), PathBuf::from);
        sources.push((shown.to_string_lossy().into_owned(), content));
    }
    let answer = UnixStream::connect(socket).and_then(|mut stream| {
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
