//! Every problem found while loading the configuration, each pointing at where to fix it.

use std::fmt;
use std::path::PathBuf;

/// Where a setting came from: a line in a file, or an environment variable that overrides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(var) => write!(f, "{var}"),
        }
    }
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file (or environment variable) to fix.
    pub file: Origin,
    /// 1-based; `None` for environment variables and for files that could not be read.
    pub line: Option<usize>,
    /// 1-based; only syntax and type errors know the column.
    pub column: Option<usize>,
    /// Dotted key path such as `sip.udp` or `seats[1].user`; empty when no key applies.
    pub key: String,
    pub reason: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
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

/// All the problems at once, so that an operator fixes a file in one round instead of many.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", lines(.problems))]
pub struct ConfigErrors {
    pub problems: Vec<ConfigProblem>,
}

impl ConfigErrors {
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }
}

fn lines(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_per_problem() {
        let errors = ConfigErrors {
            problems: vec![
                ConfigProblem {
                    file: Origin::File("config/hotline.toml".into()),
                    line: Some(12),
                    column: Some(1),
                    key: "sip.udpp".into(),
                    reason: "unknown field `udpp`".into(),
                },
                ConfigProblem {
                    file: Origin::Env("HOTLINE__SIP__REALM".into()),
                    line: None,
                    column: None,
                    key: "sip.realm".into(),
                    reason: "must not be empty".into(),
                },
            ],
        };
        assert_eq!(
            errors.to_string(),
            "config/hotline.toml:12:1: sip.udpp: unknown field `udpp`\n\
             HOTLINE__SIP__REALM: sip.realm: must not be empty"
        );
    }
}
