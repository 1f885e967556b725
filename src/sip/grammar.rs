//! Character classes and small scanners of the SIP grammar (RFC 3261 §25.1).

/// `token` characters: the method, header names, parameter names and most values.
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// Splits a header value at commas that are outside quotes and angle brackets.
pub fn split_commas(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth_angle = false;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '<' => depth_angle = true,
            '>' => depth_angle = false,
            ',' if !depth_angle => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts
}

/// Parses `;name[=value]` parameters. An empty parameter (`;;`) is an error, since
/// RFC 4475 §3.1.2.1 shows it as a malformed message.
pub fn parse_params(s: &str) -> Result<Vec<(String, Option<String>)>, &'static str> {
    let mut params = Vec::new();
    let s = s.trim();
    if s.is_empty() {
        return Ok(params);
    }
    let Some(rest) = s.strip_prefix(';') else {
        return Err("parameters must start with ';'");
    };
    for raw in split_outside_quotes(rest, ';') {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("empty parameter");
        }
        match raw.split_once('=') {
            Some((name, value)) => {
                let name = name.trim();
                let value = value.trim();
                if !is_token(name) {
                    return Err("bad parameter name");
                }
                let value = if let Some(quoted) = value.strip_prefix('"') {
                    let Some(inner) = quoted.strip_suffix('"') else {
                        return Err("unbalanced quotes in parameter");
                    };
                    inner.to_string()
                } else {
                    if value.is_empty()
                        || value
                            .chars()
                            .any(|c| c.is_whitespace() || c.is_control() || "\"<>,;".contains(c))
                    {
                        return Err("bad parameter value");
                    }
                    value.to_string()
                };
                params.push((name.to_ascii_lowercase(), Some(value)));
            }
            None => {
                if !is_token(raw) {
                    return Err("bad parameter name");
                }
                params.push((raw.to_ascii_lowercase(), None));
            }
        }
    }
    Ok(params)
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut in_quotes = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + sep.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

pub fn param<'a>(params: &'a [(String, Option<String>)], name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_inside_quotes_and_brackets_do_not_split() {
        let parts = split_commas(r#""Bell, A" <sip:a@b;x=1,2>, <sip:c@d>"#);
        assert_eq!(parts, vec![r#""Bell, A" <sip:a@b;x=1,2>"#, "<sip:c@d>"]);
    }

    #[test]
    fn params_parse_and_refuse_empty_ones() {
        let p = parse_params(";branch=z9hG4bK1;rport; received = 10.0.0.1").unwrap();
        assert_eq!(param(&p, "branch"), Some(Some("z9hG4bK1")));
        assert_eq!(param(&p, "rport"), Some(None));
        assert_eq!(param(&p, "received"), Some(Some("10.0.0.1")));
        assert!(parse_params(";;").is_err());
        assert!(parse_params(";a=\"x").is_err());
    }
}
