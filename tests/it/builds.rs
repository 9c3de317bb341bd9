//! Builds: the cache in the session's container (an unchanged program is not rebuilt, a run
//! can neither write nor read the cache), and the toolchains' resident compilers (kotlind,
//! javad), which serve builds, which runs can neither stop, replace nor jam, and which keep
//! nothing of one run's code for the next.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

/// `script` run by `sh` in the container as root (what a run cannot see, from outside).
fn in_container(container: &str, script: &str) -> String {
    in_container_as("0", container, script)
}

/// `script` run by `sh` in the container as `user` (root has no `CAP_DAC_OVERRIDE` there).
fn in_container_as(user: &str, container: &str, script: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", "-u", user, container, "sh", "-c", script])
        .output()
        .expect("docker exec");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn execute_ok(result: &Value) -> &Value {
    assert_eq!(result["status"], "completed", "{result}");
    assert_eq!(result["exit_code"], 0, "{result}");
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_program_is_not_rebuilt_and_runs_cannot_write_the_cache() {
    let server = TestServer::start(|_| {}).await;
    let api = server.api();
    let hello = "#include <stdio.h>\nint main(void) { puts(\"built\"); return 0; }\n";
    let session = server
        .session(json!({"environment": "c", "code": hello}))
        .await;
    let id = &session.id;
    let token = &session.candidate;
    api.wait_status(id, token, "ready").await;

    let first = api.execute(id, token, json!({})).await;
    execute_ok(&first);
    assert_eq!(first["stdout"], "built\n");
    assert_eq!(first["build_cached"], false, "{first}");
    assert!(first["build_time"].as_f64().unwrap_or(0.0) > 0.0, "{first}");

    let again = api.execute(id, token, json!({})).await;
    execute_ok(&again);
    assert_eq!(again["stdout"], "built\n", "the cached build runs the same");
    assert_eq!(again["build_cached"], true, "{again}");
    assert_eq!(again["build_time"], 0.0, "{again}");

    // Any input that changes (here a file beside the program) is a new build.
    let other = api
        .execute(id, token, json!({"files": {"notes.txt": "x\n"}}))
        .await;
    execute_ok(&other);
    assert_eq!(other["build_cached"], false, "{other}");

    // The socket's run_finished says so too, and the history keeps it.
    let mut ws = server.ws(id, token).await;
    let run = run_code(&mut ws, "main.c", hello).await;
    run.assert_completed(0);
    assert_eq!(run.finished["build_cached"], true, "{}", run.describe());

    let poison = r#"#include <errno.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    FILE *f = fopen("/var/cache/livecode/planted", "w");
    printf("%s\n", f ? "written" : strerror(errno));
    return 0;
}
"#;
    let tried = api.execute(id, token, json!({"code": poison})).await;
    execute_ok(&tried);
    assert_eq!(tried["stdout"], "Permission denied\n", "{tried}");
}

/// What a run tries against the daemon: stop it, replace its socket, write beside it.
const ATTACK: &str = "rm -f /run/livecode/compiler.sock; echo x > /run/livecode/planted; \
    for p in /proc/[0-9]*; do kill -9 ${p#/proc/}; done";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kotlin_builds_go_through_kotlind_which_runs_cannot_harm() {
    let attack = format!(
        "fun main() {{\n    ProcessBuilder(\"sh\", \"-c\", \"{}\").inheritIO().start().waitFor()\n}}\n",
        ATTACK.replace('$', "${'$'}")
    );
    let changed = "fun main() = println(\"still served\")\n";
    resident_compiler("kotlin", &attack, changed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_builds_go_through_javad_which_runs_cannot_harm() {
    let attack = format!(
        "public class Main {{\n    public static void main(String[] a) throws Exception {{\n        \
         new ProcessBuilder(\"sh\", \"-c\", \"{ATTACK}\").inheritIO().start().waitFor();\n    }}\n}}\n"
    );
    let changed = "class Main { public static void main(String[] a) { System.out.println(\"still served\"); } }\n";
    resident_compiler("java", &attack, changed).await;
}

/// The environment's daemon serves its builds (its log counts them), and a run that attacks
/// it leaves it, its socket and its directory as they were.
async fn resident_compiler(environment: &str, attack: &str, changed: &str) {
    let server = TestServer::start(|_| {}).await;
    let api = server.api();
    let session = server.session(json!({"environment": environment})).await;
    let (id, token) = (&session.id, &session.candidate);
    api.wait_status(id, token, "ready").await;
    let container = session_container(&api, &session).await;
    let daemon = || {
        in_container(
            &container,
            r#"for d in /proc/[0-9]*; do [ "$(stat -c %u $d)" = 1002 ] && echo "${d#/proc/} $(cat $d/comm)"; done; true"#,
        )
    };
    let compiles = || {
        in_container(&container, "cat /run/livecode/daemon.log")
            .matches(": compiled ")
            .count()
    };
    daemon_listens(&container).await;
    let before = daemon();
    assert!(
        before.contains(" java"),
        "the daemon runs as uid 1002: {before}"
    );

    let hello = api.execute(id, token, json!({})).await;
    execute_ok(&hello);
    assert_eq!(hello["stdout"], "Hello, livecode!\n");
    assert_eq!(compiles(), 1, "the build went through the daemon");

    let tried = api.execute(id, token, json!({"code": attack})).await;
    assert_ne!(tried["status"], "compile_error", "{tried}");
    assert_eq!(daemon(), before, "the daemon is the same process");
    assert_eq!(
        in_container(
            &container,
            "[ -S /run/livecode/compiler.sock ] && echo socket; [ -e /run/livecode/planted ] && echo planted; true"
        ),
        "socket\n"
    );

    let after = api.execute(id, token, json!({"code": changed})).await;
    execute_ok(&after);
    assert_eq!(after["stdout"], "still served\n");
    assert_eq!(compiles(), 3, "both later builds went through the daemon");
}

/// In the interviewer's private code only; the candidate's search spells it in two halves.
const SECRET: &str = "SECRET_C0FFEE_4217";

/// What the candidate's run searches for the secret: every place a run might read.
const SEARCH: &str = "S=$(printf '%s%s' SECRET_ C0FFEE_4217); \
    grep -rls \"$S\" /run/livecode /var/cache/livecode /tmp /workspace; echo searched";

/// Waits until the environment's daemon listens (it serves builds once warm).
async fn daemon_listens(container: &str) {
    let warm = wait_until(Duration::from_secs(120), || {
        !in_container(container, "[ -S /run/livecode/compiler.sock ] && echo up").is_empty()
    })
    .await;
    assert!(warm, "the daemon never listened within 120 s");
}

/// The interviewer runs private code through `execute` with `code`, twice (the second a
/// cache hit); the candidate's next run finds nothing of it anywhere it can read.
async fn private_code_stays_private(environment: &str, secret_code: &str, search_code: &str) {
    let server = TestServer::start(|_| {}).await;
    let api = server.api();
    let session = server.session(json!({"environment": environment})).await;
    let id = &session.id;
    let container = session_container(&api, &session).await;
    daemon_listens(&container).await;
    let compiles = || {
        in_container(&container, "cat /run/livecode/daemon.log")
            .matches(": compiled ")
            .count()
    };

    for _ in 0..2 {
        let private = api
            .execute(id, &session.interviewer, json!({"code": secret_code}))
            .await;
        execute_ok(&private);
        assert_eq!(private["stdout"], format!("{SECRET}\n"), "{private}");
    }
    assert_eq!(
        compiles(),
        1,
        "the interviewer's build went through the daemon"
    );
    // It is there, for the runner's cache thread (uid 1001) alone.
    assert!(
        !in_container_as(
            "1001",
            &container,
            &format!("grep -rl {SECRET} /var/cache/livecode")
        )
        .is_empty(),
        "the build was cached"
    );

    let search = api
        .execute(id, &session.candidate, json!({"code": search_code}))
        .await;
    execute_ok(&search);
    assert_eq!(search["stdout"], "searched\n", "{search}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_runs_cannot_read_another_runs_sources_or_classes() {
    let secret = format!(
        "public class Main {{ public static void main(String[] a) {{ System.out.println(\"{SECRET}\"); }} }}\n"
    );
    let search = format!(
        "public class Main {{\n    public static void main(String[] a) throws Exception {{\n        \
         new ProcessBuilder(\"sh\", \"-c\", \"{}\").inheritIO().start().waitFor();\n    }}\n}}\n",
        SEARCH.replace('\\', "\\\\").replace('"', "\\\"")
    );
    private_code_stays_private("java", &secret, &search).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kotlin_runs_cannot_read_another_runs_sources_or_classes() {
    let secret = format!("fun main() = println(\"{SECRET}\")\n");
    let search = format!(
        "fun main() {{\n    ProcessBuilder(\"sh\", \"-c\", \"{}\").inheritIO().start().waitFor()\n}}\n",
        SEARCH
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('$', "\\$")
    );
    private_code_stays_private("kotlin", &secret, &search).await;
}

/// A compile javac takes exponential time over: conditionals nested `depth` deep under a
/// generic method, each level's poly expression inferred again for every level around it
/// (depth 9 took a bare javac 19 s here, depth 12 over a minute).
fn pathological_java(depth: usize) -> String {
    let mut expr = "\"\"".to_string();
    for _ in 0..depth {
        expr = format!("id(b ? {expr} : id(\"\"))");
    }
    format!(
        "class P {{\n    static <T> T id(T t) {{ return t; }}\n    \
         static void x(boolean b) {{ String s = {expr}; }}\n}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cannot_jam_javad() {
    // Room for the candidate's run to compile by itself beside the jammed daemon.
    let server = TestServer::start(|c| c.limits.run_timeout_seconds = 60).await;
    let api = server.api();
    let session = server.session(json!({"environment": "java"})).await;
    let id = &session.id;
    let container = session_container(&api, &session).await;
    daemon_listens(&container).await;
    let log = || in_container(&container, "cat /run/livecode/daemon.log");

    // The candidate's run hands javad the pathological compile and, while it runs, builds
    // something else through javad: that build hears "busy" and compiles by itself at once.
    // Then the run ends, its client with it.
    let jam = format!(
        "import java.nio.file.*;\npublic class Main {{\n    \
         public static void main(String[] a) throws Exception {{\n        \
         Files.writeString(Path.of(\"P.java\"), \"{}\");\n        \
         Files.writeString(Path.of(\"Q.java\"), \"class Q {{}}\");\n        \
         new ProcessBuilder(\"livecode-compile\", \"/run/livecode/compiler.sock\", \"-d\", \"/tmp/p\", \"P.java\").start();\n        \
         Thread.sleep(2000);\n        \
         long t = System.nanoTime();\n        \
         int code = new ProcessBuilder(\"livecode-javac\", \"-d\", \"/tmp/q\", \"Q.java\").inheritIO().start().waitFor();\n        \
         System.out.println(\"built alone: \" + code + \" \" + Files.exists(Path.of(\"/tmp/q/Q.class\")));\n        \
         System.err.println(\"in \" + (System.nanoTime() - t) / 1000000 + \" ms\");\n    }}\n}}\n",
        pathological_java(14)
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    );
    let jammed = api
        .execute(id, &session.candidate, json!({"code": jam}))
        .await;
    execute_ok(&jammed);
    assert_eq!(jammed["stdout"], "built alone: 0 true\n", "{jammed}");
    eprintln!("beside the jam: {}", jammed["stderr"]);
    let said = log();
    assert!(said.contains("javad: busy"), "{said}");

    // The pathological compile's client is gone: the compile is cancelled (javad ends; the
    // runner starts it again), so the interviewer's builds never wait for it. The old javad
    // kept compiling, and each of these builds waited 20 s for it.
    let cancelled = wait_until(Duration::from_secs(30), || {
        let said = log();
        said.contains("left during its compile") || said.contains("ran over")
    })
    .await;
    assert!(cancelled, "the compile was not cancelled: {}", log());
    for n in 0..3 {
        let code = format!(
            "public class Main {{ public static void main(String[] a) {{ System.out.println({n}); }} }}\n"
        );
        let built = api
            .execute(id, &session.interviewer, json!({"code": code}))
            .await;
        execute_ok(&built);
        assert_eq!(built["stdout"], format!("{n}\n"), "{built}");
        let seconds = built["build_time"].as_f64().unwrap_or(f64::MAX);
        eprintln!("build {n} after the jam: {seconds} s");
        assert!(seconds < 20.0, "build {n} waited for the jam: {built}");
    }
}
