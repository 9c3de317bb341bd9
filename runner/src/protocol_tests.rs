//! Frames round-trip, and malformed ones are errors, never panics or allocations.

use super::*;
use crate::path::WorkspacePath;

fn path(p: &str) -> WorkspacePath {
    WorkspacePath::parse(p).expect("a valid path")
}

fn body(frame: &[u8]) -> &[u8] {
    let n = frame_len([frame[0], frame[1], frame[2], frame[3]]).expect("length");
    assert_eq!(n, frame.len() - 4);
    &frame[4..]
}

#[test]
fn requests_round_trip() {
    let all = [
        Request::Run(RunRequest {
            run: 7,
            files: vec![
                File {
                    path: path("main.py"),
                    content: b"print(1)\n".to_vec(),
                },
                File {
                    path: path("lib/é🎉.txt"),
                    content: vec![0, 255, 10],
                },
            ],
            build: Some(Step {
                command: "gcc -o main main.c".into(),
                timeout_ms: 60_000,
            }),
            step: Step {
                command: "./main".into(),
                timeout_ms: 10_000,
            },
            env: vec![("A".into(), "b c".into())],
            output_limit: 1 << 20,
            build_key: Some("ab".repeat(32)),
        }),
        Request::Stdin {
            run: 7,
            data: b"42\n".to_vec(),
        },
        Request::StdinEof { run: 7 },
        Request::Kill { run: u64::MAX },
    ];
    for req in all {
        assert_eq!(Request::decode(body(&req.encode())), Ok(req));
    }
}

#[test]
fn events_round_trip() {
    let all = [
        Event::Hello {
            protocol: PROTOCOL_VERSION,
            build: "abc".into(),
        },
        Event::Started {
            run: 1,
            phase: Phase::Build,
        },
        Event::Output {
            run: 1,
            seq: 3,
            stream: Stream::Stderr,
            data: b"oops".to_vec(),
        },
        Event::StdinConsumed { run: 1, bytes: 9 },
        Event::Finished(Finished {
            run: 1,
            end: End::Exited,
            phase: Phase::Run,
            exit_code: Some(-1),
            signal: None,
            oom: true,
            build_ms: Some(5),
            run_ms: None,
            truncated: false,
            message: "why".into(),
            build_cached: true,
            broken: Some("emptying /tmp: x".into()),
        }),
        Event::Refused {
            run: 0,
            message: "busy".into(),
        },
    ];
    for event in all {
        assert_eq!(Event::decode(body(&event.encode())), Ok(event));
    }
}

#[test]
fn malformed_frames_are_errors_not_panics() {
    assert!(frame_len([0, 0, 0, 0]).is_err());
    assert!(frame_len(u32::MAX.to_le_bytes()).is_err());
    assert!(Request::decode(&[]).is_err());
    assert!(Request::decode(&[9]).is_err());
    // A forged file count larger than the frame allocates nothing.
    let mut forged = vec![1];
    forged.extend_from_slice(&7u64.to_le_bytes());
    forged.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(Request::decode(&forged).is_err());
    // Trailing bytes.
    let mut kill = Request::Kill { run: 1 }.encode()[4..].to_vec();
    kill.push(0);
    assert!(Request::decode(&kill).is_err());
    // Every prefix of a valid frame fails cleanly.
    let frame = Event::Output {
        run: 1,
        seq: 1,
        stream: Stream::Stdout,
        data: b"hello".to_vec(),
    }
    .encode();
    for n in 0..frame.len() - 4 {
        assert!(Event::decode(&frame[4..4 + n]).is_err());
    }
}

/// A run frame with one file whose path is `name`, whatever it is: written field by field, as
/// a server that did not parse it would.
fn run_frame_with_path(name: &str) -> Vec<u8> {
    let mut w = Writer::new(1);
    w.u64(1).u32(1).str(name).bytes(b"x").u8(0);
    w.step(&Step {
        command: "true".into(),
        timeout_ms: 1,
    })
    .u32(0)
    .u64(1 << 20)
    .opt_str(None);
    w.finish()
}

/// The runner decodes exactly the paths the server's parse accepts: both are
/// `WorkspacePath::parse`.
#[test]
fn frames_carry_only_workspace_paths() {
    for name in [
        "main.py",
        "lib/util.py",
        "a b.txt",
        "données.csv",
        ".hidden",
        "x..y",
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "./a",
        "a//b",
        "a/",
        ".",
        "..",
        "a\\b",
        "a\0b",
        "a\nb",
        &"a/".repeat(9),
        &"x".repeat(200),
    ] {
        let decoded = Request::decode(&run_frame_with_path(name)[4..]);
        match WorkspacePath::parse(name) {
            Ok(path) => match decoded {
                Ok(Request::Run(run)) => assert_eq!(run.files[0].path, path),
                other => panic!("{name:?} decoded as {other:?}"),
            },
            Err(_) => assert_eq!(decoded, Err(DecodeError("bad file path")), "{name:?}"),
        }
    }
}
