//! Seats registering with digest auth: a SIPp seat binds and unbinds, and failed
//! authentication looks the same whether the user exists or not, and is counted.

use std::time::Duration;

use md5::{Digest, Md5};

use crate::common::{self, eventually, Options, TestDaemon};
use crate::metrics_scrape::{scrape, value};
use crate::peers::{free_udp_port, Sipp, SippRun};
use crate::raw::{status_of, RawUdp};

const LIMIT: Duration = Duration::from_secs(20);
const REALM: &str = "hotline.test";

async fn sipp_register(
    t: &TestDaemon,
    port: u16,
    user: &str,
    password: &str,
    expires: &str,
) -> SippRun {
    Sipp::new("seat_register.xml")
        .remote(t.daemon.sip_udp)
        .port(port)
        .service(user)
        .password(password)
        .set("expires", expires)
        .timeout(LIMIT)
        .run()
        .await
        .expect("run seat_register.xml")
}

#[tokio::test]
async fn sipp_seat_registers_with_digest_and_unregisters_with_expires_zero() {
    let t = common::start(Options::default()).await;
    let port = free_udp_port().expect("a free port");

    let run = sipp_register(&t, port, "1001", "seat1001-secret", "3600").await;
    assert!(run.success(), "{run}");
    let registrations = t.daemon.snapshot().await.registrations;
    assert_eq!(
        registrations.len(),
        1,
        "one binding expected: {registrations:?}"
    );
    let (user, contact) = &registrations[0];
    assert_eq!(user, "1001");
    assert!(
        contact.starts_with("sip:1001@") && contact.contains(&format!("127.0.0.1:{port}")),
        "contact {contact} is not the seat's (127.0.0.1:{port})"
    );

    // The same Contact with Expires: 0 removes the binding.
    let run = sipp_register(&t, port, "1001", "seat1001-secret", "0").await;
    assert!(run.success(), "{run}");
    let registrations = t.daemon.snapshot().await.registrations;
    assert!(registrations.is_empty(), "still bound: {registrations:?}");

    t.daemon.shutdown().await.expect("shutdown");
}

/// A REGISTER for `user` from `udp`'s port; `n` makes branch, tag and Call-ID unique.
fn register(
    t: &TestDaemon,
    udp: &RawUdp,
    user: &str,
    n: u32,
    authorization: Option<&str>,
) -> String {
    let port = udp.port();
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKreg{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag=r{n}\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: reg-{n}@127.0.0.1\r\nCSeq: {n} REGISTER\r\nContact: <sip:{user}@127.0.0.1:{port}>\r\nExpires: 60\r\n{auth}Content-Length: 0\r\n\r\n",
        uri = uri(t),
    )
}

fn uri(t: &TestDaemon) -> String {
    format!("sip:{}", t.daemon.sip_udp)
}

fn md5_hex(parts: &[&str]) -> String {
    let digest = Md5::digest(parts.join(":").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The nonce of the MD5 challenge in a 401.
fn md5_nonce(challenge: &str) -> String {
    let header = challenge
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .find(|l| l.contains("algorithm=MD5"))
        .unwrap_or_else(|| panic!("no MD5 challenge in:\n{challenge}"));
    let start = header.find("nonce=\"").expect("nonce") + "nonce=\"".len();
    let len = header[start..].find('"').expect("closing quote");
    header[start..start + len].to_string()
}

/// REGISTER, take the 401's MD5 challenge, answer it as `user`/`password` (RFC 7616 with
/// qop=auth); the final response to the second REGISTER.
async fn register_with(t: &TestDaemon, user: &str, password: &str, n: u32) -> String {
    let udp = RawUdp::new(t.daemon.sip_udp).await;
    let challenge = udp
        .request(register(t, &udp, user, n, None).as_bytes())
        .await
        .expect("answer to the first REGISTER");
    assert_eq!(status_of(&challenge), 401, "{challenge}");
    let nonce = md5_nonce(&challenge);
    let uri = uri(t);
    let cnonce = format!("c{n}");
    let ha1 = md5_hex(&[user, REALM, password]);
    let ha2 = md5_hex(&["REGISTER", &uri]);
    let response = md5_hex(&[&ha1, &nonce, "00000001", &cnonce, "auth", &ha2]);
    let authorization = format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\""
    );
    udp.request(register(t, &udp, user, n + 1, Some(&authorization)).as_bytes())
        .await
        .expect("answer to the REGISTER with credentials")
}

/// The response without the headers that echo the request (Via, From, To, Call-ID, CSeq,
/// short forms included); the To tag goes with the To header.
fn without_echoed_headers(response: &str) -> Vec<String> {
    const ECHOED: &[&str] = &["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"];
    response
        .split("\r\n")
        .filter(|line| {
            let name = line
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            !(line.contains(':') && ECHOED.contains(&name.as_str()))
        })
        .map(str::to_string)
        .collect()
}

fn header_names(response: &str) -> Vec<String> {
    response
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, _)| name.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_403_and_are_counted() {
    let t = common::start(Options::default()).await;
    let auth_failed = r#"hotline_security_events_total{kind="auth_failed"}"#;
    let reg_failed = r#"hotline_registration_failures_total{reason="auth"}"#;
    let before = scrape(t.daemon.metrics).await;

    // The digest computed here is right: the correct password is accepted.
    let ok = register_with(&t, "1003", "seat1003-secret", 10).await;
    assert_eq!(status_of(&ok), 200, "{ok}");
    assert!(
        t.daemon
            .snapshot()
            .await
            .registrations
            .iter()
            .any(|(user, _)| user == "1003"),
        "1003 not bound after its 200"
    );

    let wrong_password = register_with(&t, "1001", "not-the-secret", 20).await;
    let unknown_user = register_with(&t, "9999", "seat1001-secret", 30).await;
    assert_eq!(status_of(&wrong_password), 403, "{wrong_password}");
    assert_eq!(status_of(&unknown_user), 403, "{unknown_user}");
    assert_eq!(
        without_echoed_headers(&wrong_password),
        without_echoed_headers(&unknown_user),
        "the 403s differ beyond the echoed headers:\n--- wrong password\n{wrong_password}\n--- unknown user\n{unknown_user}"
    );
    // The echoed headers too: the same ones, in the same order.
    assert_eq!(
        header_names(&wrong_password),
        header_names(&unknown_user),
        "--- wrong password\n{wrong_password}\n--- unknown user\n{unknown_user}"
    );
    let registrations = t.daemon.snapshot().await.registrations;
    assert!(
        registrations.iter().all(|(user, _)| user == "1003"),
        "a failed REGISTER left a binding: {registrations:?}"
    );

    // Both failures counted (other tests share the recorder: at least two more).
    let counted = eventually(Duration::from_secs(5), || async {
        let after = scrape(t.daemon.metrics).await;
        value(&after, auth_failed) - value(&before, auth_failed) >= 2.0
            && value(&after, reg_failed) - value(&before, reg_failed) >= 2.0
    })
    .await;
    let after = scrape(t.daemon.metrics).await;
    assert!(
        counted,
        "{auth_failed}: {} -> {}, {reg_failed}: {} -> {}",
        value(&before, auth_failed),
        value(&after, auth_failed),
        value(&before, reg_failed),
        value(&after, reg_failed)
    );

    t.daemon.shutdown().await.expect("shutdown");
}
