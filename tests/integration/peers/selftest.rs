//! The peers checked against each other, without the daemon: a stand-in
//! registrar (tests/sipp/fake_registrar.xml) and SIPp or baresip seats called
//! directly by the trunk scenarios. If these fail, the peers or their
//! installation are broken, not the daemon.

use std::time::Duration;

use super::{free_udp_port, Baresip, BaresipOptions, Sipp, SippProcess, SippRun};

const USER: &str = "1001";
const PASSWORD: &str = "s3cret";
const LIMIT: Duration = Duration::from_secs(20);

fn registrar() -> SippProcess {
    Sipp::new("fake_registrar.xml")
        .key("user", USER)
        .key("password", PASSWORD)
        .timeout(LIMIT)
        .spawn()
        .expect("start the stand-in registrar")
}

async fn register(registrar: &SippProcess, password: &str, sets: &[(&str, &str)]) -> SippRun {
    let mut sipp = Sipp::new("seat_register.xml")
        .remote(registrar.local_addr())
        .service(USER)
        .password(password)
        .timeout(LIMIT);
    for (name, value) in sets {
        sipp = sipp.set(name, value);
    }
    sipp.run().await.expect("run seat_register.xml")
}

#[tokio::test]
async fn seat_register_answers_the_digest_challenge() {
    let registrar = registrar();
    let seat = register(&registrar, PASSWORD, &[]).await;
    let registrar = registrar.wait().await.expect("registrar ends");
    assert!(seat.success(), "{seat}");
    assert!(registrar.success(), "{registrar}");
    assert!(
        registrar.log.contains("auth_ok=true expires=3600"),
        "{registrar}"
    );
}

#[tokio::test]
async fn seat_register_expires_zero_unregisters() {
    let registrar = registrar();
    let seat = register(&registrar, PASSWORD, &[("expires", "0")]).await;
    let registrar = registrar.wait().await.expect("registrar ends");
    assert!(seat.success(), "{seat}");
    assert!(
        registrar.log.contains("auth_ok=true expires=0"),
        "{registrar}"
    );
}

#[tokio::test]
async fn seat_register_with_a_wrong_password_fails() {
    let registrar = registrar();
    let seat = register(&registrar, "wrong", &[]).await;
    let registrar = registrar.wait().await.expect("registrar ends");
    assert_eq!(seat.exit_code, Some(1), "{seat}");
    assert!(seat.error_log.contains("403 Forbidden"), "{seat}");
    assert!(registrar.log.contains("auth_ok=false"), "{registrar}");
}

/// A SIPp seat registers to the stand-in registrar, then a trunk scenario
/// calls the seat directly.
async fn seat_called_by_trunk(
    seat_mode: &str,
    trunk: &str,
    trunk_sets: &[(&str, &str)],
) -> (SippRun, SippRun) {
    let registrar = registrar();
    let seat = Sipp::new("seat_answer.xml")
        .out_of_call("seat_incoming.xml")
        .remote(registrar.local_addr())
        .service(USER)
        .password(PASSWORD)
        .set("seat_mode", seat_mode)
        .set("ring_ms", "200")
        .set("talk_ms", "1000")
        .set("wait_ms", "15000")
        .timeout(LIMIT)
        .spawn()
        .expect("start the seat");
    let registrar = registrar.wait().await.expect("registrar ends");
    assert!(registrar.success(), "{registrar}");

    let mut caller = Sipp::new(trunk)
        .remote(seat.local_addr())
        .service("12345")
        .timeout(LIMIT);
    for (name, value) in trunk_sets {
        caller = caller.set(name, value);
    }
    let caller = caller.run().await.expect("run the trunk");
    let seat = seat.wait().await.expect("seat ends");
    (caller, seat)
}

#[tokio::test]
async fn trunk_call_to_an_answering_seat() {
    let (trunk, seat) =
        seat_called_by_trunk("answer", "trunk_call.xml", &[("hold_ms", "1000")]).await;
    assert!(trunk.success(), "{trunk}");
    assert!(seat.success(), "{seat}");
    assert!(trunk.messages.contains("m=audio"), "{trunk}");
}

#[tokio::test]
async fn seat_hangs_up_and_trunk_gets_the_bye() {
    let (trunk, seat) = seat_called_by_trunk("hangup", "trunk_wait_bye.xml", &[]).await;
    assert!(trunk.success(), "{trunk}");
    assert!(seat.success(), "{seat}");
}

#[tokio::test]
async fn busy_seat_gives_the_trunk_486() {
    let (trunk, seat) = seat_called_by_trunk("busy", "trunk_fail.xml", &[]).await;
    assert!(trunk.success(), "{trunk}");
    assert!(seat.success(), "{seat}");
    assert_eq!(trunk.final_response(), Some(486), "{trunk}");
}

#[tokio::test]
async fn trunk_cancels_a_seat_that_does_not_answer() {
    let (trunk, seat) =
        seat_called_by_trunk("noanswer", "trunk_cancel.xml", &[("cancel_ms", "300")]).await;
    assert!(trunk.success(), "{trunk}");
    assert!(seat.success(), "{seat}");
}

#[tokio::test]
async fn seat_without_a_call_stops_with_97() {
    let registrar = registrar();
    let seat = Sipp::new("seat_answer.xml")
        .out_of_call("seat_incoming.xml")
        .remote(registrar.local_addr())
        .service(USER)
        .password(PASSWORD)
        .set("wait_ms", "500")
        .timeout(LIMIT)
        .run()
        .await
        .expect("run the seat");
    assert_eq!(seat.exit_code, Some(97), "{seat}");
    assert!(seat.log.contains("no incoming call"), "{seat}");
}

#[tokio::test]
async fn baresip_registers_and_answers_a_trunk_call() {
    let registrar = registrar();
    // Here the trunk calls the seat directly, so the test must know its port;
    // with the daemon, keep the default 0 (the daemon learns it from Contact).
    let options = BaresipOptions {
        sip_port: free_udp_port().expect("a free port"),
        lifetime: Duration::from_secs(30),
        ..BaresipOptions::default()
    };
    let seat = Baresip::start_with(registrar.local_addr(), USER, PASSWORD, &options)
        .expect("start baresip");
    assert!(
        seat.wait_registered(Duration::from_secs(10)).await,
        "baresip did not register:\n{}",
        seat.output()
    );
    let registrar = registrar.wait().await.expect("registrar ends");
    assert!(registrar.log.contains("auth_ok=true"), "{registrar}");

    let trunk = Sipp::new("trunk_call.xml")
        .remote(std::net::SocketAddr::from((
            super::LOOPBACK,
            options.sip_port,
        )))
        .service(USER)
        .set("hold_ms", "1000")
        .timeout(LIMIT)
        .run()
        .await
        .expect("run the trunk");
    let output = seat.stop().await.expect("stop baresip");
    assert!(trunk.success(), "{trunk}\n--- baresip\n{output}");
    assert!(output.contains("Call established"), "{output}");
}
