//! Payload-type translation between the two legs of a relay.
//!
//! Each leg negotiated its own SDP, so a dynamic payload type (typically
//! telephone-event) may carry a different number on each side. The relay
//! rewrites the PT byte in place; the table is fixed-size so the per-packet
//! path never allocates.

/// Dynamic PTs that differ between legs are rare (telephone-event, maybe one
/// codec), so a handful of slots is plenty.
const SLOTS: usize = 4;

/// Pairs of payload types `(pt on leg A, pt on leg B)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PtMap {
    pairs: [(u8, u8); SLOTS],
    len: usize,
}

impl PtMap {
    /// A map that rewrites nothing.
    pub fn identity() -> Self {
        Self::default()
    }

    /// Adds a pair. Identical PTs need no rewrite and are skipped; pairs
    /// beyond capacity, or pairs that are not 7-bit PTs, are ignored rather
    /// than mangling the marker bit.
    #[must_use]
    pub fn with(mut self, pt_a: u8, pt_b: u8) -> Self {
        let valid = pt_a <= 0x7f && pt_b <= 0x7f;
        if valid && pt_a != pt_b && self.len < SLOTS {
            self.pairs[self.len] = (pt_a, pt_b);
            self.len += 1;
        }
        self
    }

    pub fn is_identity(&self) -> bool {
        self.len == 0
    }

    /// PT to put on leg B for a packet that arrived on leg A with `pt`.
    pub fn a_to_b(&self, pt: u8) -> u8 {
        self.pairs[..self.len]
            .iter()
            .find(|(a, _)| *a == pt)
            .map_or(pt, |(_, b)| *b)
    }

    /// PT to put on leg A for a packet that arrived on leg B with `pt`.
    pub fn b_to_a(&self, pt: u8) -> u8 {
        self.pairs[..self.len]
            .iter()
            .find(|(_, b)| *b == pt)
            .map_or(pt, |(a, _)| *a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways_and_passes_others_through() {
        let map = PtMap::identity().with(101, 96);
        assert_eq!(map.a_to_b(101), 96);
        assert_eq!(map.b_to_a(96), 101);
        assert_eq!(map.a_to_b(0), 0);
        assert_eq!(map.b_to_a(101), 101);
    }

    #[test]
    fn equal_or_invalid_pairs_are_not_stored() {
        let map = PtMap::identity().with(101, 101).with(200, 96);
        assert!(map.is_identity());
    }
}
