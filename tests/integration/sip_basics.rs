//! The daemon answers plain requests on UDP and TCP, and refuses calls from strangers.

use crate::common::{self, Options};
use crate::raw::{options, status_of, tcp_request, RawUdp};

#[tokio::test]
async fn options_is_answered_on_udp_and_tcp() {
    let t = common::start(Options::default()).await;
    let udp = RawUdp::new(t.daemon.sip_udp).await;
    let response = udp
        .request(options(udp.port(), 1).as_bytes())
        .await
        .expect("UDP answer");
    assert_eq!(status_of(&response), 200, "{response}");
    assert!(
        response.contains(&format!("rport={}", udp.port())),
        "rport filled: {response}"
    );
    assert!(response.contains("received=127.0.0.1"), "{response}");

    let response = tcp_request(
        t.daemon.sip_tcp,
        options(5060, 2).replace("UDP", "TCP").as_bytes(),
    )
    .await
    .expect("TCP answer");
    assert_eq!(status_of(&response), 200, "{response}");
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn invite_from_an_address_that_is_no_trunk_gets_403() {
    let t = common::start(Options {
        trunk_sources: "[\"127.0.0.2/32\"]".to_string(),
        ..Options::default()
    })
    .await;
    let udp = RawUdp::new(t.daemon.sip_udp).await;
    let port = udp.port();
    let invite = format!(
        "INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKacl1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:13800000000@127.0.0.1>;tag=a1\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: acl-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:13800000000@127.0.0.1:{port}>\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n"
    );
    let response = udp.request(invite.as_bytes()).await.expect("answer");
    assert_eq!(status_of(&response), 403, "{response}");
    // No call was created for it.
    let snapshot = t.daemon.snapshot().await;
    assert_eq!(snapshot.calls, 0);
    t.daemon.shutdown().await.expect("shutdown");
}
