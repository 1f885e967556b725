//! A call recording as stored: one row per WAV file, written whole each time it changes (opened,
//! closed), with the pauses in it; retention marks it deleted once the file is gone.

use std::time::SystemTime;

/// One WAV file the daemon wrote for a call, as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRecord {
    /// The daemon's call id, or "<call id>-consult-1" and so on for a consultation (unique).
    pub id: String,
    /// The daemon's call id; its call record may be written later.
    pub call_id: String,
    /// The file, as the daemon wrote it.
    pub path: String,
    /// The time of the file's first sample.
    pub started_at: SystemTime,
    /// `None` while the file is still being written.
    pub ended_at: Option<SystemTime>,
    /// The sound in the file, pauses included.
    pub duration_ms: u64,
    pub size_bytes: u64,
    /// Of the whole file, lowercase hex; `None` while the file is still being written.
    pub sha256: Option<String>,
    /// The file holds the whole call.
    pub complete: bool,
    /// Why it is not complete.
    pub reason: Option<String>,
    /// The pauses, in time order: silence in the file.
    pub gaps: Vec<RecordingGap>,
    /// When retention deleted the file; the row stays.
    pub deleted_at: Option<SystemTime>,
}

impl RecordingRecord {
    pub fn is_open(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// A pause in a recording: the file holds silence from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingGap {
    pub from: SystemTime,
    pub to: SystemTime,
}
