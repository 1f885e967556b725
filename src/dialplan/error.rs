//! Problems found in dialplan files, each pointing at a file, line and key path.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialplanProblem {
    pub file: PathBuf,
    /// 1-based; `None` when the file could not be read.
    pub line: Option<usize>,
    /// 1-based; only syntax and type errors know the column.
    pub column: Option<usize>,
    /// Key path such as `routes[0].ring`; empty when no key applies.
    pub key: String,
    pub reason: String,
}

impl fmt::Display for DialplanProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Every problem across all dialplan files, so one edit round fixes them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", lines(.problems))]
pub struct DialplanError {
    pub problems: Vec<DialplanProblem>,
}

fn lines(problems: &[DialplanProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
