//! The scrape endpoint: `GET /metrics` and `GET /health`.

use std::future::{pending, Future, IntoFuture};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::MissedTickBehavior;

use super::{MetricsError, MetricsHandle};

/// Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Well under any sane scrape interval, so histogram sample buffers stay small even when
/// nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// How long open scrapes may finish after shutdown. A scraper that holds its connection
/// open must not hold up the daemon's drain.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// Serves `/metrics` and `/health` on `listener` until `shutdown` completes, then lets
/// in-flight scrapes finish for a few seconds at most.
pub async fn serve(
    listener: TcpListener,
    handle: MetricsHandle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MetricsError> {
    serve_with_grace(listener, handle, shutdown, DRAIN_GRACE).await
}

async fn serve_with_grace(
    listener: TcpListener,
    handle: MetricsHandle,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> Result<(), MetricsError> {
    let (fired_tx, fired_rx) = oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = fired_tx.send(());
    };
    let server = axum::serve(listener, router(handle.clone()))
        .with_graceful_shutdown(signal)
        .into_future();

    let upkeep = async {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    };

    let drain_deadline = async {
        match fired_rx.await {
            Ok(()) => tokio::time::sleep(grace).await,
            // The sender is gone only once the server has stopped on its own.
            Err(_) => pending().await,
        }
    };

    tokio::select! {
        result = server => result.map_err(MetricsError::Serve),
        () = upkeep => Ok(()),
        () = drain_deadline => {
            // Dropping the server stops accepting; connections still open are left to
            // end with the runtime.
            tracing::warn!(grace_ms = grace.as_millis() as u64, "metrics: scrapes still open after shutdown grace, not waiting");
            Ok(())
        }
    }
}

fn router(handle: MetricsHandle) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .with_state(handle)
}

async fn metrics(State(handle): State<MetricsHandle>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], handle.render())
}

async fn health() -> &'static str {
    "ok"
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::task::JoinHandle;

    use super::*;
    use crate::metrics::{install, labels, names};

    struct Running {
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        task: JoinHandle<Result<(), MetricsError>>,
    }

    async fn start(grace: Duration) -> Running {
        let handle = install().expect("install");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve_with_grace(listener, handle, shutdown, grace));
        Running { addr, stop, task }
    }

    impl Running {
        async fn stop(self) {
            self.stop
                .send(())
                .expect("server still listening for shutdown");
            let result = tokio::time::timeout(Duration::from_secs(10), self.task)
                .await
                .expect("server ends after shutdown")
                .expect("server task did not panic");
            assert!(result.is_ok(), "{result:?}");
        }
    }

    /// A plain HTTP/1.1 GET; returns the status line, the headers and the body.
    async fn get(addr: SocketAddr, path: &str) -> (String, String, String) {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read response");
        let raw = String::from_utf8(raw).expect("response is UTF-8");
        let (head, body) = raw.split_once("\r\n\r\n").expect("header/body separator");
        let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
        (
            status.to_owned(),
            headers.to_ascii_lowercase(),
            body.to_owned(),
        )
    }

    #[tokio::test]
    async fn scrape_over_http() {
        let running = start(DRAIN_GRACE).await;
        metrics::counter!(
            names::CALLS_TOTAL,
            labels::TRUNK => "http-test",
            labels::DISPOSITION => "answered"
        )
        .increment(1);

        let (status, headers, body) = get(running.addr, "/metrics").await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(
            headers.contains("content-type: text/plain; version=0.0.4"),
            "{headers}"
        );
        assert!(
            body.contains("# TYPE hotline_calls_total counter"),
            "{body}"
        );
        assert!(body.contains(r#"trunk="http-test""#), "{body}");

        let (status, _, body) = get(running.addr, "/health").await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, "ok");

        let (status, _, _) = get(running.addr, "/nothing").await;
        assert_eq!(status, "HTTP/1.1 404 Not Found");

        running.stop().await;
    }

    #[tokio::test]
    async fn shutdown_ends_the_server() {
        let running = start(DRAIN_GRACE).await;
        let addr = running.addr;
        running.stop().await;
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "still accepting after shutdown"
        );
    }

    #[tokio::test]
    async fn a_stuck_scraper_does_not_hold_up_shutdown() {
        let running = start(Duration::from_millis(100)).await;
        // Half a request: the connection is neither idle nor finishing.
        let mut stuck = TcpStream::connect(running.addr).await.expect("connect");
        stuck.write_all(b"GET /metr").await.expect("send");
        // Let the server accept it before shutting down.
        tokio::time::sleep(Duration::from_millis(50)).await;
        running.stop().await;
    }
}
