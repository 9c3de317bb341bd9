//! `livecode watch`: follows a session until it ends, as an observer would see it.

use std::collections::HashMap;
use std::io::Write;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::run::print_output;
use super::Client;

impl Client {
    /// what participants type into a running program, test runs and their results.
    pub async fn watch(&self, id: &str, token: &str) -> anyhow::Result<()> {
        let mut socket = self.socket(id, token).await?;
        let mut names = HashMap::new();
        let mut err = std::io::stderr();
        while let Some(frame) = socket.next().await {
            let Message::Text(text) = frame? else {
                continue;
            };
            let msg: Value = serde_json::from_str(&text)?;
            match msg["type"].as_str() {
                Some("welcome") => {
                    learn_names(&mut names, &msg["participants"]);
                    writeln!(
                        err,
                        "[watching session {id}: {}]",
                        msg["session"]["status"].as_str().unwrap_or("?")
                    )?
                }
                Some("presence") => learn_names(&mut names, &msg["participants"]),
                Some("output") => print_output(&msg),
                Some("session_ended") => {
                    writeln!(
                        err,
                        "[session ended: {}]",
                        msg["reason"].as_str().unwrap_or("?")
                    )?;
                    return Ok(());
                }
                _ => {
                    if let Some(note) = watch_note(&msg, &names) {
                        writeln!(err, "{note}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Participants' names by id, from `welcome` and `presence`.
fn learn_names(names: &mut HashMap<u64, String>, participants: &Value) {
    for p in participants.as_array().into_iter().flatten() {
        if let (Some(id), Some(name)) = (p["id"].as_u64(), p["name"].as_str()) {
            names.insert(id, name.to_string());
        }
    }
}

/// The line `watch` writes on stderr for a message of the session (none for most).
fn watch_note(msg: &Value, names: &HashMap<u64, String>) -> Option<String> {
    let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
    Some(match msg["type"].as_str()? {
        "run_started" => format!("[run {} by {}]", s(&msg["run_id"]), s(&msg["by"])),
        "run_finished" => format!(
            "[{} · exit {} · {} ms]",
            s(&msg["status"]),
            msg["exit_code"],
            msg["duration_ms"]
        ),
        "input" => {
            let who = msg["participant"]
                .as_u64()
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_else(|| "someone".into());
            let data = msg["data"].as_str().unwrap_or("");
            let more = if msg["truncated"] == true { " …" } else { "" };
            format!("[stdin from {who}] {}{more}", quoted(data))
        }
        "tests_started" => format!("[tests: {} cases, by {}]", msg["total"], s(&msg["by"])),
        "test_result" => {
            let number = msg["index"].as_u64().map_or(0, |i| i + 1);
            let hidden = if msg["hidden"] == true {
                " (hidden)"
            } else {
                ""
            };
            let mut line = format!(
                "[test {number} {}{hidden}: {} · {} ms",
                s(&msg["name"]),
                s(&msg["verdict"]),
                msg["duration_ms"]
            );
            if msg["verdict"] == "failed" {
                line.push_str(&format!(
                    " · expected {}, got {}",
                    quoted(msg["expected"].as_str().unwrap_or("")),
                    quoted(msg["actual"].as_str().unwrap_or(""))
                ));
            }
            line.push(']');
            line
        }
        "tests_finished" => format!("[tests: {} of {} passed]", msg["passed"], msg["total"]),
        "question_changed" => {
            let t = &msg["template"];
            let current = t["current"].as_u64().unwrap_or(0);
            let title = t["questions"].as_array().and_then(|qs| {
                qs.iter()
                    .find(|q| q["index"].as_u64() == Some(current))
                    .map(|q| s(&q["title"]))
            });
            let title = title.unwrap_or_default();
            let by = s(&msg["by"]);
            format!(
                "[question {} of {}: {title}, by {by}]",
                current + 1,
                t["total"]
            )
        }
        "question_time" => {
            let number = msg["index"].as_u64().map_or(0, |i| i + 1);
            match msg["time"].as_str() {
                Some("times_up") => format!("[question {number}: time's up]"),
                _ => format!("[question {number}: time is running out]"),
            }
        }
        _ => return None,
    })
}

/// Text as a short quoted string on one line (`\n` shown as such), cut at 60 characters.
fn quoted(text: &str) -> String {
    const MAX: usize = 60;
    let escaped: String = text.escape_debug().collect();
    if escaped.chars().count() <= MAX {
        format!("\"{escaped}\"")
    } else {
        let cut: String = escaped.chars().take(MAX).collect();
        format!("\"{cut}\"…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn watch_notes_show_typed_stdin_and_test_results() {
        let names = HashMap::from([(3, "Ada".to_string())]);
        let note = |m: Value| watch_note(&m, &names);
        assert_eq!(
            note(json!({"type": "input", "participant": 3, "data": "42\n", "truncated": false})),
            Some("[stdin from Ada] \"42\\n\"".into())
        );
        assert_eq!(
            note(json!({"type": "tests_started", "total": 2, "by": "interviewer"})),
            Some("[tests: 2 cases, by interviewer]".into())
        );
        assert_eq!(
            note(
                json!({"type": "test_result", "index": 1, "name": "large", "hidden": true,
                "verdict": "failed", "duration_ms": 12, "expected": "42\n", "actual": "41\n"})
            ),
            Some(
                "[test 2 large (hidden): failed · 12 ms · expected \"42\\n\", got \"41\\n\"]"
                    .into()
            )
        );
        assert_eq!(
            note(json!({"type": "tests_finished", "passed": 1, "total": 2})),
            Some("[tests: 1 of 2 passed]".into())
        );
        assert_eq!(note(json!({"type": "cursor"})), None);
        assert_eq!(
            note(
                json!({"type": "question_changed", "by": "interviewer", "template":
                {"current": 1, "total": 3, "questions": [{"index": 1, "title": "Trees"}]}})
            ),
            Some("[question 2 of 3: Trees, by interviewer]".into())
        );
        assert_eq!(
            note(json!({"type": "question_time", "index": 0, "time": "times_up"})),
            Some("[question 1: time's up]".into())
        );
    }
}
