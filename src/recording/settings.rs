//! `[recording]`: where recordings go, which calls are recorded, how long files are kept.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::checks::Issue;

/// The frames one recording's queue holds at most, and at least.
pub const QUEUE_FRAMES: std::ops::RangeInclusive<u32> = 1..=65_536;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingSettings {
    /// Where the WAV files go: `<directory>/<local date>/<call id>.wav`. Relative paths are
    /// relative to the daemon's working directory.
    pub directory: PathBuf,
    /// Every call that enters a queue is recorded unless its queue or route says otherwise.
    #[serde(default = "yes")]
    pub queued_calls: bool,
    /// Files older than this many days are deleted (each deletion logged); 0 keeps them.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// Frames (20 ms each) a recording's queue to the writer holds: if the disk falls that far
    /// behind, frames are dropped and the recording is marked incomplete.
    #[serde(default = "default_queue_frames")]
    pub queue_frames: u32,
    /// A seat's consultation with a unit while the caller holds is recorded too, in a second
    /// file (`<call id>-consult-<n>.wav`: the seat on the left, the unit on the right).
    #[serde(default = "yes")]
    pub consultations: bool,
}

fn yes() -> bool {
    true
}

fn default_retention() -> u32 {
    180
}

fn default_queue_frames() -> u32 {
    500
}

impl RecordingSettings {
    /// Every problem with the settings, the directory's too: it must be a directory the daemon
    /// can write in (or one it can create).
    pub fn validate(&self, key: &str) -> Vec<Issue> {
        let mut issues = Vec::new();
        if self.directory.as_os_str().is_empty() {
            issues.push(Issue::new(format!("{key}.directory"), "must not be empty"));
        } else if let Err(problem) = writable(&self.directory) {
            issues.push(Issue::new(
                format!("{key}.directory"),
                format!("{}: {problem}", self.directory.display()),
            ));
        }
        if !QUEUE_FRAMES.contains(&self.queue_frames) {
            issues.push(Issue::new(
                format!("{key}.queue_frames"),
                format!(
                    "{} is outside {}..={}",
                    self.queue_frames,
                    QUEUE_FRAMES.start(),
                    QUEUE_FRAMES.end()
                ),
            ));
        }
        issues
    }

    /// Whether a call is recorded: the route's word first, then its queue's, then
    /// `queued_calls` for a call that is queued; calls not queued only when the route says so.
    pub fn records(&self, route: Option<bool>, queue: Option<Option<bool>>) -> bool {
        match (route, queue) {
            (Some(on), _) => on,
            (None, Some(Some(on))) => on,
            (None, Some(None)) => self.queued_calls,
            (None, None) => false,
        }
    }
}

/// Whether files can be made in `dir`: it is a directory the daemon can write in, or does not
/// exist yet and its nearest existing parent is one.
fn writable(dir: &Path) -> Result<(), String> {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return Err(format!("{} is not a directory", existing.display()));
    }
    let probe = existing.join(format!(".hotline-write-check-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(error) => Err(format!("not writable ({}: {error})", existing.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(directory: PathBuf) -> RecordingSettings {
        RecordingSettings {
            directory,
            queued_calls: true,
            retention_days: 180,
            queue_frames: 500,
            consultations: true,
        }
    }

    #[test]
    fn a_directory_that_is_not_writable_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(settings(dir.path().join("new/sub"))
            .validate("recording")
            .is_empty());
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").expect("write");
        let issues = settings(file.join("rec")).validate("recording");
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(
            issues[0].reason.contains("is not a directory"),
            "{:?}",
            issues[0]
        );
        // Root may write anywhere: the read-only case is only checked for other users.
        let sealed = dir.path().join("sealed");
        std::fs::create_dir(&sealed).expect("mkdir");
        let mut perms = std::fs::metadata(&sealed).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o500);
        std::fs::set_permissions(&sealed, perms).expect("chmod");
        let is_root = std::fs::File::create(sealed.join("probe")).is_ok();
        if !is_root {
            let issues = settings(sealed.clone()).validate("recording");
            assert!(issues[0].reason.contains("not writable"), "{:?}", issues[0]);
        }
        let mut bad = settings(dir.path().to_path_buf());
        bad.queue_frames = 0;
        assert_eq!(bad.validate("recording").len(), 1);
    }

    #[test]
    fn the_route_then_the_queue_then_the_default_decide() {
        let s = settings("r".into());
        assert!(s.records(None, Some(None)), "queued calls by default");
        assert!(
            !s.records(None, None),
            "a ring route's calls not by default"
        );
        assert!(!s.records(None, Some(Some(false))));
        assert!(s.records(Some(true), None));
        assert!(!s.records(Some(false), Some(Some(true))));
        let off = RecordingSettings {
            queued_calls: false,
            ..s
        };
        assert!(!off.records(None, Some(None)));
        assert!(off.records(None, Some(Some(true))));
    }
}
