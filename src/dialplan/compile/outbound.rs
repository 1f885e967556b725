//! Checking `[[outbound]]` entries: the prefix, the trunk that carries them, the caller ID and
//! the rewrite.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::FileCx;
use crate::dialplan::OutboundRoute;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutbound {
    prefix: String,
    trunk: String,
    caller_id: String,
    #[serde(default)]
    strip: usize,
    #[serde(default)]
    prepend: String,
    #[serde(default)]
    description: Option<String>,
}

/// What the outbound checks need from the settings, and what they have found so far.
#[derive(Debug, Default)]
pub(super) struct OutboundState<'a> {
    /// Trunk name to its `outbound` address (None: inbound only).
    pub trunks: HashMap<&'a str, Option<SocketAddr>>,
    /// Where each prefix was first written, to point a duplicate at its original.
    pub prefixes: HashMap<String, (PathBuf, usize)>,
    pub routes: Vec<OutboundRoute>,
}

/// Digits with an optional leading `+` and at least one digit: what a prefix, a caller ID and
/// (allowing it empty) `prepend` may be. Grouping characters are not allowed here: these are
/// sent as they are.
fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

impl FileCx<'_, '_> {
    pub(super) fn outbound(&mut self, i: usize, raw: RawOutbound) -> Option<OutboundRoute> {
        let at = |field: &str| format!("outbound[{i}].{field}");
        let line = self.map.line_of(&format!("outbound[{i}]")).unwrap_or(0);
        let mut ok = self.prefix(&raw.prefix, at("prefix"), line);
        let addr = self.outbound_trunk(&raw.trunk, at("trunk"));
        if !is_number(&raw.caller_id) {
            self.problem(
                at("caller_id"),
                format!(
                    "{:?} is not a number (digits, optional leading +)",
                    raw.caller_id
                ),
            );
            ok = false;
        }
        if raw.strip > raw.prefix.len() {
            self.problem(
                at("strip"),
                format!(
                    "{} is longer than the prefix {:?}; only the matched prefix may be cut",
                    raw.strip, raw.prefix
                ),
            );
            ok = false;
        }
        if !raw.prepend.is_empty() && !is_number(&raw.prepend) {
            self.problem(
                at("prepend"),
                format!(
                    "{:?} is not digits (with an optional leading +)",
                    raw.prepend
                ),
            );
            ok = false;
        }
        let addr = addr?;
        ok.then(|| OutboundRoute {
            prefix: raw.prefix,
            trunk: raw.trunk,
            addr,
            caller_id: raw.caller_id,
            strip: raw.strip,
            prepend: raw.prepend,
            description: raw.description,
            file: self.file.to_path_buf(),
            line,
        })
    }

    fn prefix(&mut self, prefix: &str, key: String, line: usize) -> bool {
        if !is_number(prefix) {
            // An empty prefix would allow every number: exactly what the guard is for.
            self.problem(
                key,
                format!("{prefix:?} is not a digit prefix (digits, optional leading +)"),
            );
            return false;
        }
        if let Some((file, first)) = self.compiler.outbound.prefixes.get(prefix) {
            let reason = format!(
                "prefix {prefix} is already routed at {}:{first}",
                file.display()
            );
            self.problem(key, reason);
            return false;
        }
        self.compiler
            .outbound
            .prefixes
            .insert(prefix.to_string(), (self.file.to_path_buf(), line));
        true
    }

    fn outbound_trunk(&mut self, trunk: &str, key: String) -> Option<SocketAddr> {
        match self.compiler.outbound.trunks.get(trunk) {
            Some(Some(addr)) => Some(*addr),
            Some(None) => {
                self.problem(
                    key,
                    format!("trunk {trunk:?} has no `outbound` address; it only takes calls in"),
                );
                None
            }
            None => {
                self.problem(key, format!("no trunk named {trunk:?} in [[trunks]]"));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::dialplan::test_support::problems;

    #[test]
    fn every_outbound_problem_is_reported() {
        let a = r#"
[[outbound]]
prefix = "0"
trunk = "carrier"
caller_id = "12345"

[[outbound]]
prefix = ""
trunk = "nobody"
caller_id = "hotline"

[[outbound]]
prefix = "9"
trunk = "inbound"
caller_id = "+8655112345"
strip = 2
prepend = "0-"
"#;
        let b = "[[outbound]]\nprefix = \"0\"\ntrunk = \"carrier\"\ncaller_id = \"12345\"\n";
        assert_eq!(
            problems(&[("a.toml", a), ("b.toml", b)]),
            [
                "a.toml:8: outbound[1].prefix: \"\" is not a digit prefix (digits, optional leading +)",
                "a.toml:9: outbound[1].trunk: no trunk named \"nobody\" in [[trunks]]",
                "a.toml:10: outbound[1].caller_id: \"hotline\" is not a number (digits, optional leading +)",
                "a.toml:14: outbound[2].trunk: trunk \"inbound\" has no `outbound` address; it only takes calls in",
                "a.toml:16: outbound[2].strip: 2 is longer than the prefix \"9\"; only the matched prefix may be cut",
                "a.toml:17: outbound[2].prepend: \"0-\" is not digits (with an optional leading +)",
                "b.toml:2: outbound[0].prefix: prefix 0 is already routed at a.toml:2",
            ]
        );
    }
}
