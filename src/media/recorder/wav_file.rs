//! The recording's file: a canonical 44-byte WAV header (PCM, 16-bit, stereo, 8 kHz) and the
//! interleaved samples after it. The header is written first with its sizes at 0, which marks
//! a file still being written, and given its sizes when the recording closes; a file left open
//! by a crash is repaired from its length.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

pub const SAMPLE_RATE: u32 = 8_000;
pub const CHANNELS: u16 = 2;
pub const HEADER_LEN: u64 = 44;
/// Bytes of one stereo sample.
pub const BLOCK: u64 = 4;

/// The header of a file whose data is `data_len` bytes.
pub fn header(data_len: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    let byte_rate = SAMPLE_RATE * u32::from(CHANNELS) * 2;
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36u32.wrapping_add(data_len)).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&CHANNELS.to_le_bytes());
    h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&(CHANNELS * 2).to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// The header a file that is `file_len` bytes long should have: its data is every whole
/// stereo sample after the header (a torn last sample is left out of the count).
pub fn header_for_length(file_len: u64) -> [u8; 44] {
    let data = file_len.saturating_sub(HEADER_LEN);
    let data = data - data % BLOCK;
    header(u32::try_from(data).unwrap_or(u32::MAX - 36))
}

/// Creates `path` (and its directory) with an open header.
pub fn create(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = File::create(path)?;
    file.write_all(&header(0))?;
    Ok(file)
}

/// Writes the header of `file` for its length now, and syncs it.
pub fn close(file: &mut File) -> io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&header_for_length(len))?;
    file.sync_all()?;
    Ok(len)
}

/// What a finished file is: its length, samples per channel and SHA-256 (lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub size: u64,
    pub samples: u64,
    pub sha256: String,
}

/// Reads `path` back for its summary.
pub fn summarize(path: &Path) -> io::Result<Summary> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let data = size.saturating_sub(HEADER_LEN);
    Ok(Summary {
        size,
        samples: (data - data % BLOCK) / BLOCK,
        sha256: crate::auth::hex(&hasher.finalize()),
    })
}

/// Gives a file left open (by a crash) the header its length calls for. Returns whether the
/// header had to change.
pub fn repair(path: &Path) -> io::Result<bool> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.seek(SeekFrom::End(0))?;
    let want = header_for_length(len);
    let mut have = [0u8; 44];
    file.seek(SeekFrom::Start(0))?;
    let complete_header = file.read_exact(&mut have).is_ok();
    if complete_header && have == want {
        return Ok(false);
    }
    if len < HEADER_LEN {
        file.set_len(HEADER_LEN)?;
    }
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&want)?;
    file.sync_all()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_file_parses_as_stereo_pcm_with_its_samples() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("calls/1.wav");
        let mut file = create(&path).expect("create");
        for i in 0..800i16 {
            file.write_all(&i.to_le_bytes()).expect("write");
            file.write_all(&(-i).to_le_bytes()).expect("write");
        }
        close(&mut file).expect("close");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]),
            3_200
        );
        assert_eq!(
            u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            3_236
        );
        assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 2);
        let summary = summarize(&path).expect("summary");
        assert_eq!((summary.size, summary.samples), (3_244, 800));
        assert_eq!(summary.sha256.len(), 64);
        assert!(!repair(&path).expect("repair"), "a closed file needs none");
    }

    #[test]
    fn a_file_left_open_gets_the_header_its_length_calls_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("2.wav");
        let mut file = create(&path).expect("create");
        file.write_all(&[1u8; 4 * 100 + 3]).expect("write"); // a torn last sample
        drop(file);
        assert!(repair(&path).expect("repair"));
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(
            u32::from_le_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]),
            400
        );
        assert!(!repair(&path).expect("repair"), "repaired once is enough");
        // A file cut inside its header is given a whole one.
        std::fs::write(&path, b"RIFF").expect("write");
        assert!(repair(&path).expect("repair"));
        assert_eq!(std::fs::read(&path).expect("read"), header(0));
    }
}
