//! How a call reaches the recordings: it opens one for a leg (the tap goes to its hub), and
//! tells when a seat paused and resumed it. What it says goes to the recording service over an
//! unbounded channel: a handful of notes per call, none of which may be lost.

use std::path::PathBuf;
use std::time::SystemTime;

use tokio::sync::mpsc;

use super::RecordingSettings;
use crate::calendar::to_local;
use crate::media::recorder::{Opening, Recorder, Tap};
use crate::store::RecordingRecord;

/// What a call tells the recording service.
#[derive(Debug)]
pub(super) enum Note {
    Opened(RecordingRecord),
    Paused { id: String, at: SystemTime },
    Resumed { id: String, at: SystemTime },
}

/// Opens recordings; cloned into every call.
#[derive(Clone)]
pub struct Recordings {
    pub(super) recorder: Recorder,
    pub(super) notes: mpsc::UnboundedSender<Note>,
    pub(super) settings: RecordingSettings,
    pub(super) utc_offset_secs: i32,
}

impl Recordings {
    /// Whether a call of a route that says `route` and a queue that says `queue` (None: not a
    /// queued call) is recorded.
    pub fn records(&self, route: Option<bool>, queue: Option<Option<bool>>) -> bool {
        self.settings.records(route, queue)
    }

    /// Whether consultations are recorded as well.
    pub fn consultations(&self) -> bool {
        self.settings.consultations
    }

    /// Starts recording `id` (a call id, or a call id with a suffix) of call `call` now, at
    /// `now`: the file is `<directory>/<local date>/<id>.wav`. The tap goes to the hub.
    pub fn open(&self, call: &str, id: String, now: SystemTime) -> Tap {
        let date = to_local(now, self.utc_offset_secs).date;
        let path: PathBuf = self
            .settings
            .directory
            .join(date.to_string())
            .join(format!("{id}.wav"));
        let record = RecordingRecord {
            id: id.clone(),
            call_id: call.to_string(),
            path: path.display().to_string(),
            started_at: now,
            ended_at: None,
            duration_ms: 0,
            size_bytes: 0,
            sha256: None,
            complete: false,
            reason: None,
            gaps: Vec::new(),
            deleted_at: None,
        };
        self.note(Note::Opened(record));
        self.recorder.open(Opening { id, path })
    }

    /// The seat paused recording `id` at `at`.
    pub fn paused(&self, id: &str, at: SystemTime) {
        self.note(Note::Paused {
            id: id.to_string(),
            at,
        });
    }

    pub fn resumed(&self, id: &str, at: SystemTime) {
        self.note(Note::Resumed {
            id: id.to_string(),
            at,
        });
    }

    fn note(&self, note: Note) {
        if self.notes.send(note).is_err() {
            tracing::warn!("the recording service has stopped; a recording note is lost");
        }
    }
}
