//! Diagnostics: what went wrong in a job file, where, and how to fix it.
//!
//! Every error or warning the jobspec front end produces carries the file name,
//! the 1-based line and column, and the offending source line, so that its
//! rendering points a person at the exact spot:
//!
//! ```text
//! error: Unsupported argument "nterval"; did you mean "interval"?
//!   --> web.nomad.hcl:12:9
//!    |
//! 12 |         nterval = "10s"
//!    |         ^^^^^^^
//! ```

use std::fmt;
use std::ops::Range;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The job cannot be produced.
    Error,
    /// The job is produced, but something in the file is ignored or suspicious.
    Warning,
}

/// A place in a source file, resolved to what a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file name as the user gave it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The whole source line, without its line break.
    pub source_line: String,
    /// How many characters to underline from `column` (at least 1).
    pub width: usize,
}

/// One error or warning about a job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One line saying what is wrong.
    pub message: String,
    /// Where, when the problem has a place in a file (a missing `-var-file` has none).
    pub position: Option<Position>,
}

impl Diagnostic {
    /// An error with no place in a file.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            position: None,
        }
    }

    /// A warning with no place in a file.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            position: None,
        }
    }

    /// Attaches a position.
    pub fn at(mut self, position: Position) -> Self {
        self.position = Some(position);
        self
    }

    /// `file:line:col`, or the empty string when the diagnostic has no place.
    pub fn location(&self) -> String {
        match &self.position {
            Some(p) => format!("{}:{}:{}", p.file, p.line, p.column),
            None => String::new(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: {}", self.message)?;
        if let Some(p) = &self.position {
            let gutter = p.line.to_string().len();
            let pad = " ".repeat(gutter);
            // Tabs would misalign the caret: show them as single spaces.
            let shown: String = p
                .source_line
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .collect();
            let line_chars = shown.chars().count();
            let width = p
                .width
                .max(1)
                .min(line_chars.saturating_sub(p.column - 1).max(1));
            write!(
                f,
                "\n{pad}--> {}:{}:{}\n{pad} |\n{} | {}\n{pad} | {}{}",
                p.file,
                p.line,
                p.column,
                p.line,
                shown,
                " ".repeat(p.column.saturating_sub(1)),
                "^".repeat(width)
            )?;
        }
        Ok(())
    }
}

/// All the diagnostics of one failed parse: every error found, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Only the errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.severity == Severity::Error)
    }

    /// Whether any of them is an error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A source file and the index that turns byte offsets into lines and columns.
#[derive(Debug, Clone)]
pub struct SourceMap<'a> {
    /// The file name used in diagnostics.
    pub file: &'a str,
    /// The whole text.
    pub text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    /// Indexes `text`.
    pub fn new(file: &'a str, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        SourceMap {
            file,
            text,
            line_starts,
        }
    }

    /// The position of a byte range (the range's start; its width is clipped to one line).
    pub fn position(&self, span: Range<usize>) -> Position {
        let start = span.start.min(self.text.len());
        let line_idx = match self.line_starts.binary_search(&start) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = self.line_starts[line_idx];
        let line_end = self
            .line_starts
            .get(line_idx + 1)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        let line = self.text.get(line_start..line_end).unwrap_or("");
        let line = line.strip_suffix('\r').unwrap_or(line);
        let column = self
            .text
            .get(line_start..start)
            .map(|s| s.chars().count())
            .unwrap_or(0)
            + 1;
        let end = span.end.clamp(start, line_end);
        let width = self
            .text
            .get(start..end)
            .map(|s| s.chars().count())
            .unwrap_or(1);
        Position {
            file: self.file.to_string(),
            line: line_idx + 1,
            column,
            source_line: line.to_string(),
            width: width.max(1),
        }
    }

    /// The position of a 1-based line and column (as parsers report them).
    pub fn line_col(&self, line: usize, column: usize) -> Position {
        let line_idx = line.saturating_sub(1).min(self.line_starts.len() - 1);
        let start = self.line_starts[line_idx];
        let offset = self
            .text
            .get(start..)
            .and_then(|rest| rest.char_indices().nth(column.saturating_sub(1)))
            .map(|(i, _)| start + i)
            .unwrap_or(start);
        self.position(offset..offset + 1)
    }

    /// The text of a byte range, or "" when the range is not on character boundaries.
    pub fn slice(&self, span: Range<usize>) -> &'a str {
        self.text.get(span).unwrap_or("")
    }
}

/// The closest candidate to `name`, when one is close enough to be a likely typo.
pub fn did_you_mean<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let map = SourceMap::new("a.hcl", "job \"x\" {\n  é = 1\n}\n");
        let p = map.position(12..14);
        assert_eq!((p.line, p.column), (2, 3));
        assert_eq!(p.source_line, "  é = 1");
        let p = map.line_col(3, 1);
        assert_eq!((p.line, p.column, p.source_line.as_str()), (3, 1, "}"));
    }

    #[test]
    fn rendering_shows_the_line_and_a_caret() {
        let map = SourceMap::new("web.hcl", "job \"w\" {\n  nterval = 1\n}");
        let d = Diagnostic::error("Unsupported argument \"nterval\"").at(map.position(12..19));
        let text = d.to_string();
        assert!(text.contains("--> web.hcl:2:3"), "{text}");
        assert!(text.contains("2 |   nterval = 1"), "{text}");
        assert!(text.contains("  |   ^^^^^^^"), "{text}");
    }

    #[test]
    fn suggestions_only_for_close_names() {
        let names = ["interval", "timeout", "path"];
        assert_eq!(did_you_mean("nterval", names), Some("interval"));
        assert_eq!(did_you_mean("zzz", names), None);
    }
}
