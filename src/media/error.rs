use std::io;

/// Failures of the media plane's I/O side (ports and sockets).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("RTP port range {min}-{max} holds no even port")]
    InvalidPortRange { min: u16, max: u16 },
    #[error("no free RTP port in {min}-{max}")]
    PortsExhausted { min: u16, max: u16 },
    #[error("cannot bind RTP port {port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: io::Error,
    },
}
