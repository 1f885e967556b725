//! `[api]`: where the HTTP API listens and the bearer token it asks for.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

use super::ApiError;
use crate::checks::Issue;

/// Shorter bearer tokens are refused: they are guessable.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Longer ones are refused too: a header is not a place for a file's worth of text.
pub const MAX_TOKEN_CHARS: usize = 512;

/// The default listen address: loopback only, so the API is not on the network unless the
/// operator says so.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9070);

/// The API always asks for a bearer token, on loopback too: anyone with a shell on the host
/// could otherwise place calls in the hotline's name. Give the token in a file (`token_file`,
/// readable by the daemon and the operators who run `hotline survey ...`) or, for tests and
/// throwaway setups, inline (`token`). Exactly one of the two.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Where the API listens; port 0 picks a free port (tests read it back).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The bearer token itself.
    #[serde(default)]
    pub token: Option<String>,
    /// A file holding the bearer token; surrounding whitespace (a trailing newline) is ignored.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
}

/// Never prints the token: settings are logged and printed by `hotline check`.
impl fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiSettings")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .finish()
    }
}

impl ApiSettings {
    /// Every problem that can be seen without reading files; `key` is the table's path
    /// (`"api"`). The token file itself is checked by [`ApiSettings::token`].
    pub fn validate(&self, key: &str) -> Vec<Issue> {
        let mut issues = Vec::new();
        match (&self.token, &self.token_file) {
            (None, None) => issues.push(Issue {
                key: format!("{key}.token_file"),
                reason: "the API needs a bearer token: set token_file (or token)".into(),
            }),
            (Some(_), Some(_)) => issues.push(Issue {
                key: format!("{key}.token"),
                reason: format!("set one of {key}.token and {key}.token_file, not both"),
            }),
            (Some(token), None) => {
                if let Err(reason) = check_token(token) {
                    issues.push(Issue {
                        key: format!("{key}.token"),
                        reason,
                    });
                }
            }
            (None, Some(path)) => {
                if path.as_os_str().is_empty() {
                    issues.push(Issue {
                        key: format!("{key}.token_file"),
                        reason: "must not be empty".into(),
                    });
                }
            }
        }
        issues
    }

    /// The bearer token, read from `token_file` when one is given. `hotline check` calls this
    /// too, so an unreadable or short token file is found before the daemon starts.
    pub fn token(&self) -> Result<String, ApiError> {
        match (&self.token, &self.token_file) {
            (Some(token), None) => {
                check_token(token).map_err(|reason| ApiError::Token { reason })?;
                Ok(token.clone())
            }
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|source| ApiError::TokenFile {
                    path: path.clone(),
                    source,
                })?;
                let token = text.trim();
                check_token(token).map_err(|reason| ApiError::TokenFileContents {
                    path: path.clone(),
                    reason,
                })?;
                Ok(token.to_owned())
            }
            (None, None) => Err(ApiError::Token {
                reason: "no token: set token_file (or token)".into(),
            }),
            (Some(_), Some(_)) => Err(ApiError::Token {
                reason: "both token and token_file are set".into(),
            }),
        }
    }
}

impl Default for ApiSettings {
    /// Loopback on the default port and no token, which [`ApiSettings::validate`] refuses.
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            token: None,
            token_file: None,
        }
    }
}

/// A token must be long enough not to be guessed and fit in an `Authorization` header as
/// it is (RFC 6750 `b64token` characters are a subset of visible ASCII).
fn check_token(token: &str) -> Result<(), String> {
    let chars = token.chars().count();
    if chars < MIN_TOKEN_CHARS {
        return Err(format!(
            "the token is {chars} characters; it needs at least {MIN_TOKEN_CHARS}"
        ));
    }
    if chars > MAX_TOKEN_CHARS {
        return Err(format!(
            "the token is {chars} characters; at most {MAX_TOKEN_CHARS}"
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the token may hold only visible ASCII characters (no spaces)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ApiSettings, toml::de::Error> {
        toml::from_str(text)
    }

    fn keys(issues: &[Issue]) -> Vec<&str> {
        issues.iter().map(|i| i.key.as_str()).collect()
    }

    #[test]
    fn defaults_to_loopback_and_needs_a_token() {
        let settings = parse("").expect("empty table");
        assert_eq!(settings.listen, "127.0.0.1:9070".parse().unwrap());
        assert_eq!(keys(&settings.validate("api")), ["api.token_file"]);
        assert!(settings.token().is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = parse("listen = \"127.0.0.1:1\"\ntokn = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("tokn"), "{err}");
    }

    #[test]
    fn inline_token_is_checked() {
        let ok = parse("token = \"0123456789abcdef\"").unwrap();
        assert!(ok.validate("api").is_empty());
        assert_eq!(ok.token().unwrap(), "0123456789abcdef");

        let short = parse("token = \"0123456789abcde\"").unwrap();
        let issues = short.validate("api");
        assert_eq!(keys(&issues), ["api.token"]);
        assert!(issues[0].reason.contains("at least 16"), "{issues:?}");
        assert!(short.token().is_err());

        let spaced = parse("token = \"0123456789 abcdefgh\"").unwrap();
        assert_eq!(keys(&spaced.validate("api")), ["api.token"]);
    }

    #[test]
    fn token_and_token_file_together_are_refused() {
        let both = parse("token = \"0123456789abcdef\"\ntoken_file = \"/x\"").unwrap();
        assert_eq!(keys(&both.validate("api")), ["api.token"]);
        assert!(both.token().is_err());
    }

    #[test]
    fn token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.token");
        std::fs::write(&path, "s3cret-s3cret-s3cret\n").unwrap();
        let settings = ApiSettings {
            token_file: Some(path.clone()),
            ..ApiSettings::default()
        };
        assert!(settings.validate("api").is_empty());
        assert_eq!(settings.token().unwrap(), "s3cret-s3cret-s3cret");

        std::fs::write(&path, "short\n").unwrap();
        let err = settings.token().unwrap_err();
        assert!(matches!(err, ApiError::TokenFileContents { .. }), "{err}");
        assert!(!err.to_string().contains("short"), "{err}");

        let missing = ApiSettings {
            token_file: Some(dir.path().join("missing")),
            ..ApiSettings::default()
        };
        assert!(matches!(missing.token(), Err(ApiError::TokenFile { .. })));
    }

    #[test]
    fn debug_redacts_the_token() {
        let settings = parse("token = \"do-not-print-me-please\"").unwrap();
        let shown = format!("{settings:?}");
        assert!(!shown.contains("do-not-print-me-please"), "{shown}");
    }
}
