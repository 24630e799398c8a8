//! The YAML writer behind `yamlencode`, laid out byte for byte as Nomad's
//! (go-cty-yaml, a libyaml port) does: block style, every string and key
//! double-quoted except multi-line strings (literal `|` blocks), sequences in
//! mappings not indented, keys sorted, long double-quoted strings folded at
//! spaces past column 80, and `...` after a plain top-level scalar.

use hcl::{Map, Value};

/// Spaces per nesting level.
const INDENT: usize = 2;

/// Column past which double-quoted strings are folded at a space.
const BEST_WIDTH: usize = 80;

/// Encodes `v` as a YAML document.
pub(super) fn encode(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(o) if !o.is_empty() => mapping(&mut out, o, 0, false),
        Value::Array(a) if !a.is_empty() => sequence(&mut out, a, 0, false),
        Value::String(s) => string(&mut out, s, INDENT),
        other => {
            scalar(&mut out, other, INDENT);
            out.push_str("\n...");
        }
    }
    out.push('\n');
    out
}

/// Starts a new line indented to `indent`, unless the output is empty.
/// (No writer leaves a trailing line break behind.)
fn start_line(out: &mut String, indent: usize) {
    if !out.is_empty() {
        out.push('\n');
    }
    out.extend(std::iter::repeat_n(' ', indent));
}

/// The current column (characters since the last line break).
fn column(out: &str) -> usize {
    let line = out.rsplit('\n').next().unwrap_or(out);
    line.chars().count()
}

/// Writes the value after `key:` or `- `; `indent` is the indentation of the
/// key or dash.
fn node(out: &mut String, v: &Value, indent: usize, in_sequence: bool) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            if in_sequence {
                out.push(' ');
                mapping(out, o, indent + INDENT, true);
            } else {
                mapping(out, o, indent + INDENT, false);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            if in_sequence {
                out.push(' ');
                sequence(out, a, indent + INDENT, true);
            } else {
                // Sequences inside mappings are not indented.
                sequence(out, a, indent, false);
            }
        }
        other => {
            out.push(' ');
            scalar(out, other, indent + INDENT);
        }
    }
}

fn mapping(out: &mut String, o: &Map<String, Value>, indent: usize, inline_first: bool) {
    let mut keys: Vec<&String> = o.keys().collect();
    keys.sort();
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 || !inline_first {
            start_line(out, indent);
        }
        double_quoted(out, k, indent + INDENT, false);
        out.push(':');
        if let Some(v) = o.get(k) {
            node(out, v, indent, false);
        }
    }
}

fn sequence(out: &mut String, a: &[Value], indent: usize, inline_first: bool) {
    for (i, item) in a.iter().enumerate() {
        if i > 0 || !inline_first {
            start_line(out, indent);
        }
        out.push('-');
        node(out, item, indent, true);
    }
}

/// Writes a scalar or an empty collection; `indent` is where continuation
/// lines of a string go.
fn scalar(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&super::number_text(n)),
        Value::String(s) => string(out, s, indent),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// Whether libyaml counts `c` as printable.
fn printable(c: char) -> bool {
    matches!(c as u32,
        0x0A | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0x10000..=0x10FFFF)
        || (matches!(c as u32, 0xE000..=0xFFFD) && c != '\u{FEFF}')
}

/// Whether libyaml counts `c` as a line break.
fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A string: a literal block when it spans lines and a block is allowed,
/// double-quoted otherwise.
fn string(out: &mut String, s: &str, indent: usize) {
    let chars: Vec<char> = s.chars().collect();
    let multi_line = s.contains('\n');
    let special = chars.iter().any(|&c| !printable(c) || c == '\u{FEFF}');
    let space_break = chars.windows(2).any(|w| w[0] == ' ' && is_break(w[1]));
    let trailing_space = chars.last() == Some(&' ');
    if multi_line && !special && !space_break && !trailing_space {
        literal(out, &chars, indent);
    } else {
        double_quoted(out, s, indent, true);
    }
}

/// A `|` literal block.
fn literal(out: &mut String, chars: &[char], indent: usize) {
    out.push('|');
    if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
        out.push_str(&INDENT.to_string());
    }
    let n = chars.len();
    match chars.last() {
        Some(&c) if !is_break(c) => out.push('-'),
        Some(_) if n == 1 || is_break(chars[n - 2]) => out.push('+'),
        _ => {}
    }
    out.push('\n');
    let mut at_line_start = true;
    for &c in chars {
        if is_break(c) {
            out.push(c);
            at_line_start = true;
        } else {
            if at_line_start {
                out.extend(std::iter::repeat_n(' ', indent));
                at_line_start = false;
            }
            out.push(c);
        }
    }
    // The block's final break ends its last line; the caller writes that.
    if chars.last().is_some_and(|&c| is_break(c)) {
        out.pop();
    }
}

/// A double-quoted string; with `allow_breaks`, folded at spaces past
/// column 80 with continuation lines at `indent`.
fn double_quoted(out: &mut String, s: &str, indent: usize, allow_breaks: bool) {
    out.push('"');
    let chars: Vec<char> = s.chars().collect();
    let mut col = column(out);
    let mut spaces = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
            let esc = match c {
                '\0' => "\\0".to_string(),
                '\u{7}' => "\\a".to_string(),
                '\u{8}' => "\\b".to_string(),
                '\t' => "\\t".to_string(),
                '\n' => "\\n".to_string(),
                '\u{b}' => "\\v".to_string(),
                '\u{c}' => "\\f".to_string(),
                '\r' => "\\r".to_string(),
                '\u{1b}' => "\\e".to_string(),
                '"' => "\\\"".to_string(),
                '\\' => "\\\\".to_string(),
                '\u{85}' => "\\N".to_string(),
                '\u{a0}' => "\\_".to_string(),
                '\u{2028}' => "\\L".to_string(),
                '\u{2029}' => "\\P".to_string(),
                c if (c as u32) <= 0xFF => format!("\\x{:02X}", c as u32),
                c if (c as u32) <= 0xFFFF => format!("\\u{:04X}", c as u32),
                c => format!("\\U{:08X}", c as u32),
            };
            col += esc.len();
            out.push_str(&esc);
            spaces = false;
        } else if c == ' ' {
            if allow_breaks && !spaces && col > BEST_WIDTH && i != 0 && i != chars.len() - 1 {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', indent));
                col = indent;
                if chars.get(i + 1) == Some(&' ') {
                    out.push('\\');
                    col += 1;
                }
            } else {
                out.push(' ');
                col += 1;
            }
            spaces = true;
        } else {
            out.push(c);
            col += 1;
            spaces = false;
        }
        i += 1;
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::super::testutil::eval;
    use super::encode;

    fn enc(expr: &str) -> String {
        eval(expr).map(|v| encode(&v)).unwrap_or_else(|e| e)
    }

    #[test]
    fn layouts() {
        assert_eq!(enc(r#"{a = "b", c = "d"}"#), "\"a\": \"b\"\n\"c\": \"d\"\n");
        assert_eq!(
            enc(r#"{foo = [1, 2, 3], bar = "baz"}"#),
            "\"bar\": \"baz\"\n\"foo\":\n- 1\n- 2\n- 3\n"
        );
        assert_eq!(
            enc(r#"{foo = [1, {a = "b", c = "d"}, 3], bar = "baz"}"#),
            "\"bar\": \"baz\"\n\"foo\":\n- 1\n- \"a\": \"b\"\n  \"c\": \"d\"\n- 3\n"
        );
        assert_eq!(
            enc(r#"{a = {b = {c = 1}}, e = [], f = {}, g = null}"#),
            "\"a\":\n  \"b\":\n    \"c\": 1\n\"e\": []\n\"f\": {}\n\"g\": null\n"
        );
        assert_eq!(enc("[[1, 2], [3]]"), "- - 1\n  - 2\n- - 3\n");
        assert_eq!(enc("true"), "true\n...\n");
        assert_eq!(enc("null"), "null\n...\n");
        assert_eq!(enc("1.5"), "1.5\n...\n");
        assert_eq!(enc(r#""hello""#), "\"hello\"\n");
        assert_eq!(enc(r#""""#), "\"\"\n");
        assert_eq!(enc("{}"), "{}\n...\n");
        assert_eq!(enc("[]"), "[]\n...\n");
    }

    #[test]
    fn strings() {
        assert_eq!(enc(r#"{a = "x\ny"}"#), "\"a\": |-\n  x\n  y\n");
        assert_eq!(
            enc(r#"{a = "x\n\ny\n", b = 1}"#),
            "\"a\": |\n  x\n\n  y\n\"b\": 1\n"
        );
        assert_eq!(enc(r#"["x\n"]"#), "- |\n  x\n");
        assert_eq!(enc(r#"{a = "x \ny"}"#), "\"a\": \"x \\ny\"\n");
        assert_eq!(
            enc(r#"{a = "tab\there \"q\" é"}"#),
            "\"a\": \"tab\\there \\\"q\\\" é\"\n"
        );
        let long = "word ".repeat(30);
        let got = enc(&format!("{{a = {:?}}}", long.trim_end()));
        let first = got.lines().next().unwrap_or_default();
        assert!(first.len() > 80 && first.len() < 90, "{got}");
        assert!(
            got.lines().nth(1).unwrap_or_default().starts_with("  word"),
            "{got}"
        );
    }
}
