//! Oversize bodies and socket frames, refused by the layers in front of the handlers before
//! they are read (and, from the same layers, a method an endpoint does not take): every
//! refusal in the API's error shape, or a close code with a reason.

use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn refusals_by_layers_have_the_error_shape() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    // A body over the limit, announced by its length: refused before it is read. (Sent by
    // hand: a client still uploading when the answer comes may see its connection reset.)
    let mut tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/sessions/{}/execute HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
        session.id, session.candidate
    );
    tcp.write_all(head.as_bytes()).await.expect("send");
    let answer = raw_error_answer(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or(""))
        .unwrap_or_else(|e| panic!("the error shape, not plain text ({e}): {answer}"));
    assert_eq!(body["error"]["code"], "BODY_TOO_LARGE", "{body}");
    // A method an endpoint does not take.
    let resp = server
        .http
        .patch(format!("http://{}/api/v1/sessions", server.addr))
        .send()
        .await
        .expect("send");
    check_error(resp, 405, "METHOD_NOT_ALLOWED").await;
    // A socket frame over the limit closes with 1009 and a reason.
    let mut ws = server.ws(&session.id, &session.candidate).await;
    let too_big =
        json!({"type": "stdin", "data": "z".repeat(server.config.socket_message_bytes() + 1)});
    ws.send(Message::Text(too_big.to_string().into()))
        .await
        .expect("send");
    let deadline = Instant::now() + DEFAULT_WAIT;
    let close = loop {
        match tokio::time::timeout_at(deadline.into(), ws.next())
            .await
            .expect("an answer")
        {
            Some(Ok(Message::Close(frame))) => break frame.expect("a close frame with a code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::Size);
    assert!(close.reason.contains("too big"), "{}", close.reason);
}
