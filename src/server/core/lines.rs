//! Lines (线路): the channels a carrier sells on each trunk. The core counts the calls in
//! progress per trunk and per called number, refuses a new call past a trunk's `lines`, and
//! shows both counts as gauges, so that ops can tell the carrier how many lines the hotline uses.

use std::collections::HashMap;

use crate::call_id::CallId;
use crate::config::settings::TrunkSettings;
use crate::metrics::{labels, names};

#[derive(Debug, Default)]
pub struct Lines {
    /// Configured lines per trunk; a trunk not here is unlimited.
    limits: HashMap<String, u32>,
    in_use: HashMap<String, usize>,
    by_number: HashMap<String, usize>,
    calls: HashMap<CallId, (String, String)>,
}

impl Lines {
    pub fn new(trunks: &[TrunkSettings]) -> Lines {
        let mut lines = Lines::default();
        for t in trunks {
            if let Some(n) = t.lines {
                lines.limits.insert(t.name.clone(), n);
                metrics::gauge!(names::TRUNK_LINES, labels::TRUNK => t.name.clone())
                    .set(f64::from(n));
            }
            lines.show_trunk(&t.name);
        }
        lines
    }

    /// Whether `trunk` has a line free for one more call.
    pub fn free(&self, trunk: &str) -> bool {
        self.limits
            .get(trunk)
            .is_none_or(|&limit| self.in_use.get(trunk).copied().unwrap_or(0) < limit as usize)
    }

    /// `call`, from `trunk` to `number`, takes a line until [`Lines::release`].
    pub fn take(&mut self, call: CallId, trunk: &str, number: &str) {
        *self.in_use.entry(trunk.to_string()).or_default() += 1;
        *self.by_number.entry(number.to_string()).or_default() += 1;
        self.calls
            .insert(call, (trunk.to_string(), number.to_string()));
        self.show_trunk(trunk);
        self.show_number(number);
    }

    /// `call` has ended; nothing happens for a call that held no line.
    pub fn release(&mut self, call: CallId) {
        let Some((trunk, number)) = self.calls.remove(&call) else {
            return;
        };
        for (map, key) in [(&mut self.in_use, &trunk), (&mut self.by_number, &number)] {
            if let Some(n) = map.get_mut(key) {
                *n = n.saturating_sub(1);
            }
        }
        self.show_trunk(&trunk);
        self.show_number(&number);
    }

    pub fn in_use(&self, trunk: &str) -> usize {
        self.in_use.get(trunk).copied().unwrap_or(0)
    }

    fn show_trunk(&self, trunk: &str) {
        metrics::gauge!(names::TRUNK_LINES_IN_USE, labels::TRUNK => trunk.to_string())
            .set(self.in_use(trunk) as f64);
    }

    fn show_number(&self, number: &str) {
        let n = self.by_number.get(number).copied().unwrap_or(0);
        metrics::gauge!(names::NUMBER_LINES_IN_USE, labels::NUMBER => number.to_string())
            .set(n as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(name: &str, lines: Option<u32>) -> TrunkSettings {
        TrunkSettings {
            name: name.into(),
            sources: Vec::new(),
            auth: None,
            outbound: None,
            lines,
        }
    }

    #[test]
    fn a_trunk_refuses_past_its_lines_and_frees_one_when_a_call_ends() {
        let mut lines = Lines::new(&[trunk("carrier", Some(2)), trunk("other", None)]);
        assert!(lines.free("carrier"));
        lines.take(CallId(1), "carrier", "12345");
        lines.take(CallId(2), "carrier", "12349");
        assert!(!lines.free("carrier"));
        assert!(lines.free("other"), "no lines set: unlimited");
        lines.release(CallId(1));
        assert!(lines.free("carrier"));
        assert_eq!(lines.in_use("carrier"), 1);
        lines.release(CallId(1));
        assert_eq!(
            lines.in_use("carrier"),
            1,
            "a second release changes nothing"
        );
    }
}
