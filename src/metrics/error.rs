use thiserror::Error;

#[derive(Debug, Error)]
pub enum MetricsError {
    /// Some other recorder became the process-global one before ours; our samples would be lost.
    #[error("another metrics recorder is already installed for this process")]
    ForeignRecorder,

    /// The bucket table in `names.rs` is wrong; a test catches this before it ships.
    #[error("histogram {metric} has no buckets")]
    NoBuckets { metric: &'static str },

    #[error("metrics HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}
