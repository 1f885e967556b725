//! Key paths and line numbers for TOML text.
//!
//! serde forgets where a value was written, so problems found after deserializing look their key
//! path up here, and span-carrying parse errors are turned back into key paths and lines.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

struct Entry {
    path: String,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
}

/// Where every key and value of one TOML text sits.
pub(crate) struct TomlMap {
    entries: Vec<Entry>,
    line_starts: Vec<usize>,
    text: String,
}

impl TomlMap {
    /// A text that does not parse gives a map without entries; its syntax error is reported by
    /// whoever deserializes it, and lines can still be computed from offsets.
    pub(crate) fn new(text: &str) -> Self {
        let mut entries = Vec::new();
        if let Ok(doc) = ImDocument::parse(text) {
            walk_table("", doc.as_table(), &mut entries);
        }
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            entries,
            line_starts,
            text: text.to_string(),
        }
    }

    /// 1-based line and column (in characters, as an editor counts them) of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line, column + 1)
    }

    /// The line of `path`, or of its nearest ancestor written in the text when the value itself
    /// is a default (pointing at `[sip]` beats pointing nowhere).
    pub(crate) fn line_of(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(entry) = self.entries.iter().find(|e| e.path == path) {
                let span = entry.key.as_ref().or(entry.value.as_ref())?;
                return Some(self.line_col(span.start).0);
            }
            path = parent(path)?;
        }
    }

    /// The most specific key path whose key or value covers `offset`.
    pub(crate) fn path_at(&self, offset: usize) -> Option<&str> {
        self.entries
            .iter()
            .filter_map(|entry| {
                [&entry.key, &entry.value]
                    .into_iter()
                    .flatten()
                    .filter(|span| span.contains(&offset) || span.start == offset)
                    .map(|span| (span.len(), usize::MAX - entry.path.len(), entry))
                    .min_by_key(|(len, depth, _)| (*len, *depth))
            })
            .min_by_key(|(len, depth, _)| (*len, *depth))
            .map(|(_, _, entry)| entry.path.as_str())
    }
}

/// Where a `toml` error points: line, column and the key path under it.
pub(crate) struct ErrorSite {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub key: String,
}

impl TomlMap {
    /// Turns the byte span a `toml` error carries into a line, column and key path.
    pub(crate) fn site(&self, span: Option<Range<usize>>) -> ErrorSite {
        match span {
            Some(span) => {
                let (line, column) = self.line_col(span.start);
                ErrorSite {
                    line: Some(line),
                    column: Some(column),
                    key: self.path_at(span.start).unwrap_or_default().to_string(),
                }
            }
            None => ErrorSite {
                line: None,
                column: None,
                key: String::new(),
            },
        }
    }
}

fn parent(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk_table(prefix: &str, table: &Table, out: &mut Vec<Entry>) {
    for (key, item) in table.iter() {
        let path = join(prefix, key);
        out.push(Entry {
            path: path.clone(),
            key: table.key(key).and_then(|k| k.span()),
            value: item.span(),
        });
        walk_item(&path, item, out);
    }
}

fn walk_item(path: &str, item: &Item, out: &mut Vec<Entry>) {
    match item {
        Item::Table(table) => walk_table(path, table, out),
        Item::ArrayOfTables(array) => {
            for (i, table) in array.iter().enumerate() {
                let path = format!("{path}[{i}]");
                out.push(Entry {
                    path: path.clone(),
                    key: None,
                    value: table.span(),
                });
                walk_table(&path, table, out);
            }
        }
        Item::Value(value) => walk_value(path, value, out),
        Item::None => {}
    }
}

fn walk_value(path: &str, value: &Value, out: &mut Vec<Entry>) {
    match value {
        Value::Array(array) => {
            for (i, element) in array.iter().enumerate() {
                let path = format!("{path}[{i}]");
                out.push(Entry {
                    path: path.clone(),
                    key: None,
                    value: element.span(),
                });
                walk_value(&path, element, out);
            }
        }
        Value::InlineTable(table) => {
            for (key, element) in table.iter() {
                let path = join(path, key);
                out.push(Entry {
                    path: path.clone(),
                    key: table.key(key).and_then(|k| k.span()),
                    value: element.span(),
                });
                walk_value(&path, element, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# comment
[sip]
udp = \"127.0.0.1:5060\"
realm = \"x\"

[[seats]]
user = \"1001\"

[[seats]]
user = \"1002\"
opts = { a = [1, 2] }
";

    #[test]
    fn lines_of_paths() {
        let map = TomlMap::new(TEXT);
        assert_eq!(map.line_of("sip"), Some(2));
        assert_eq!(map.line_of("sip.realm"), Some(4));
        assert_eq!(map.line_of("seats[0]"), Some(6));
        assert_eq!(map.line_of("seats[1].user"), Some(10));
        assert_eq!(map.line_of("seats[1].opts.a[1]"), Some(11));
        assert_eq!(
            map.line_of("sip.max_calls"),
            Some(2),
            "falls back to the table"
        );
        assert_eq!(map.line_of("rtp.port_min"), None);
    }

    #[test]
    fn paths_at_offsets() {
        let map = TomlMap::new(TEXT);
        let at = |needle: &str| map.path_at(TEXT.find(needle).unwrap());
        assert_eq!(at("realm"), Some("sip.realm"));
        assert_eq!(at("\"x\""), Some("sip.realm"));
        assert_eq!(at("\"1002\""), Some("seats[1].user"));
        assert_eq!(at("2]"), Some("seats[1].opts.a[1]"));
    }

    #[test]
    fn line_and_column() {
        let map = TomlMap::new(TEXT);
        assert_eq!(map.line_col(0), (1, 1));
        assert_eq!(map.line_col(TEXT.find("udp").unwrap()), (3, 1));
        assert_eq!(map.line_col(TEXT.find("5060").unwrap()), (3, 18));
    }
}
