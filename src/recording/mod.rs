//! Call recording (录音): which calls are recorded (`settings`), the handle a call opens its
//! recordings through (`handle`), and the service that files them in the store when they end,
//! repairs the files a crash left open and deletes the ones past retention (`service`). The
//! files themselves are written by `media::recorder`.

pub mod handle;
pub mod service;
pub mod settings;

pub use handle::Recordings;
pub use service::{RecordingService, RecordingStartError};
pub use settings::RecordingSettings;
