//! The opening handshake (RFC 6455 §4.2): reading a client's upgrade request
//! with `httparse`, and the server's answers: `101 Switching Protocols`, or a
//! refusal with a status, headers and a body.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

/// An upgrade request is refused (431) past this many bytes or 64 headers.
pub const MAX_REQUEST_BYTES: usize = 8192;
const MAX_HEADERS: usize = 64;
/// RFC 6455 §1.3: appended to the client's key before hashing.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What the owner needs to decide on a connection, and the key to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The request target, as sent.
    pub path: String,
    /// Every `Origin` header's value, in order (bytes read as Latin-1).
    pub origins: Vec<String>,
    /// `Sec-WebSocket-Key`.
    pub key: String,
}

/// A request that is not a WebSocket upgrade this server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bad {
    pub status: u16,
    pub why: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Partial,
    /// A valid upgrade request, and the bytes it took.
    Upgrade(Upgrade, usize),
    Bad(Bad),
}

const fn bad(status: u16, why: &'static str) -> Parsed {
    Parsed::Bad(Bad { status, why })
}

/// Reads the upgrade request at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        // Arrived whole in one read or in pieces, a head is held to the same limit.
        Ok(httparse::Status::Complete(used)) if used > MAX_REQUEST_BYTES => {
            bad(431, "the request's head is too large")
        }
        Ok(httparse::Status::Complete(used)) => match upgrade(&request) {
            Ok(upgrade) => Parsed::Upgrade(upgrade, used),
            Err(refusal) => Parsed::Bad(refusal),
        },
        Ok(httparse::Status::Partial) if buf.len() > MAX_REQUEST_BYTES => {
            bad(431, "the request's head is too large")
        }
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => bad(431, "too many headers"),
        Err(_) => bad(400, "not an HTTP/1.1 request"),
    }
}

fn upgrade(request: &httparse::Request<'_, '_>) -> Result<Upgrade, Bad> {
    let refuse = |status, why| Bad { status, why };
    if request.method != Some("GET") {
        return Err(refuse(405, "a WebSocket upgrade is a GET"));
    }
    if request.version != Some(1) {
        return Err(refuse(400, "a WebSocket upgrade is HTTP/1.1"));
    }
    let values =
        |name: &'static str| request.headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name));
    let one = |name: &'static str| {
        let mut found = values(name);
        match (found.next(), found.next()) {
            (Some(header), None) => std::str::from_utf8(header.value).ok().map(str::trim),
            _ => None,
        }
    };
    let has_token = |name: &'static str, token: &str| {
        values(name).any(|h| {
            std::str::from_utf8(h.value)
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if one("host").is_none() {
        return Err(refuse(400, "no Host header"));
    }
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return Err(refuse(400, "not a WebSocket upgrade"));
    }
    // Another version is told the one spoken (426, RFC 6455 4.4); none at all is a bad request (400, 4.2.1).
    match one("sec-websocket-version") {
        Some("13") => {}
        Some(_) => return Err(refuse(426, "WebSocket version 13 only")),
        None => return Err(refuse(400, "no Sec-WebSocket-Version header")),
    }
    let key = one("sec-websocket-key").filter(|key| STANDARD.decode(key).is_ok_and(|raw| raw.len() == 16));
    let Some(key) = key else { return Err(refuse(400, "no valid Sec-WebSocket-Key")) };
    Ok(Upgrade {
        path: request.path.unwrap_or("/").to_owned(),
        origins: values("origin").map(|h| h.value.iter().map(|&b| char::from(b)).collect()).collect(),
        key: key.to_owned(),
    })
}

/// `Sec-WebSocket-Accept` for `key`: base64 of the SHA-1 of key + GUID.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// The answer that opens the connection.
pub fn switching_protocols(key: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    )
    .into_bytes()
}

/// A refusal: the status, the headers given (any with a CR or LF left out),
/// and `body`; the connection closes after it.
pub fn refusal(status: u16, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    let clean = |s: &str| !s.contains(['\r', '\n']);
    for (name, value) in headers.iter().filter(|(n, v)| clean(n) && clean(v)) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if status == 426 {
        head.push_str("Sec-WebSocket-Version: 13\r\n");
    }
    if !body.is_empty() && !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
        head.push_str("Content-Type: text/plain; charset=utf-8\r\n"); // the body says why, for people
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /chat?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
                        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                        Origin: http://127.0.0.1:3000\r\n\r\n";

    #[test]
    fn the_rfc_example_key_is_answered_as_the_rfc_says() {
        // RFC 6455 §1.3's worked example.
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn a_valid_request_gives_its_path_origins_and_key_and_the_bytes_it_took() {
        let mut bytes = GOOD.as_bytes().to_vec();
        bytes.extend_from_slice(b"\x82\x80");
        let Parsed::Upgrade(upgrade, used) = parse(&bytes) else { panic!("refused") };
        assert_eq!(used, GOOD.len());
        assert_eq!(upgrade.path, "/chat?x=1");
        assert_eq!(upgrade.origins, vec!["http://127.0.0.1:3000".to_owned()]);
        assert_eq!(upgrade.key, "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn every_prefix_of_a_request_asks_for_more() {
        for end in 0..GOOD.len() {
            assert_eq!(parse(&GOOD.as_bytes()[..end]), Parsed::Partial, "prefix of {end} bytes");
        }
    }

    #[test]
    fn two_origins_are_both_reported() {
        let two = GOOD.replace("\r\n\r\n", "\r\nOrigin: http://evil.example\r\n\r\n");
        let Parsed::Upgrade(upgrade, _) = parse(two.as_bytes()) else { panic!("refused") };
        assert_eq!(upgrade.origins.len(), 2);
    }

    #[test]
    fn requests_that_are_not_upgrades_are_refused_with_a_status() {
        let cases: [(&str, &str, u16); 8] = [
            ("GET /chat", "POST /chat", 405),
            ("HTTP/1.1\r\nHost", "HTTP/1.0\r\nHost", 400),
            ("Upgrade: websocket", "Upgrade: h2c", 400),
            ("Connection: keep-alive, Upgrade", "Connection: keep-alive", 400),
            ("Version: 13", "Version: 8", 426),
            ("Sec-WebSocket-Version: 13\r\n", "", 400),
            ("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=", 400),
            ("Host: a\r\n", "", 400),
        ];
        for (from, to, status) in cases {
            let request = GOOD.replace(from, to);
            assert!(
                matches!(parse(request.as_bytes()), Parsed::Bad(Bad { status: s, .. }) if s == status),
                "{from:?} -> {to:?}"
            );
        }
        assert!(matches!(parse(b"\x16\x03\x01garbage\r\n\r\n"), Parsed::Bad(Bad { status: 400, .. })));
    }

    #[test]
    fn a_head_over_the_limit_is_refused_whole_or_endless() {
        let mut endless = b"GET / HTTP/1.1\r\nX: ".to_vec();
        endless.resize(MAX_REQUEST_BYTES + 1, b'a');
        assert!(matches!(parse(&endless), Parsed::Bad(Bad { status: 431, .. })));
        // The same head whole (one read brings up to 64 KiB): refused too, not only while it is incomplete.
        let padded =
            GOOD.replace("Host: a\r\n", &format!("Host: a\r\nX: {}\r\n", "a".repeat(MAX_REQUEST_BYTES)));
        assert!(matches!(parse(padded.as_bytes()), Parsed::Bad(Bad { status: 431, .. })));
        // Exactly at the limit: taken; one byte more: refused.
        let sized = |total: usize| {
            let pad = total - GOOD.len() - "X: \r\n".len();
            GOOD.replace("Host: a\r\n", &format!("Host: a\r\nX: {}\r\n", "a".repeat(pad)))
        };
        assert_eq!(sized(MAX_REQUEST_BYTES).len(), MAX_REQUEST_BYTES);
        assert!(matches!(parse(sized(MAX_REQUEST_BYTES).as_bytes()), Parsed::Upgrade(..)), "at the limit");
        let over = sized(MAX_REQUEST_BYTES + 1);
        assert!(matches!(parse(over.as_bytes()), Parsed::Bad(Bad { status: 431, .. })), "one byte over");
        let many: String = (0..70).map(|i| format!("X-{i}: 1\r\n")).collect();
        let request = GOOD.replace("Host: a\r\n", &format!("Host: a\r\n{many}"));
        assert!(matches!(parse(request.as_bytes()), Parsed::Bad(Bad { status: 431, .. })));
    }

    #[test]
    fn a_refusal_carries_its_headers_and_body_and_drops_injected_lines() {
        let headers =
            vec![("Retry-After".to_owned(), "10".to_owned()), ("X".to_owned(), "a\r\nSet: b".to_owned())];
        let text = String::from_utf8(refusal(429, &headers, b"slow down\n")).unwrap();
        assert!(text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
        assert!(text.contains("Retry-After: 10\r\n") && !text.contains("Set: b"));
        assert!(text.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        assert!(text.ends_with("Content-Length: 10\r\nConnection: close\r\n\r\nslow down\n"));
    }
}
