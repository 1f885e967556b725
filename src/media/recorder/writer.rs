//! The writer: one thread for every recording of the daemon. Every few milliseconds it takes
//! the frames each tap queued, decodes them into the recording's stereo track and writes what
//! is settled to its file; a recording whose tap was dropped is written out to its end, its
//! header closed, the file read back for its SHA-256, and reported as [`Finished`].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc as tokio_mpsc;

use super::stereo::Stereo;
use super::{wav_file, Frame, Opening, Shared, Tap, FRAME_MAX};
use crate::media::g711;

/// How often the writer takes the queued frames.
const DRAIN_EVERY: Duration = Duration::from_millis(20);
/// A channel that has sent nothing for this long (1 s) is written as silence up to the
/// other's position, so that a silent side does not hold the file back.
const LAG: u64 = 8_000;

/// A recording as it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub id: String,
    pub path: PathBuf,
    /// Samples per channel in the file.
    pub samples: u64,
    pub size: u64,
    /// None when there is no file to hash.
    pub sha256: Option<String>,
    /// Why the recording is incomplete; None when it is whole.
    pub incomplete: Option<String>,
}

/// Opens recordings. Cloned freely; the writer thread ends once every clone is dropped and
/// every recording has finished.
#[derive(Clone)]
pub struct Recorder {
    openings: mpsc::Sender<(Opening, Arc<Shared>)>,
    capacity: usize,
}

impl Recorder {
    /// Starts the writer thread; each recording's queue holds `capacity` frames. Finished
    /// recordings come out of the receiver, none dropped.
    pub fn spawn(
        capacity: usize,
    ) -> std::io::Result<(Recorder, tokio_mpsc::UnboundedReceiver<Finished>)> {
        let (openings, rx) = mpsc::channel();
        let (finished_tx, finished) = tokio_mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || run(rx, finished_tx))?;
        Ok((
            Recorder {
                openings,
                capacity: capacity.max(1),
            },
            finished,
        ))
    }

    /// Starts recording `opening` now: the returned tap goes to the hub.
    pub fn open(&self, opening: Opening) -> Tap {
        let shared = Arc::new(Shared::new(self.capacity));
        if self.openings.send((opening, shared.clone())).is_err() {
            tracing::error!("the recording writer has stopped; nothing will be recorded");
        }
        Tap::new(shared)
    }
}

struct Open {
    id: String,
    path: PathBuf,
    shared: Arc<Shared>,
    file: Option<BufWriter<File>>,
    failure: Option<String>,
    track: Stereo,
    /// The position after the latest frame of either channel.
    latest: u64,
}

fn run(
    openings: mpsc::Receiver<(Opening, Arc<Shared>)>,
    finished: tokio_mpsc::UnboundedSender<Finished>,
) {
    let mut open: Vec<Open> = Vec::new();
    let mut batch: Vec<Frame> = Vec::with_capacity(256);
    let mut accepting = true;
    loop {
        let next = if open.is_empty() {
            openings.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            openings.recv_timeout(DRAIN_EVERY)
        };
        match next {
            Ok(opening) => open.push(Open::start(opening)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => accepting = false,
        }
        while let Ok(opening) = openings.try_recv() {
            open.push(Open::start(opening));
        }
        let mut i = 0;
        while i < open.len() {
            if open[i].write(&mut batch) {
                let done = open.swap_remove(i).finish();
                if done.incomplete.is_some() {
                    tracing::warn!(id = done.id, reason = ?done.incomplete, "recording incomplete");
                }
                // Fails only once nobody reads: the daemon is gone.
                let _ = finished.send(done);
            } else {
                i += 1;
            }
        }
        if !accepting && open.is_empty() {
            return;
        }
    }
}

impl Open {
    fn start((opening, shared): (Opening, Arc<Shared>)) -> Open {
        let (file, failure) = match wav_file::create(&opening.path) {
            Ok(file) => (Some(BufWriter::new(file)), None),
            Err(error) => {
                tracing::warn!(path = %opening.path.display(), %error, "recording could not be created");
                (None, Some(format!("disk: {error}")))
            }
        };
        Open {
            id: opening.id,
            path: opening.path,
            shared,
            file,
            failure,
            track: Stereo::default(),
            latest: 0,
        }
    }

    /// Takes the queued frames and writes what is settled; true once the recording ended and
    /// is all written.
    fn write(&mut self, batch: &mut Vec<Frame>) -> bool {
        // The end first: every frame queued before it is then in the queue.
        let ended = self.shared.ended();
        self.shared.drain_into(batch);
        let mut pcm = [0i16; FRAME_MAX];
        for frame in batch.drain(..) {
            let len = usize::from(frame.len).min(FRAME_MAX);
            let n = g711::decode_frame(frame.codec, &frame.data[..len], &mut pcm);
            self.track.place(frame.channel, frame.at, &pcm[..n]);
            self.latest = self.latest.max(frame.at + n as u64);
        }
        let upto = match ended {
            Some(end) => end.max(self.track.end()),
            None => self.track.settled().max(self.latest.saturating_sub(LAG)),
        };
        let (file, failure) = (&mut self.file, &mut self.failure);
        self.track.take_until(upto, |l, r| {
            let Some(out) = file.as_mut() else {
                return;
            };
            let mut sample = [0u8; 4];
            sample[..2].copy_from_slice(&l.to_le_bytes());
            sample[2..].copy_from_slice(&r.to_le_bytes());
            if let Err(error) = out.write_all(&sample) {
                *failure = Some(format!("disk: {error}"));
                *file = None;
            }
        });
        ended.is_some()
    }

    fn finish(self) -> Finished {
        let Open {
            id,
            path,
            shared,
            file,
            mut failure,
            ..
        } = self;
        if let Some(file) = file {
            let closed = file
                .into_inner()
                .map_err(|e| e.into_error())
                .and_then(|mut file| wav_file::close(&mut file));
            if let Err(error) = closed {
                failure.get_or_insert(format!("disk: {error}"));
            }
        }
        let dropped = shared.dropped();
        if dropped > 0 {
            failure.get_or_insert(format!("writer_behind: {dropped} frames dropped"));
        }
        // Only a file of our own is read back (a device such as /dev/full is not).
        let summary = std::fs::metadata(&path)
            .is_ok_and(|m| m.is_file())
            .then(|| wav_file::summarize(&path).ok())
            .flatten();
        Finished {
            id,
            samples: summary.as_ref().map_or(0, |s| s.samples),
            size: summary.as_ref().map_or(0, |s| s.size),
            sha256: summary.map(|s| s.sha256),
            path,
            incomplete: failure,
        }
    }
}
