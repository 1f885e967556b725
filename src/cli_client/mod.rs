//! `hotline survey ...`: a thin client of the daemon's HTTP API.
//!
//! Loopback HTTP/1.1 needs little: one request per connection (`Connection: close`), bodies
//! with `Content-Length`, the answer read to the end. So this speaks it over a `TcpStream`
//! rather than pulling in an HTTP client.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::api::{ErrorBody, SurveyCreated, SurveyRequestBody, SurveyStatusBody, SURVEYS_PATH};

/// Connecting, sending and reading the answer together take at most this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The API's answers are small; a bigger one is not the API.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

/// Why a command could not be done, worded for the operator at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the hotline API at {api}; is the daemon running? ({source})")]
    Connect {
        api: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("talking to the hotline API at {api}: {source}")]
    Io {
        api: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the hotline API at {api} did not answer within {} s", TIMEOUT.as_secs())]
    Timeout { api: SocketAddr },
    #[error("the hotline API at {api} refused the token: wrong token (check api.token_file)")]
    Unauthorized { api: SocketAddr },
    #[error("the token holds characters that cannot go in an HTTP header")]
    UnusableToken,
    #[error("no survey {id}")]
    NoSuchSurvey { id: String },
    /// Any other 4xx, with the server's message.
    #[error("refused: {message} (HTTP {status})")]
    Refused { status: u16, message: String },
    /// 5xx, with the server's message.
    #[error("the daemon could not do it: {message} (HTTP {status})")]
    Failed { status: u16, message: String },
    #[error("the hotline API at {api} answered something unexpected: {reason}")]
    BadResponse { api: SocketAddr, reason: String },
}

/// Where the client should connect for the daemon's `api.listen`: an unspecified address
/// (`0.0.0.0`, `[::]`) becomes loopback; port 0 (picked at start-up) cannot be known from the
/// settings, so `None` — the operator must say `--api ADDR`.
pub fn connect_addr(listen: SocketAddr) -> Option<SocketAddr> {
    if listen.port() == 0 {
        return None;
    }
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Some(SocketAddr::new(ip, listen.port()))
}

/// `hotline survey call`: asks for a survey call; answers `survey <id> queued`.
pub async fn survey_call(
    api: SocketAddr,
    token: &str,
    number: &str,
    ticket: &str,
    unit: &str,
) -> Result<String, ClientError> {
    let request = SurveyRequestBody {
        number: number.to_owned(),
        ticket: ticket.to_owned(),
        unit: unit.to_owned(),
    };
    let created = request_survey(api, token, &request).await?;
    Ok(format!("survey {} {}", created.id, created.status))
}

/// `hotline survey status`: where a survey stands, in a few lines.
pub async fn survey_status(api: SocketAddr, token: &str, id: &str) -> Result<String, ClientError> {
    let status = fetch_survey(api, token, id).await?;
    Ok(describe(&status))
}

/// `POST /api/v1/surveys`.
pub async fn request_survey(
    api: SocketAddr,
    token: &str,
    request: &SurveyRequestBody,
) -> Result<SurveyCreated, ClientError> {
    let body = serde_json::to_vec(request).map_err(|e| ClientError::BadResponse {
        api,
        reason: format!("request did not serialize: {e}"),
    })?;
    let response = exchange(api, token, "POST", SURVEYS_PATH, Some(&body)).await?;
    match response.status {
        202 => response.json(api),
        _ => Err(response.error(api)),
    }
}

/// `GET /api/v1/surveys/{id}`.
pub async fn fetch_survey(
    api: SocketAddr,
    token: &str,
    id: &str,
) -> Result<SurveyStatusBody, ClientError> {
    let path = format!("{SURVEYS_PATH}/{}", encode_segment(id));
    let response = exchange(api, token, "GET", &path, None).await?;
    match response.status {
        200 => response.json(api),
        404 => Err(ClientError::NoSuchSurvey { id: id.to_owned() }),
        _ => Err(response.error(api)),
    }
}

fn describe(s: &SurveyStatusBody) -> String {
    let attempts = match s.attempts {
        1 => "1 attempt".to_owned(),
        n => format!("{n} attempts"),
    };
    let mut out = format!(
        "survey {}: {} ({attempts})\n  number {}, ticket {}, unit {}",
        s.id, s.status, s.number, s.ticket, s.unit
    );
    if s.result.is_some() || s.attitude.is_some() {
        let answer = |r: Option<crate::ratings::Rating>| r.map_or("-", |r| r.as_str());
        out.push_str(&format!(
            "\n  result {}, attitude {}",
            answer(s.result),
            answer(s.attitude)
        ));
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so an id is one segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Response {
    status: u16,
    body: Vec<u8>,
}

impl Response {
    fn json<T: DeserializeOwned>(&self, api: SocketAddr) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| ClientError::BadResponse {
            api,
            reason: format!(
                "HTTP {} with a body that is not the expected JSON: {e}",
                self.status
            ),
        })
    }

    /// A non-success answer as an error, with the server's `{"error": ...}` message when it
    /// sent one.
    fn error(&self, api: SocketAddr) -> ClientError {
        let message = serde_json::from_slice::<ErrorBody>(&self.body)
            .map(|b| b.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&self.body).trim().to_owned());
        match self.status {
            401 => ClientError::Unauthorized { api },
            400..=499 => ClientError::Refused {
                status: self.status,
                message,
            },
            500..=599 => ClientError::Failed {
                status: self.status,
                message,
            },
            status => ClientError::BadResponse {
                api,
                reason: format!("unexpected HTTP {status}"),
            },
        }
    }
}

/// Any route of the API: `method` `path` with an optional JSON `body`; answers with the
/// status and the body, whatever the status.
pub async fn request(
    api: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<(u16, Vec<u8>), ClientError> {
    let response = exchange(api, token, method, path, body).await?;
    Ok((response.status, response.body))
}

/// One request, one connection, within [`TIMEOUT`].
async fn exchange(
    api: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<Response, ClientError> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ClientError::UnusableToken);
    }
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\nConnection: close\r\n"
    );
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut message = head.into_bytes();
    message.extend_from_slice(body.unwrap_or_default());

    let raw = tokio::time::timeout(TIMEOUT, async {
        let mut stream = TcpStream::connect(api)
            .await
            .map_err(|source| ClientError::Connect { api, source })?;
        let io = |source| ClientError::Io { api, source };
        stream.write_all(&message).await.map_err(io)?;
        let mut raw = Vec::new();
        stream
            .take(MAX_RESPONSE_BYTES + 1)
            .read_to_end(&mut raw)
            .await
            .map_err(io)?;
        Ok(raw)
    })
    .await
    .map_err(|_| ClientError::Timeout { api })??;
    if raw.len() as u64 > MAX_RESPONSE_BYTES {
        return Err(ClientError::BadResponse {
            api,
            reason: format!("answer longer than {MAX_RESPONSE_BYTES} bytes"),
        });
    }
    parse_response(&raw).map_err(|reason| ClientError::BadResponse { api, reason })
}

/// Status line, headers and body of a whole HTTP/1.1 response.
fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "headers are not UTF-8")?;
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1 status line: {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| format!("no status code in {status_line:?}"))?;

    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("malformed header line {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(length) = length {
        rest.get(..length)
            .ok_or_else(|| format!("body shorter than its Content-Length {length}"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { status, body })
}

/// Decodes a chunked body (extensions and trailers ignored).
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line without CRLF")?;
        let line = std::str::from_utf8(&rest[..line_end]).map_err(|_| "chunk size not UTF-8")?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("chunk shorter than its size")?;
        body.extend_from_slice(chunk);
        rest = rest
            .get(size..)
            .and_then(|r| r.strip_prefix(b"\r\n"))
            .ok_or("chunk not followed by CRLF")?;
    }
}

#[cfg(test)]
mod against_api;
#[cfg(test)]
mod against_live;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_bodies() {
        let raw = b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}extra";
        let response = parse_response(raw).unwrap();
        assert_eq!(response.status, 202);
        assert_eq!(response.body, b"{}");
    }

    #[test]
    fn parses_chunked_bodies() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap().body, b"abcde");
    }

    #[test]
    fn refuses_what_is_not_http() {
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
    }

    #[test]
    fn connects_to_loopback_for_unspecified_listen_addresses() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            connect_addr(addr("0.0.0.0:9070")),
            Some(addr("127.0.0.1:9070"))
        );
        assert_eq!(connect_addr(addr("[::]:9070")), Some(addr("[::1]:9070")));
        assert_eq!(
            connect_addr(addr("10.0.0.5:9070")),
            Some(addr("10.0.0.5:9070"))
        );
        assert_eq!(connect_addr(addr("127.0.0.1:0")), None);
    }

    #[test]
    fn ids_are_one_path_segment() {
        assert_eq!(encode_segment("s-1_a.b~"), "s-1_a.b~");
        assert_eq!(encode_segment("../x y"), "..%2Fx%20y");
    }

    #[test]
    fn errors_read_the_server_message() {
        let api: SocketAddr = "127.0.0.1:9070".parse().unwrap();
        let response = Response {
            status: 422,
            body: br#"{"error":"13800000000 is on the do-not-call list"}"#.to_vec(),
        };
        assert_eq!(
            response.error(api).to_string(),
            "refused: 13800000000 is on the do-not-call list (HTTP 422)"
        );
        let response = Response {
            status: 401,
            body: Vec::new(),
        };
        assert!(response.error(api).to_string().contains("wrong token"));
    }

    #[tokio::test]
    async fn a_closed_port_asks_whether_the_daemon_runs() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = listener.local_addr().unwrap();
        drop(listener);
        let err = survey_status(api, "0123456789abcdef", "s-1")
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
        let shown = err.to_string();
        assert!(shown.contains("is the daemon running?"), "{shown}");
        assert!(shown.contains(&api.to_string()), "{shown}");
    }

    #[tokio::test]
    async fn a_token_that_would_break_the_header_is_not_sent() {
        let api: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let err = survey_status(api, "abc\r\nX-Evil: 1", "s-1")
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::UnusableToken), "{err:?}");
    }
}
