//! The recording service: one task that files each recording in the store as it opens, pauses
//! and ends (path, duration, size, SHA-256, whether it is complete and why not, the pauses),
//! repairs at start-up the files a crash left open, and deletes the files past retention,
//! logging each deletion.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
#[cfg(test)]
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::handle::{Note, Recordings};
use super::RecordingSettings;
use crate::clock::Clock;
use crate::media::recorder::{wav_file, Finished, Recorder};
use crate::metrics::names;
use crate::store::{Record, RecordingGap, RecordingRecord, Store, StoreError, WriterHandle};

/// How often files past retention are looked for.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// How long a stopping daemon waits for the recordings still being written.
const DRAIN: Duration = Duration::from_secs(5);

pub struct RecordingService;

#[derive(Debug, thiserror::Error)]
pub enum RecordingStartError {
    #[error("the recordings left open by the last run could not be closed")]
    Store(#[from] StoreError),
    #[error("the recording writer thread could not start")]
    Thread(#[source] std::io::Error),
}

impl RecordingService {
    /// Repairs what the last run left open, then starts the writer thread and the service.
    pub async fn start<S: Store + Clone>(
        settings: RecordingSettings,
        utc_offset_hours: i32,
        store: S,
        writer: WriterHandle,
        clock: Arc<dyn Clock>,
        stop: CancellationToken,
    ) -> Result<(Recordings, JoinHandle<()>), RecordingStartError> {
        repair_left_open(&store, &writer).await?;
        let (recorder, finished) =
            Recorder::spawn(settings.queue_frames as usize).map_err(RecordingStartError::Thread)?;
        let (notes_tx, notes) = mpsc::unbounded_channel();
        let handle = Recordings {
            recorder,
            notes: notes_tx,
            settings: settings.clone(),
            utc_offset_secs: utc_offset_hours * 3600,
        };
        let task = Task {
            settings,
            store,
            writer,
            clock,
            open: HashMap::new(),
        };
        Ok((handle, tokio::spawn(task.run(notes, finished, stop))))
    }
}

struct Task<S> {
    settings: RecordingSettings,
    store: S,
    writer: WriterHandle,
    clock: Arc<dyn Clock>,
    /// Recordings being written, as last filed.
    open: HashMap<String, RecordingRecord>,
}

impl<S: Store> Task<S> {
    async fn run(
        mut self,
        mut notes: mpsc::UnboundedReceiver<Note>,
        mut finished: mpsc::UnboundedReceiver<Finished>,
        stop: CancellationToken,
    ) {
        let mut retention = tokio::time::interval(RETENTION_EVERY);
        let mut drain_until: Option<tokio::time::Instant> = None;
        loop {
            let deadline = drain_until.unwrap_or_else(tokio::time::Instant::now);
            tokio::select! {
                biased;
                // Notes first: a recording's opening is always filed before its end.
                Some(note) = notes.recv() => self.on_note(note).await,
                Some(done) = finished.recv() => self.on_finished(done).await,
                _ = stop.cancelled(), if drain_until.is_none() => {
                    drain_until = Some(tokio::time::Instant::now() + DRAIN);
                }
                _ = tokio::time::sleep_until(deadline), if drain_until.is_some() => {
                    warn!(open = self.open.len(), "recordings still open when the daemon stopped; the next start repairs them");
                    return;
                }
                _ = retention.tick(), if drain_until.is_none() => self.delete_past_retention().await,
                else => return,
            }
            if drain_until.is_some() && self.open.is_empty() {
                return;
            }
        }
    }

    async fn file(&self, record: RecordingRecord) {
        if let Err(error) = self.writer.submit(Record::Recording(record)).await {
            warn!(%error, "a recording could not be filed");
        }
    }

    async fn on_note(&mut self, note: Note) {
        match note {
            Note::Opened(record) => {
                metrics::gauge!(names::RECORDINGS_OPEN).increment(1.0);
                self.open.insert(record.id.clone(), record.clone());
                self.file(record).await;
            }
            Note::Paused { id, at } => {
                let Some(record) = self.open.get_mut(&id) else {
                    return;
                };
                // An open pause is a gap that ends at `to == from` until resumed.
                record.gaps.push(RecordingGap { from: at, to: at });
                let record = record.clone();
                self.file(record).await;
            }
            Note::Resumed { id, at } => {
                let Some(record) = self.open.get_mut(&id) else {
                    return;
                };
                if let Some(gap) = record.gaps.last_mut().filter(|g| g.to == g.from) {
                    gap.to = at;
                }
                let record = record.clone();
                self.file(record).await;
            }
        }
    }

    async fn on_finished(&mut self, done: Finished) {
        let Some(mut record) = self.open.remove(&done.id) else {
            warn!(id = done.id, "a recording ended that was never opened");
            return;
        };
        metrics::gauge!(names::RECORDINGS_OPEN).decrement(1.0);
        close(&mut record, done.samples, done.size, done.sha256);
        record.complete = done.incomplete.is_none();
        record.reason = done.incomplete;
        let outcome = if record.complete {
            "complete"
        } else {
            "incomplete"
        };
        metrics::counter!(names::RECORDINGS_TOTAL, crate::metrics::labels::OUTCOME => outcome)
            .increment(1);
        info!(
            id = record.id,
            path = record.path,
            secs = record.duration_ms / 1000,
            complete = record.complete,
            "recording finished"
        );
        self.file(record).await;
    }

    async fn delete_past_retention(&self) {
        if self.settings.retention_days == 0 {
            return;
        }
        let now = self.clock.now();
        let age = Duration::from_secs(u64::from(self.settings.retention_days) * 86_400);
        let Some(cutoff) = now.checked_sub(age) else {
            return;
        };
        let old = match self.store.recordings_ended_before(cutoff).await {
            Ok(old) => old,
            Err(error) => {
                warn!(%error, "recordings past retention could not be read");
                return;
            }
        };
        for recording in old {
            match std::fs::remove_file(&recording.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    warn!(path = recording.path, %error, "a recording past retention could not be deleted");
                    continue;
                }
            }
            info!(
                id = recording.id,
                path = recording.path,
                days = self.settings.retention_days,
                "recording deleted: past retention"
            );
            metrics::counter!(names::RECORDINGS_DELETED_TOTAL).increment(1);
            let deleted = Record::RecordingDeleted {
                id: recording.id,
                at: now,
            };
            if let Err(error) = self.writer.submit(deleted).await {
                warn!(%error, "a recording's deletion could not be filed");
            }
        }
    }
}

/// `record` ended after `samples` samples per channel in a file of `size` bytes: its end is
/// its start and its length, and a pause still open ends there.
fn close(record: &mut RecordingRecord, samples: u64, size: u64, sha256: Option<String>) {
    record.duration_ms = samples / 8;
    let ended = record.started_at + Duration::from_millis(record.duration_ms);
    record.ended_at = Some(ended);
    record.size_bytes = size;
    record.sha256 = sha256;
    for gap in &mut record.gaps {
        if gap.to == gap.from {
            gap.to = ended.max(gap.from);
        }
    }
}

/// The recordings a daemon left open (a crash, a kill -9): each file gets the header its
/// length calls for, and its record is closed as incomplete (`interrupted`) with the file's
/// size and SHA-256 as it is now.
pub async fn repair_left_open<S: Store>(
    store: &S,
    writer: &WriterHandle,
) -> Result<(), StoreError> {
    for mut record in store.open_recordings().await? {
        let path = Path::new(&record.path);
        let repaired = wav_file::repair(path).and_then(|_| wav_file::summarize(path));
        match repaired {
            Ok(summary) => {
                warn!(
                    id = record.id,
                    path = record.path,
                    "a recording left open by the last run was repaired"
                );
                close(
                    &mut record,
                    summary.samples,
                    summary.size,
                    Some(summary.sha256),
                );
                record.reason = Some("interrupted".to_string());
            }
            Err(error) => {
                warn!(id = record.id, path = record.path, %error, "a recording left open by the last run could not be repaired");
                close(&mut record, 0, 0, None);
                record.reason = Some(format!("interrupted: {error}"));
            }
        }
        record.complete = false;
        writer.submit(Record::Recording(record)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::{SqliteStore, StoreWriter};

    const DAY: Duration = Duration::from_secs(86_400);

    fn recording(dir: &Path, id: &str, ended: Option<SystemTime>) -> RecordingRecord {
        let path = dir.join(format!("{id}.wav"));
        RecordingRecord {
            id: id.into(),
            call_id: id.into(),
            path: path.display().to_string(),
            started_at: SystemTime::UNIX_EPOCH + DAY,
            ended_at: ended,
            duration_ms: 0,
            size_bytes: 0,
            sha256: None,
            complete: ended.is_some(),
            reason: None,
            gaps: Vec::new(),
            deleted_at: None,
        }
    }

    /// A store in `dir` with these recordings, and a writer to it.
    async fn store_with(dir: &Path, records: Vec<RecordingRecord>) -> (SqliteStore, WriterHandle) {
        let store = SqliteStore::open(&dir.join("hotline.db"))
            .await
            .expect("store");
        let (writer, _task) = StoreWriter::spawn(store.clone(), 64, 16);
        for r in records {
            writer.submit(Record::Recording(r)).await.expect("submit");
        }
        writer.flush().await.expect("flush");
        (store, writer)
    }

    #[tokio::test]
    async fn files_past_retention_are_deleted_and_marked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let now = SystemTime::UNIX_EPOCH + 400 * DAY;
        let old = recording(dir.path(), "old", Some(now - 181 * DAY));
        let recent = recording(dir.path(), "recent", Some(now - 179 * DAY));
        let open = recording(dir.path(), "open", None);
        for r in [&old, &recent, &open] {
            std::fs::write(&r.path, b"RIFF").expect("write");
        }
        let (store, writer) =
            store_with(dir.path(), vec![old.clone(), recent.clone(), open.clone()]).await;
        let task = Task {
            settings: RecordingSettings {
                directory: dir.path().to_path_buf(),
                queued_calls: true,
                retention_days: 180,
                queue_frames: 100,
                consultations: true,
            },
            store: store.clone(),
            writer: writer.clone(),
            clock: Arc::new(ManualClock::new(now)),
            open: HashMap::new(),
        };
        task.delete_past_retention().await;
        writer.flush().await.expect("flush");
        assert!(!Path::new(&old.path).exists(), "the old file is gone");
        assert!(Path::new(&recent.path).exists());
        assert!(
            Path::new(&open.path).exists(),
            "an open recording is never deleted"
        );
        let kept = store.recordings_of("old").await.expect("read");
        assert_eq!(kept[0].deleted_at, Some(now), "{kept:?}");
        assert_eq!(
            store.recordings_of("recent").await.expect("read")[0].deleted_at,
            None
        );
        // Run again: nothing more to delete.
        task.delete_past_retention().await;
        writer.flush().await.expect("flush");
        assert!(store
            .recordings_ended_before(now)
            .await
            .expect("read")
            .iter()
            .all(|r| r.id != "old"));
    }

    #[tokio::test]
    async fn a_recording_left_open_is_repaired_and_closed_as_interrupted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut open = recording(dir.path(), "left", None);
        open.gaps.push(RecordingGap {
            from: open.started_at + Duration::from_secs(1),
            to: open.started_at + Duration::from_secs(1),
        });
        let mut bytes = wav_file::header(0).to_vec();
        bytes.extend(std::iter::repeat_n(0u8, 4 * 16_000));
        std::fs::write(&open.path, &bytes).expect("write");
        let missing = recording(dir.path(), "missing", None);
        let (store, writer) = store_with(dir.path(), vec![open.clone(), missing]).await;
        repair_left_open(&store, &writer).await.expect("repair");
        writer.flush().await.expect("flush");
        assert_eq!(store.open_recordings().await.expect("read"), []);
        let r = &store.recordings_of("left").await.expect("read")[0];
        assert_eq!(
            (r.complete, r.reason.as_deref()),
            (false, Some("interrupted"))
        );
        assert_eq!((r.duration_ms, r.size_bytes), (2_000, bytes.len() as u64));
        assert_eq!(r.ended_at, Some(r.started_at + Duration::from_secs(2)));
        assert_eq!(
            r.gaps[0].to,
            r.ended_at.expect("ended"),
            "an open pause ends with the file"
        );
        let summary = wav_file::summarize(Path::new(&r.path)).expect("summary");
        assert_eq!(r.sha256.as_deref(), Some(summary.sha256.as_str()));
        let missing = &store.recordings_of("missing").await.expect("read")[0];
        assert!(
            missing
                .reason
                .as_deref()
                .is_some_and(|w| w.starts_with("interrupted: ")),
            "{missing:?}"
        );
    }
}
