//! Text tables and CSV fields shared by the reports.

use unicode_width::UnicodeWidthStr;

/// Rows lined up in a terminal: the first `left` columns flush left, the rest flush right, two
/// spaces between columns, trailing blanks trimmed. Widths are terminal columns, so Chinese
/// names (two columns a character) line up too.
pub fn aligned(rows: &[Vec<String>], left: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, &w))| {
                let pad = " ".repeat(w.saturating_sub(cell.width()));
                if i < left {
                    format!("{cell}{pad}")
                } else {
                    format!("{pad}{cell}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn chinese_names_take_two_columns_a_character() {
        let rows = [
            row(&["unit", "name", "score"]),
            row(&["2001", "区住房和城乡建设局", "30"]),
            row(&["3001", "和平街道办事处", "40"]),
        ];
        let text = aligned(&rows, 2);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "unit  name                score");
        assert_eq!(lines[1], "2001  区住房和城乡建设局     30");
        assert_eq!(lines[2], "3001  和平街道办事处         40");
        let widths: Vec<usize> = lines.iter().map(|l| l.width()).collect();
        assert_eq!(widths, [31, 31, 31]);
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("和平街道"), "和平街道");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
