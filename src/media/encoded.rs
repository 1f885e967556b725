//! Prompts and tones encoded once, at start-up, in both G.711 laws, so playing one into a call
//! costs a lookup and never a conversion.

use std::collections::HashMap;
use std::sync::Arc;

use super::g711::{encode_frame, silence};
use super::hub::Play;
use super::prompts::PromptSet;
use super::sdp::Codec;

#[derive(Debug, Clone, Default)]
pub struct EncodedPrompts {
    ulaw: HashMap<String, Arc<[u8]>>,
    alaw: HashMap<String, Arc<[u8]>>,
}

impl EncodedPrompts {
    pub fn new(set: &PromptSet) -> EncodedPrompts {
        let mut encoded = EncodedPrompts::default();
        for name in set.names() {
            if let Some(prompt) = set.get(name) {
                encoded.insert(name, &prompt.samples);
            }
        }
        for (name, samples) in super::tones::all() {
            encoded.insert(name, &samples);
        }
        encoded
    }

    fn insert(&mut self, name: &str, samples: &[i16]) {
        for (codec, table) in [(Codec::Pcmu, &mut self.ulaw), (Codec::Pcma, &mut self.alaw)] {
            let mut out = vec![0u8; samples.len()];
            encode_frame(codec, samples, &mut out);
            table.insert(name.to_string(), Arc::from(out));
        }
    }

    pub fn get(&self, name: &str, codec: Codec) -> Option<Arc<[u8]>> {
        match codec {
            Codec::Pcmu => self.ulaw.get(name).cloned(),
            Codec::Pcma => self.alaw.get(name).cloned(),
        }
    }

    /// A playback of `names` in order for a leg that uses `codec` under payload type `pt`;
    /// unknown names are skipped.
    pub fn play(&self, names: &[&str], codec: Codec, pt: u8, looping: bool) -> Play {
        Play {
            items: names.iter().filter_map(|n| self.get(n, codec)).collect(),
            looping,
            pt,
            silence: silence(codec),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::g711::{alaw_decode, ulaw_decode};
    use crate::media::prompts::REQUIRED;

    #[test]
    fn shipped_prompts_encode_in_both_laws() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/zh");
        let set = PromptSet::load(&dir, REQUIRED).expect("shipped prompts load");
        let encoded = EncodedPrompts::new(&set);
        let welcome = set.get("welcome").expect("welcome");
        let ulaw = encoded.get("welcome", Codec::Pcmu).expect("μ-law");
        let alaw = encoded.get("welcome", Codec::Pcma).expect("A-law");
        assert_eq!(ulaw.len(), welcome.samples.len());
        // Decoding gives back the samples within G.711's quantisation error.
        let i = welcome.samples.len() / 2;
        let original = i32::from(welcome.samples[i]);
        assert!((i32::from(ulaw_decode(ulaw[i])) - original).abs() <= original.abs() / 8 + 64);
        assert!((i32::from(alaw_decode(alaw[i])) - original).abs() <= original.abs() / 8 + 64);
        let play = encoded.play(
            &["position_prefix", "nonexistent", "digit_3"],
            Codec::Pcma,
            8,
            false,
        );
        assert_eq!(play.items.len(), 2);
        assert_eq!(play.silence, 0xD5);
    }
}
