//! The YAML reader behind `yamldecode`, resolving plain scalars as Nomad's
//! (go-cty-yaml) does, with YAML 1.1 words: `yes`/`no`/`on`/`off`/`y`/`n`
//! are bools, `~` and `Null` are null, `1_000` is a number, and unquoted
//! timestamps become RFC 3339 strings. Quoted and block scalars are always
//! strings. Anchors, aliases and `<<` merge keys work; the number of nodes
//! built (aliases counted as expanded) is bounded by [`MAX_ELEMENTS`].

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat};
use hcl::{Map, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use super::{MAX_ELEMENTS, number_text, parse_number};

const F: &str = "yamldecode";

/// Collections nest at most this deep.
const MAX_DEPTH: usize = 512;

/// A collection being built.
enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        entries: Map<String, Value>,
        /// The key whose value comes next, with whether it was a plain `<<`.
        key: Option<(String, bool)>,
        anchor: usize,
    },
}

/// A decoder's state: open collections, anchors, and the finished root.
struct Builder {
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Value>,
    nodes: usize,
    root: Option<Value>,
    /// Whether the next scalar is a plain `<<` (a merge key).
    next_is_merge: bool,
}

/// Decodes one YAML document into a value; an empty document is null.
pub(super) fn decode(src: &str) -> Result<Value, String> {
    let mut parser = Parser::new_from_str(src);
    let mut b = Builder {
        stack: Vec::new(),
        anchors: std::collections::HashMap::new(),
        nodes: 0,
        root: None,
        next_is_merge: false,
    };
    let mut documents = 0usize;
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| format!("{F}: invalid YAML: {e}"))?;
        let at = || format!("line {}, column {}", mark.line(), mark.col() + 1);
        match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(format!(
                        "{F}: only one YAML document is supported, found another at {}",
                        at()
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let merge = style == TScalarStyle::Plain && tag.is_none() && text == "<<";
                let v =
                    resolve(&text, style, tag.as_ref()).map_err(|e| format!("{e} at {}", at()))?;
                b.next_is_merge = merge;
                b.add(v, anchor)?;
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "seq")?;
                b.open(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                })?;
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "map")?;
                b.open(Frame::Map {
                    entries: Map::new(),
                    key: None,
                    anchor,
                })?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (v, anchor) = match b.stack.pop() {
                    Some(Frame::Seq { items, anchor }) => (Value::Array(items), anchor),
                    Some(Frame::Map {
                        entries, anchor, ..
                    }) => (Value::Object(entries), anchor),
                    None => return Err(format!("{F}: unbalanced YAML at {}", at())),
                };
                b.add(v, anchor)?;
            }
            Event::Alias(id) => {
                let v = b
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| format!("{F}: unknown alias at {}", at()))?;
                b.nodes = b.nodes.saturating_add(count_nodes(&v));
                b.add(v, 0)?;
            }
        }
    }
    Ok(b.root.unwrap_or(Value::Null))
}

impl Builder {
    fn open(&mut self, frame: Frame) -> Result<(), String> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!(
                "{F}: collections nested more than {MAX_DEPTH} deep"
            ));
        }
        // A collection cannot be a mapping key.
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            return Err(format!(
                "{F}: mapping keys must be scalars, not collections"
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Places a finished node into the collection being built (or as root).
    fn add(&mut self, v: Value, anchor: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(1);
        if self.nodes > MAX_ELEMENTS {
            return Err(format!(
                "{F}: document has more than {MAX_ELEMENTS} nodes (aliases counted expanded)"
            ));
        }
        if anchor != 0 {
            self.anchors.insert(anchor, v.clone());
        }
        let merge = std::mem::take(&mut self.next_is_merge);
        match self.stack.last_mut() {
            None => self.root = Some(v),
            Some(Frame::Seq { items, .. }) => items.push(v),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some((key_text(&v)?, merge)),
                Some((_, true)) => merge_into(entries, v)?,
                Some((k, false)) => {
                    entries.insert(k, v);
                }
            },
        }
        Ok(())
    }
}

/// A mapping key as a string.
fn key_text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(number_text(n)),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err(format!("{F}: mapping keys must not be null")),
        _ => Err(format!(
            "{F}: mapping keys must be scalars, not collections"
        )),
    }
}

/// Applies a `<<` merge key: entries of the merged mapping(s) that the
/// mapping does not set itself.
fn merge_into(entries: &mut Map<String, Value>, v: Value) -> Result<(), String> {
    let sources = match v {
        Value::Object(o) => vec![o],
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(o) => Ok(o),
                _ => Err(format!("{F}: a << merge list must hold only mappings")),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(format!(
                "{F}: a << merge value must be a mapping or list of mappings"
            ));
        }
    };
    for source in sources {
        for (k, v) in source {
            entries.entry(k).or_insert(v);
        }
    }
    Ok(())
}

/// The number of nodes in a value.
fn count_nodes(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(count_nodes).sum::<usize>(),
        Value::Object(o) => 1 + o.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

/// The suffix of a standard `!!` tag, or the whole tag otherwise.
fn tag_name(tag: &Tag) -> String {
    if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// Collections may only carry their own standard tag.
fn check_collection_tag(tag: Option<&Tag>, kind: &str) -> Result<(), String> {
    match tag.map(tag_name) {
        None => Ok(()),
        Some(t) if t == format!("!!{kind}") || t == "!" => Ok(()),
        Some(t) => Err(format!("{F}: unsupported tag {t:?}")),
    }
}

/// Resolves a scalar to a value.
fn resolve(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let tag = tag.map(tag_name);
    match tag.as_deref() {
        None if style == TScalarStyle::Plain => Ok(resolve_plain(text)?),
        None | Some("!" | "!!str") => Ok(text.into()),
        Some("!!binary") => {
            use base64::Engine;
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(&compact)
                .map_err(|_| format!("{F}: cannot parse {text:?} as !!binary: not valid base64"))?;
            Ok(text.into())
        }
        Some("!!bool") => match resolve_word(text) {
            Some(Value::Bool(b)) => Ok(b.into()),
            _ => Err(format!("{F}: cannot parse {text:?} as !!bool")),
        },
        Some("!!null") => Ok(Value::Null),
        Some("!!int" | "!!float") => resolve_number(text).ok_or_else(|| {
            format!(
                "{F}: cannot parse {text:?} as {}",
                tag.as_deref().unwrap_or("")
            )
        }),
        Some("!!timestamp") => timestamp(text)
            .map(Value::from)
            .ok_or_else(|| format!("{F}: cannot parse {text:?} as !!timestamp")),
        Some(other) => Err(format!("{F}: unsupported tag {other:?}")),
    }
}

/// The YAML 1.1 words for bools and null.
fn resolve_word(text: &str) -> Option<Value> {
    Some(match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Value::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        _ => return None,
    })
}

/// A plain scalar: a bool or null word, a number, a timestamp, or a string.
fn resolve_plain(text: &str) -> Result<Value, String> {
    if let Some(v) = resolve_word(text) {
        return Ok(v);
    }
    let lower = text.to_ascii_lowercase();
    if matches!(lower.as_str(), ".inf" | "+.inf" | "-.inf" | ".nan") {
        return Err(format!("{F}: {text} cannot be represented as a number"));
    }
    match text.as_bytes().first() {
        Some(b'0'..=b'9' | b'+' | b'-') => {
            if let Some(t) = timestamp(text) {
                return Ok(t.into());
            }
            Ok(resolve_number(text).unwrap_or_else(|| text.into()))
        }
        Some(b'.') => Ok(parse_number(text).map_or_else(|| text.into(), Value::Number)),
        _ => Ok(text.into()),
    }
}

/// A decimal number (underscores allowed) or a `0b` binary integer.
fn resolve_number(text: &str) -> Option<Value> {
    let plain = text.replace('_', "");
    if let Some(n) = parse_number(&plain) {
        return Some(Value::Number(n));
    }
    let (negative, digits) = match plain.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, plain.strip_prefix('+').unwrap_or(&plain)),
    };
    let bits = digits.strip_prefix("0b")?;
    let magnitude = u64::from_str_radix(bits, 2).ok()?;
    if negative {
        let m = i64::try_from(magnitude).ok()?;
        Some(Value::from(-m))
    } else {
        Some(Value::from(magnitude))
    }
}

/// An unquoted YAML timestamp as RFC 3339 (keeping its offset; UTC when it
/// has none).
fn timestamp(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    if bytes.len() < 5 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return None;
    }
    let normalized = text.replacen('t', "T", 1);
    let with_offset = match normalized.strip_suffix(['Z', 'z']) {
        Some(rest) => format!("{rest}+00:00"),
        None => normalized.clone(),
    };
    if let Ok(t) = DateTime::parse_from_str(&with_offset, "%Y-%m-%dT%H:%M:%S%.f%:z") {
        return Some(t.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(t.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(
            d.and_hms_opt(0, 0, 0)?
                .and_utc()
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::testutil::eval;
    use super::decode;

    #[track_caller]
    fn same(yaml: &str, hcl: &str) {
        assert_eq!(decode(yaml), eval(hcl), "decoding {yaml:?}");
    }

    #[track_caller]
    fn fails(yaml: &str, needle: &str) {
        match decode(yaml) {
            Ok(v) => panic!("{yaml:?} decoded to {v:?}"),
            Err(e) => assert!(e.contains(needle), "{yaml:?}: {e}"),
        }
    }

    #[test]
    fn scalars_resolve_like_nomad() {
        same(
            "a: yes\nb: Off\nc: y\nd: ~\ne: Null\nf: 'yes'\n",
            r#"{a = true, b = false, c = true, d = null, e = null, f = "yes"}"#,
        );
        same(
            "a: 1_000\nb: -0b101\nc: 017\nd: 0x1F\ne: .5\nf: 1e3\ng: \"12\"\n",
            r#"{a = 1000, b = -5, c = 17, d = "0x1F", e = 0.5, f = 1000, g = "12"}"#,
        );
        same(
            "a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\nc: 2001-12-14 21:59:43\n",
            r#"{a = "2001-12-14T00:00:00Z", b = "2001-12-14T21:59:43-05:00", c = "2001-12-14T21:59:43Z"}"#,
        );
        same(
            "a: !!str 12\nb: !!int \"12\"\nc: !!bool \"on\"\nd: !!null x\n",
            r#"{a = "12", b = 12, c = true, d = null}"#,
        );
        same(
            "a: |\n  x\n  y\nb: plain text\n",
            r#"{a = "x\ny\n", b = "plain text"}"#,
        );
        same("", "null");
        same("- 1\n- [2, {k: v}]\n", r#"[1, [2, {k = "v"}]]"#);
        same("1: a\ntrue: b\n", r#"{"1" = "a", "true" = "b"}"#);
    }

    #[test]
    fn anchors_and_merges() {
        same(
            "base: &b {p: 1, q: 2}\nother:\n  <<: *b\n  q: 3\nlist: [*b]\n",
            "{base = {p = 1, q = 2}, other = {p = 1, q = 3}, list = [{p = 1, q = 2}]}",
        );
        same("a: &s hi\nb: *s\n", r#"{a = "hi", b = "hi"}"#);
    }

    #[test]
    fn bad_documents() {
        fails("a: [", "invalid YAML");
        fails("a: 1\n---\nb: 2\n", "only one YAML document");
        fails("? [1]\n: 2\n", "mapping keys");
        fails("a: .inf\n", "cannot be represented");
        fails("a: !!int x\n", "cannot parse");
        fails("a: !custom x\n", "unsupported tag");
        fails("a: *nope\n", "invalid YAML");
        fails(&"[".repeat(600), "");
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
        fails(bomb, "more than");
    }
}
