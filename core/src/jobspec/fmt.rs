//! Canonical formatting of HCL job files, as `nomad fmt` does it.
//!
//! `nomad fmt` is hclwrite's `Format`: a token-level formatter that only ever
//! changes the whitespace between tokens. This module follows the same model:
//!
//! 1. The source is split into tokens. Quoted strings and heredocs (including
//!    any `${…}` / `%{…}` sequences inside them) are single opaque tokens, so
//!    their bytes are never touched. Comments are tokens too; `#` and `//`
//!    comments own the newline that ends them.
//! 2. The tokens are grouped into lines, and each line into up to three
//!    cells: the *lead*, the *assign* cell (from an attribute's `=` to the
//!    end, when the value is a complete expression on that line) and a
//!    trailing line *comment*.
//! 3. Each line is indented by two spaces per open bracket level, counting
//!    net bracket changes per line like hclwrite does.
//! 4. Spaces between tokens inside a cell are set by hclwrite's pairwise
//!    rules (no space inside `()`/`[]`, one after `,`, spaces inside `{ }`,
//!    around binary operators, none after a unary `-` or `!`, …).
//! 5. The `=` of attributes on consecutive lines are aligned, then the
//!    trailing comments of consecutive lines are aligned.
//!
//! Before formatting, the input is checked: nesting deeper than
//! [`MAX_NESTING_DEPTH`] is refused without recursing, and the source must
//! parse. After formatting, the output is parsed again and compared with the
//! original, so a formatting mistake can never silently change a job.

use hcl_edit::parser::parse_body;

/// The deepest nesting of brackets, braces, parentheses, strings and template
/// sequences accepted by [`format()`].
pub const MAX_NESTING_DEPTH: usize = 256;

/// Spaces per indentation level.
const INDENT: u32 = 2;

/// Why a file could not be formatted (it does not parse): message plus 1-based
/// line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct FmtError {
    /// What is wrong.
    pub message: String,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
}

impl FmtError {
    fn at(src: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_column(src, offset);
        FmtError {
            message: message.into(),
            line,
            column,
        }
    }
}

/// Formats HCL source in canonical style. Comments, heredocs and string
/// contents are kept.
///
/// # Errors
///
/// Returns a [`FmtError`] when the source does not parse, nests deeper than
/// [`MAX_NESTING_DEPTH`], or (defensively) when the formatted text would not
/// parse to the same structure as the original.
pub fn format(src: &str) -> Result<String, FmtError> {
    if src.len() >= u32::MAX as usize {
        return Err(FmtError {
            message: "file too large to format (more than 4 GiB)".to_owned(),
            line: 1,
            column: 1,
        });
    }
    // The lexer is iterative and checks nesting depth, so it runs first: it
    // keeps absurdly deep input away from the recursive parser.
    let lexed = lex(src);
    if let Err(err) = &lexed
        && err.too_deep
    {
        return Err(FmtError::at(src, err.offset, err.message.clone()));
    }
    let original = parse(src)?;
    let mut tokens = lexed.map_err(|err| FmtError::at(src, err.offset, err.message))?;
    // Format as if the last line were terminated, so that a second run, which
    // sees the newline this one adds, lays the last line out the same way.
    let terminated;
    let src = if src.is_empty() || src.ends_with('\n') {
        src
    } else {
        terminated = format!("{src}\n");
        let end = terminated.len() as u32;
        match tokens.last_mut() {
            // A line comment owns the newline that ends it.
            Some(last)
                if last.kind == Kind::Comment
                    && !last.text(&terminated).starts_with("/*")
                    && last.end == end - 1 =>
            {
                last.end = end;
            }
            _ => tokens.push(Token {
                kind: Kind::Newline,
                start: end - 1,
                end,
                spaces: 0,
            }),
        }
        terminated.as_str()
    };
    let out = render(src, &mut tokens);
    match parse(&out) {
        Ok(formatted) if formatted == original => Ok(out),
        _ => Err(FmtError {
            message: "the file cannot be formatted without changing its meaning; left as is"
                .to_owned(),
            line: 1,
            column: 1,
        }),
    }
}

/// Parses `src` into a whitespace- and comment-insensitive structure.
fn parse(src: &str) -> Result<hcl::Body, FmtError> {
    match parse_body(src) {
        Ok(body) => Ok(hcl::Body::from(body)),
        Err(err) => Err(FmtError {
            message: err.message().to_owned(),
            line: err.location().line(),
            column: err.location().column(),
        }),
    }
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/// Token types, mirroring the ones hclwrite's rules distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `\n` or `\r\n`.
    Newline,
    /// `# …` or `// …` (with the newline that ends it, if any) or `/* … */`.
    Comment,
    Ident,
    Number,
    /// A whole quoted string or heredoc, kept byte for byte.
    Template,
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    Comma,
    Dot,
    Ellipsis,
    DoubleColon,
    /// `=`
    Equal,
    Colon,
    Question,
    /// `=>`
    FatArrow,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    /// `==`
    EqualOp,
    NotEqual,
    Less,
    LessEq,
    Greater,
    GreaterEq,
    And,
    Or,
    Bang,
    /// Anything else (only seen in input the parser rejects anyway).
    Other,
}

impl Kind {
    /// How the token changes bracket depth, as hclwrite counts it.
    fn bracket_change(self) -> i64 {
        match self {
            Kind::OBrace | Kind::OBrack | Kind::OParen => 1,
            Kind::CBrace | Kind::CBrack | Kind::CParen => -1,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: u32,
    end: u32,
    /// Spaces written before the token; computed by the formatter.
    spaces: u32,
}

impl Token {
    fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    /// Whether the token ends a line: a newline, or a line comment that owns
    /// its newline.
    fn ends_line(&self, src: &str) -> bool {
        match self.kind {
            Kind::Newline => true,
            Kind::Comment => self.text(src).ends_with('\n'),
            _ => false,
        }
    }
}

#[derive(Debug)]
struct LexError {
    offset: usize,
    message: String,
    /// Nesting too deep: reported without consulting the parser.
    too_deep: bool,
}

impl LexError {
    fn new(offset: usize, message: &str) -> Self {
        LexError {
            offset,
            message: message.to_owned(),
            too_deep: false,
        }
    }

    fn too_deep(offset: usize) -> Self {
        LexError {
            offset,
            message: format!("nesting too deep (more than {MAX_NESTING_DEPTH} levels)"),
            too_deep: true,
        }
    }
}

fn is_ident_start(b: u8) -> bool {
    // Non-ASCII bytes only occur outside strings and comments as part of
    // identifiers in input the parser accepts.
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b >= 0x80
}

/// Splits `src` into tokens (without whitespace).
fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let b = src.as_bytes();
    let mut tokens = Vec::with_capacity(src.len() / 6);
    let mut depth = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        let start = i;
        let next = b.get(i + 1).copied();
        let kind = match b[i] {
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            b'\r' if next == Some(b'\n') => {
                i += 2;
                Kind::Newline
            }
            b'\r' => {
                i += 1;
                continue;
            }
            b'\n' => {
                i += 1;
                Kind::Newline
            }
            b'#' => {
                i = line_comment_end(b, i);
                Kind::Comment
            }
            b'/' if next == Some(b'/') => {
                i = line_comment_end(b, i);
                Kind::Comment
            }
            b'/' if next == Some(b'*') => {
                i = block_comment_end(b, i)?;
                Kind::Comment
            }
            b'"' => {
                i = scan_template(b, i, depth)?;
                Kind::Template
            }
            b'<' if heredoc_intro(b, i).is_some() => {
                i = scan_template(b, i, depth)?;
                Kind::Template
            }
            b'0'..=b'9' => {
                i = number_end(b, i);
                Kind::Number
            }
            c if is_ident_start(c) => {
                i += 1;
                while i < b.len() && is_ident_continue(b[i]) {
                    i += 1;
                }
                Kind::Ident
            }
            c => {
                let (kind, len) = match (c, next) {
                    (b'{', _) => (Kind::OBrace, 1),
                    (b'}', _) => (Kind::CBrace, 1),
                    (b'[', _) => (Kind::OBrack, 1),
                    (b']', _) => (Kind::CBrack, 1),
                    (b'(', _) => (Kind::OParen, 1),
                    (b')', _) => (Kind::CParen, 1),
                    (b',', _) => (Kind::Comma, 1),
                    (b'.', Some(b'.')) if b.get(i + 2) == Some(&b'.') => (Kind::Ellipsis, 3),
                    (b'.', _) => (Kind::Dot, 1),
                    (b':', Some(b':')) => (Kind::DoubleColon, 2),
                    (b':', _) => (Kind::Colon, 1),
                    (b'=', Some(b'=')) => (Kind::EqualOp, 2),
                    (b'=', Some(b'>')) => (Kind::FatArrow, 2),
                    (b'=', _) => (Kind::Equal, 1),
                    (b'!', Some(b'=')) => (Kind::NotEqual, 2),
                    (b'!', _) => (Kind::Bang, 1),
                    (b'<', Some(b'=')) => (Kind::LessEq, 2),
                    (b'<', _) => (Kind::Less, 1),
                    (b'>', Some(b'=')) => (Kind::GreaterEq, 2),
                    (b'>', _) => (Kind::Greater, 1),
                    (b'&', Some(b'&')) => (Kind::And, 2),
                    (b'|', Some(b'|')) => (Kind::Or, 2),
                    (b'?', _) => (Kind::Question, 1),
                    (b'+', _) => (Kind::Plus, 1),
                    (b'-', _) => (Kind::Minus, 1),
                    (b'*', _) => (Kind::Star, 1),
                    (b'/', _) => (Kind::Slash, 1),
                    (b'%', _) => (Kind::Percent, 1),
                    _ => (Kind::Other, 1),
                };
                match kind.bracket_change() {
                    1 => {
                        depth += 1;
                        if depth > MAX_NESTING_DEPTH {
                            return Err(LexError::too_deep(i));
                        }
                    }
                    -1 => depth = depth.saturating_sub(1),
                    _ => {}
                }
                i += len;
                kind
            }
        };
        tokens.push(Token {
            kind,
            // The caller checked that the source fits in `u32`.
            start: start as u32,
            end: i as u32,
            spaces: 0,
        });
    }
    Ok(tokens)
}

/// End (exclusive) of the line comment starting at `i`, including its newline.
fn line_comment_end(b: &[u8], i: usize) -> usize {
    match b[i..].iter().position(|&c| c == b'\n') {
        Some(n) => i + n + 1,
        None => b.len(),
    }
}

/// End (exclusive) of the block comment starting at `i`.
fn block_comment_end(b: &[u8], i: usize) -> Result<usize, LexError> {
    b[i + 2..]
        .windows(2)
        .position(|w| w == b"*/")
        .map(|n| i + 2 + n + 2)
        .ok_or_else(|| LexError::new(i, "unterminated comment"))
}

/// End (exclusive) of the number literal starting at `i`: digits, an optional
/// fraction and an optional exponent.
fn number_end(b: &[u8], i: usize) -> usize {
    let digits = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let is_digit = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
    let mut j = digits(i);
    if b.get(j) == Some(&b'.') && is_digit(j + 1) {
        j = digits(j + 1);
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        if is_digit(j + 1) {
            j = digits(j + 1);
        } else if matches!(b.get(j + 1), Some(b'+' | b'-')) && is_digit(j + 2) {
            j = digits(j + 2);
        }
    }
    j
}

/// A heredoc introducer `<<ID` / `<<-ID` followed by a line ending at `i`:
/// returns the delimiter's byte range and where the body starts.
fn heredoc_intro(b: &[u8], i: usize) -> Option<(usize, usize, usize)> {
    if b.get(i..i + 2) != Some(b"<<") {
        return None;
    }
    let mut j = i + 2;
    if b.get(j) == Some(&b'-') {
        j += 1;
    }
    let delim_start = j;
    if !b.get(j).is_some_and(|&c| is_ident_start(c)) {
        return None;
    }
    while j < b.len() && is_ident_continue(b[j]) {
        j += 1;
    }
    let delim_end = j;
    match (b.get(j), b.get(j + 1)) {
        (Some(b'\n'), _) => Some((delim_start, delim_end, j + 1)),
        (Some(b'\r'), Some(b'\n')) => Some((delim_start, delim_end, j + 2)),
        _ => None,
    }
}

/// What the template scanner is inside of.
enum Frame {
    /// A quoted string.
    Quoted,
    /// A heredoc with the given delimiter; `line_start` is set at the start of
    /// each body line, where the closing delimiter may appear.
    Heredoc {
        delim: (usize, usize),
        line_start: bool,
    },
    /// A `${…}` or `%{…}` sequence with `braces` unclosed `{` and `others`
    /// unclosed `[` or `(` of its own.
    Sequence { braces: usize, others: usize },
}

/// End (exclusive) of the quoted string or heredoc starting at `start`, with
/// everything nested in it. Iterative, so deep nesting cannot overflow the
/// stack; `outer_depth` is the bracket depth around the template.
fn scan_template(b: &[u8], start: usize, outer_depth: usize) -> Result<usize, LexError> {
    let mut stack = Vec::new();
    let mut depth = outer_depth;
    let mut i = start;

    // Opens a string or heredoc at `i` if there is one; returns whether it did.
    let open =
        |stack: &mut Vec<Frame>, depth: &mut usize, i: &mut usize| -> Result<bool, LexError> {
            let opened = if b[*i] == b'"' {
                stack.push(Frame::Quoted);
                *i += 1;
                true
            } else if let Some((ds, de, body)) = heredoc_intro(b, *i) {
                stack.push(Frame::Heredoc {
                    delim: (ds, de),
                    line_start: true,
                });
                *i = body;
                true
            } else {
                false
            };
            if opened {
                *depth += 1;
                if *depth > MAX_NESTING_DEPTH {
                    return Err(LexError::too_deep(*i));
                }
            }
            Ok(opened)
        };
    // Handles `$${`, `%%{` (escapes) and `${`, `%{` (sequence starts) at `i`;
    // returns whether it consumed anything.
    let marker =
        |stack: &mut Vec<Frame>, depth: &mut usize, i: &mut usize| -> Result<bool, LexError> {
            let c = b[*i];
            if c != b'$' && c != b'%' {
                return Ok(false);
            }
            if b.get(*i + 1) == Some(&c) && b.get(*i + 2) == Some(&b'{') {
                *i += 3;
                return Ok(true);
            }
            if b.get(*i + 1) == Some(&b'{') {
                stack.push(Frame::Sequence {
                    braces: 0,
                    others: 0,
                });
                *depth += 1;
                if *depth > MAX_NESTING_DEPTH {
                    return Err(LexError::too_deep(*i));
                }
                *i += 2;
                return Ok(true);
            }
            Ok(false)
        };

    open(&mut stack, &mut depth, &mut i)?;
    while let Some(frame) = stack.last_mut() {
        match frame {
            Frame::Quoted => {
                let Some(&c) = b.get(i) else {
                    return Err(LexError::new(start, "unterminated string"));
                };
                match c {
                    b'"' => {
                        stack.pop();
                        depth -= 1;
                        i += 1;
                    }
                    b'\\' => i = (i + 2).min(b.len()),
                    _ => {
                        if !marker(&mut stack, &mut depth, &mut i)? {
                            i += 1;
                        }
                    }
                }
            }
            Frame::Heredoc { delim, line_start } => {
                if *line_start {
                    *line_start = false;
                    let mut j = i;
                    while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                        j += 1;
                    }
                    let (ds, de) = *delim;
                    let len = de - ds;
                    if b.get(j..j + len) == Some(&b[ds..de])
                        && !b.get(j + len).is_some_and(|&c| is_ident_continue(c))
                    {
                        stack.pop();
                        depth -= 1;
                        i = j + len;
                        continue;
                    }
                }
                let Some(&c) = b.get(i) else {
                    return Err(LexError::new(start, "unterminated heredoc"));
                };
                if c == b'\n' {
                    *line_start = true;
                    i += 1;
                } else if !marker(&mut stack, &mut depth, &mut i)? {
                    i += 1;
                }
            }
            Frame::Sequence { braces, others } => {
                let Some(&c) = b.get(i) else {
                    return Err(LexError::new(start, "unterminated template sequence"));
                };
                match c {
                    b'{' => {
                        *braces += 1;
                        depth += 1;
                        if depth > MAX_NESTING_DEPTH {
                            return Err(LexError::too_deep(i));
                        }
                        i += 1;
                    }
                    b'[' | b'(' => {
                        *others += 1;
                        depth += 1;
                        if depth > MAX_NESTING_DEPTH {
                            return Err(LexError::too_deep(i));
                        }
                        i += 1;
                    }
                    b']' | b')' => {
                        if *others > 0 {
                            *others -= 1;
                            depth -= 1;
                        }
                        i += 1;
                    }
                    b'}' => {
                        if *braces == 0 {
                            stack.pop();
                        } else {
                            *braces -= 1;
                        }
                        depth -= 1;
                        i += 1;
                    }
                    b'#' => i = line_comment_end(b, i),
                    b'/' if b.get(i + 1) == Some(&b'/') => i = line_comment_end(b, i),
                    b'/' if b.get(i + 1) == Some(&b'*') => i = block_comment_end(b, i)?,
                    _ => {
                        if !open(&mut stack, &mut depth, &mut i)? {
                            i += 1;
                        }
                    }
                }
            }
        }
    }
    Ok(i)
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

/// One line split into cells, as token index ranges: `lead` is
/// `start..assign`, the assign cell `assign..comment` (empty when absent) and
/// the comment cell `comment..end` (empty when absent).
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    assign: usize,
    comment: usize,
    end: usize,
}

impl Line {
    fn has_assign(&self) -> bool {
        self.assign < self.comment
    }

    fn has_comment(&self) -> bool {
        self.comment < self.end
    }
}

/// Formats the tokens and writes them out.
fn render(src: &str, tokens: &mut [Token]) -> String {
    let lines = split_lines(src, tokens);
    indent(&lines, tokens);
    space(src, &lines, tokens);
    align(src, &lines, tokens);

    let mut out = String::with_capacity(src.len() + src.len() / 8);
    for token in tokens.iter() {
        for _ in 0..token.spaces {
            out.push(' ');
        }
        let text = token.text(src);
        if token.kind == Kind::Comment && !text.starts_with("/*") {
            // Line comments lose trailing whitespace but keep their newline.
            let body = text.trim_end_matches(['\n', '\r']);
            out.push_str(body.trim_end_matches([' ', '\t']));
            out.push_str(&text[body.len()..]);
        } else {
            out.push_str(text);
        }
    }
    // Exactly one newline at the end (none for an empty file), in the style
    // of the file's first line ending.
    let content = out.trim_end_matches(['\n', '\r']).len();
    out.truncate(content);
    if !out.is_empty() {
        let crlf = src.find('\n').is_some_and(|i| src[..i].ends_with('\r'));
        out.push_str(if crlf { "\r\n" } else { "\n" });
    }
    out
}

/// Groups tokens into lines and each line into lead, assign and comment cells.
fn split_lines(src: &str, tokens: &[Token]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        if token.ends_line(src) {
            lines.push(cells(tokens, start, i + 1));
            start = i + 1;
        }
    }
    if start < tokens.len() {
        lines.push(cells(tokens, start, tokens.len()));
    }
    lines
}

fn cells(tokens: &[Token], start: usize, end: usize) -> Line {
    let mut line = Line {
        start,
        assign: end,
        comment: end,
        end,
    };
    // A trailing comment after other tokens is the comment cell.
    if end - start > 1 && tokens[end - 1].kind == Kind::Comment {
        line.assign = end - 1;
        line.comment = end - 1;
    }
    // The first `=` (not at the start) begins the assign cell, if the rest of
    // the line is bracket-balanced, i.e. the value ends on this line.
    if let Some(eq) = (start + 1..line.comment).find(|&i| tokens[i].kind == Kind::Equal) {
        let net: i64 = tokens[eq..line.comment]
            .iter()
            .map(|t| t.kind.bracket_change())
            .sum();
        if net == 0 {
            line.assign = eq;
        }
    }
    line
}

/// Indents each line by two spaces per bracket level. Like hclwrite, a line
/// with a net increase in open brackets opens one level (however many it
/// opened) and a net decrease closes levels back to where they were opened.
fn indent(lines: &[Line], tokens: &mut [Token]) {
    let mut levels: Vec<i64> = Vec::new();
    for line in lines {
        if line.start == line.end {
            continue;
        }
        if tokens[line.start].kind == Kind::Newline {
            tokens[line.start].spaces = 0;
            continue;
        }
        let net: i64 = tokens[line.start..line.comment]
            .iter()
            .map(|t| t.kind.bracket_change())
            .sum();
        let width = |levels: &Vec<i64>| INDENT.saturating_mul(levels.len() as u32);
        if net > 0 {
            tokens[line.start].spaces = width(&levels);
            levels.push(net);
        } else {
            let mut closed = -net;
            while closed > 0 {
                let Some(last) = levels.last_mut() else {
                    break;
                };
                if closed >= *last {
                    closed -= *last;
                    levels.pop();
                } else {
                    *last -= closed;
                    closed = 0;
                }
            }
            tokens[line.start].spaces = width(&levels);
        }
    }
}

/// Sets the spaces between the tokens of each cell.
fn space(src: &str, lines: &[Line], tokens: &mut [Token]) {
    for line in lines {
        space_cell(src, tokens, line.start, line.assign);
        if line.has_assign() {
            tokens[line.assign].spaces = 1;
            space_cell(src, tokens, line.assign, line.comment);
        }
    }
}

fn space_cell(src: &str, tokens: &mut [Token], start: usize, end: usize) {
    for i in start..end.saturating_sub(1) {
        let before = (i > start).then(|| tokens[i - 1]);
        let spaced = space_after(src, &tokens[i], before.as_ref(), &tokens[i + 1]);
        tokens[i + 1].spaces = u32::from(spaced);
    }
}

/// Whether `subject` is followed by a space when `before` precedes it (if
/// anything in its cell does) and `after` follows it: hclwrite's rules, in
/// hclwrite's order.
fn space_after(src: &str, subject: &Token, before: Option<&Token>, after: &Token) -> bool {
    use Kind::*;
    let (s, a) = (subject.kind, after.kind);
    match () {
        // Never spaces before a newline.
        _ if a == Newline => false,
        // A function name and its `(`.
        _ if s == Ident && a == OParen => false,
        // Namespaced function names.
        _ if (s == Ident && a == DoubleColon) || (s == DoubleColon && a == Ident) => false,
        // Attribute access.
        _ if s == Dot || a == Dot => false,
        _ if a == Comma || a == Ellipsis => false,
        _ if s == Comma => true,
        // `for x in [a, b]: …`: `in` is a keyword there, not a reference.
        _ if s == Ident && subject.text(src) == "in" && before.is_some_and(|t| t.kind == Ident) => {
            true
        }
        // Indexing.
        _ if a == OBrack && (s == Ident || s == Number || s.bracket_change() < 0) => false,
        // Unary `!`.
        _ if s == Bang => false,
        // `-` is negation unless what precedes it can end an operand.
        _ if s == Minus => !matches!(
            before.map(|t| t.kind),
            None | Some(
                OParen
                    | OBrace
                    | OBrack
                    | Equal
                    | Colon
                    | Comma
                    | Question
                    | Plus
                    | Star
                    | Slash
                    | Percent
                    | Minus
                    | EqualOp
                    | NotEqual
                    | Greater
                    | GreaterEq
                    | Less
                    | LessEq
                    | And
                    | Or
                    | Bang
            )
        ),
        // Braces are padded, `{}` excepted.
        _ if s == OBrace || a == CBrace => !(s == OBrace && a == CBrace),
        // Nothing just inside other brackets.
        _ if s.bracket_change() > 0 => false,
        _ if a.bracket_change() < 0 => false,
        _ => true,
    }
}

/// Display width of a token sequence, spaces included.
fn columns(src: &str, tokens: &[Token]) -> usize {
    tokens
        .iter()
        .map(|t| t.spaces as usize + graphemes(t.text(src)))
        .sum()
}

/// Approximate number of user-perceived characters in `text`, as hclwrite
/// counts columns: combining marks, variation selectors, emoji modifiers,
/// zero-width-joiner sequences and flag pairs do not add a column.
fn graphemes(text: &str) -> usize {
    if text.is_ascii() {
        return text.len();
    }
    let mut count = 0;
    let mut after_joiner = false;
    let mut open_flag = false;
    for c in text.chars() {
        let cp = u32::from(c);
        let regional = (0x1F1E6..=0x1F1FF).contains(&cp);
        let extends = after_joiner
            || (regional && open_flag)
            || matches!(
                cp,
                0x0300..=0x036F
                    | 0x1AB0..=0x1AFF
                    | 0x1DC0..=0x1DFF
                    | 0x200D
                    | 0x20D0..=0x20FF
                    | 0xFE00..=0xFE0F
                    | 0xFE20..=0xFE2F
                    | 0x1F3FB..=0x1F3FF
                    | 0xE0020..=0xE007F
                    | 0xE0100..=0xE01EF
            );
        if !extends {
            count += 1;
        }
        open_flag = regional && !open_flag;
        after_joiner = cp == 0x200D;
    }
    count
}

/// Aligns the `=` of attributes on consecutive lines, then the trailing
/// comments of consecutive lines.
fn align(src: &str, lines: &[Line], tokens: &mut [Token]) {
    align_cells(src, lines, tokens, Line::has_assign, |l| l.assign);
    align_cells(src, lines, tokens, Line::has_comment, |l| l.comment);
}

/// Pads the cell that starts at `cell(line)` so that it begins in the same
/// column on every line of each run of consecutive lines that `has` it.
fn align_cells(
    src: &str,
    lines: &[Line],
    tokens: &mut [Token],
    has: fn(&Line) -> bool,
    cell: fn(&Line) -> usize,
) {
    let mut run_start = 0;
    while run_start < lines.len() {
        if !has(&lines[run_start]) {
            run_start += 1;
            continue;
        }
        let run_end = (run_start..lines.len())
            .find(|&i| !has(&lines[i]))
            .unwrap_or(lines.len());
        let run = &lines[run_start..run_end];
        let widest = run
            .iter()
            .map(|l| columns(src, &tokens[l.start..cell(l)]))
            .max()
            .unwrap_or(0);
        for l in run {
            let width = columns(src, &tokens[l.start..cell(l)]);
            tokens[cell(l)].spaces = to_u32(widest - width + 1);
        }
        run_start = run_end;
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(src: &str) -> String {
        match format(src) {
            Ok(out) => out,
            Err(err) => panic!("format failed: {err}\n--- input ---\n{src}"),
        }
    }

    #[test]
    fn reindents_blocks_and_normalises_spacing() {
        let src = "  job    \"a\"   {\ngroup \"g\"{\n      count=1\n   }\n}\n";
        assert_eq!(
            fmt(src),
            "job \"a\" {\n  group \"g\" {\n    count = 1\n  }\n}\n"
        );
    }

    #[test]
    fn aligns_consecutive_attributes() {
        let src = "a = 1\nlonger = 2\nmid=3\n";
        assert_eq!(fmt(src), "a      = 1\nlonger = 2\nmid    = 3\n");
    }

    #[test]
    fn alignment_runs_break_on_blank_lines_blocks_comments_and_multiline_values() {
        let src = "\
a = 1
bb = 2

ccc = 3
d = 4
# note
eeeee = 5
f = 6
blk {
}
gg = 7
h = [
  1,
]
iiii = 8
";
        let want = "\
a  = 1
bb = 2

ccc = 3
d   = 4
# note
eeeee = 5
f     = 6
blk {
}
gg = 7
h = [
  1,
]
iiii = 8
";
        assert_eq!(fmt(src), want);
    }

    #[test]
    fn aligns_trailing_comments() {
        let src = "a = 1 # one\nlonger = \"x\" // two\n";
        assert_eq!(fmt(src), "a      = 1   # one\nlonger = \"x\" // two\n");
    }

    #[test]
    fn alignment_counts_characters_not_bytes() {
        let src = "\u{1d49c} = 1 # foo\nbungle = \"\u{1f1ec}\u{1f1e7}\" # baz\nzebra = \"striped\" # baz\n";
        let want = "\u{1d49c}      = 1         # foo\nbungle = \"\u{1f1ec}\u{1f1e7}\"       # baz\nzebra  = \"striped\" # baz\n";
        assert_eq!(fmt(src), want);
        assert_eq!(
            graphemes("e\u{301}\u{1f44d}\u{1f3fd}\u{1f468}\u{200d}\u{1f469}"),
            3
        );
    }

    #[test]
    fn line_comments_lose_trailing_whitespace() {
        assert_eq!(
            fmt("# a  \t\nb = 1 // c \n/* d  */  \n"),
            "# a\nb = 1 // c\n/* d  */\n"
        );
    }

    #[test]
    fn comment_runs_span_lines_without_assignments() {
        let src = "a = 1 # foo\nbungle = (\n    \"bonce\"\n) # baz\nzebra = \"striped\" # baz\n";
        let want = "a = 1 # foo\nbungle = (\n  \"bonce\"\n)                 # baz\nzebra = \"striped\" # baz\n";
        assert_eq!(fmt(src), want);

        let src =
            "a=\"apple\"# foo\nbungle=(# woo parens\n\"bonce\"\n)# baz\nzebra=\"striped\"# baz\n";
        let want = "a = \"apple\" # foo\nbungle = (  # woo parens\n  \"bonce\"\n)                 # baz\nzebra = \"striped\" # baz\n";
        assert_eq!(fmt(src), want);

        let src = "foo {} # here we go\na = 1 # foo\nbungle = \"bonce\" # baz\n";
        let want =
            "foo {}           # here we go\na      = 1       # foo\nbungle = \"bonce\" # baz\n";
        assert_eq!(fmt(src), want);
    }

    #[test]
    fn indentation_follows_net_brackets_per_line() {
        assert_eq!(
            fmt("x = [[\n[\na\n]]\n]\n"),
            "x = [[\n  [\n    a\n  ]]\n]\n"
        );
        assert_eq!(
            fmt("x = foo(\n1,\n- 2,\na*b,\n)\n"),
            "x = foo(\n  1,\n  -2,\n  a * b,\n)\n"
        );
    }

    #[test]
    fn keeps_comments_in_place() {
        let src = "# head\n\n/* block\n   comment */\njob \"x\" {\n        # inside\n  a = 1 /* mid */ # end\n// tail\n}\n";
        let want = "# head\n\n/* block\n   comment */\njob \"x\" {\n  # inside\n  a = 1 /* mid */ # end\n  // tail\n}\n";
        assert_eq!(fmt(src), want);
    }

    #[test]
    fn heredoc_untouched() {
        let src = "task \"t\" {\n    template {\n  data = <<EOF\n   keep   this  \n{{ range service \"x\" }}${  foo  }{{ end }}\n  EOF\n      }\n  x   = <<-EOT\n      indented\n    EOT\n}\n";
        let want = "task \"t\" {\n  template {\n    data = <<EOF\n   keep   this  \n{{ range service \"x\" }}${  foo  }{{ end }}\n  EOF\n  }\n  x = <<-EOT\n      indented\n    EOT\n}\n";
        assert_eq!(fmt(src), want);
    }

    #[test]
    fn heredoc_attribute_joins_alignment_run() {
        let src = "a = 1\ncontent = <<EOF\nx\nEOF\nb = 2\n";
        assert_eq!(
            fmt(src),
            "a       = 1\ncontent = <<EOF\nx\nEOF\nb       = 2\n"
        );
    }

    #[test]
    fn nested_objects_and_lists() {
        let src = "x = {\na = [ 1,2 ,3 ]\n  bb = {c=1}\nempty={}\nl = [  ]\n}\n";
        let want =
            "x = {\n  a     = [1, 2, 3]\n  bb    = { c = 1 }\n  empty = {}\n  l     = []\n}\n";
        assert_eq!(fmt(src), want);

        let src = "y = [\n{\nname = \"a\"\n},\n  {name=\"b\"},\n]\n";
        let want = "y = [\n  {\n    name = \"a\"\n  },\n  { name = \"b\" },\n]\n";
        assert_eq!(fmt(src), want);
    }

    #[test]
    fn unary_and_binary_operators() {
        let src = "a = -1\nb = 1-2\nc = !x\nd = x*2+y/3%4\ne = (-x)\nf = a==b&&c!=d||e<=f\ng = [-1, - 2]\nh = a-b\n";
        let want = "a = -1\nb = 1 - 2\nc = !x\nd = x * 2 + y / 3 % 4\ne = (-x)\nf = a == b && c != d || e <= f\ng = [-1, -2]\nh = a-b\n";
        assert_eq!(fmt(src), want);
    }

    #[test]
    fn negation_after_operators_and_separators() {
        let src = "a = ( x+-2 )\nb = foo(1, -2,x*-y, b,c)\nc = x? -1 : -2\nd = {k=-1}\n";
        let want = "a = (x + -2)\nb = foo(1, -2, x * -y, b, c)\nc = x ? -1 : -2\nd = { k = -1 }\n";
        assert_eq!(fmt(src), want);
    }

    #[test]
    fn conditional() {
        assert_eq!(fmt("a = x>1?\"y\":\"z\"\n"), "a = x > 1 ? \"y\" : \"z\"\n");
    }

    #[test]
    fn for_expressions() {
        let src = "a = [for s in var.list : upper(s) if s!=\"\"]\nb = {for k,v in m: k=>v...}\nc = [for x in [1,2]: x]\n";
        let want = "a = [for s in var.list : upper(s) if s != \"\"]\nb = { for k, v in m : k => v... }\nc = [for x in [1, 2] : x]\n";
        assert_eq!(fmt(src), want);
    }

    #[test]
    fn traversals_calls_and_splats() {
        let src = "a = foo . bar [ 0 ] . baz\nb = f( x , y... )\nc = l[*] . id\nd = l.*.id\ne = m [\"k\"]\n";
        let want = "a = foo.bar[0].baz\nb = f(x, y...)\nc = l[*].id\nd = l.*.id\ne = m[\"k\"]\n";
        assert_eq!(fmt(src), want);
        let src = "a=b()[c]\nb=[\"hello\"][0]\nc = {a=1}[\"a\"]\n";
        let want = "a = b()[c]\nb = [\"hello\"][0]\nc = { a = 1 }[\"a\"]\n";
        assert_eq!(fmt(src), want);
    }

    #[test]
    fn templates_untouched() {
        let src = "a = \"${  var.x  }   and %{ if true }yes%{ else }no%{ endif }\"\nb = \"esc $${x} \\\" %%{y}\"\nc = \"${ {a=1}.a }\"\n";
        assert_eq!(fmt(src), src);
    }

    #[test]
    fn trailing_whitespace_and_final_newline() {
        assert_eq!(fmt("a = 1   \n\n\n"), "a = 1\n");
        assert_eq!(fmt("a = 1"), "a = 1\n");
        assert_eq!(fmt("a = 1\t\r\nb = 2\r\n\r\n"), "a = 1\r\nb = 2\r\n");
        assert_eq!(fmt("a = 1\t\r\nb = 2"), "a = 1\r\nb = 2\r\n");
    }

    #[test]
    fn blank_lines_are_kept() {
        let src = "a = 1\n\n\n\nb = 2\n";
        assert_eq!(fmt(src), src);
    }

    #[test]
    fn one_line_blocks() {
        assert_eq!(fmt("a {b=1}\nc {}\n"), "a { b = 1 }\nc {}\n");
    }

    #[test]
    fn empty_input() {
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n  \n"), "");
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = format("a = \"unterminated\n").err();
        assert!(err.is_some());
        let err = format("a {\n  b = 1\n").err();
        assert_eq!(err.as_ref().map(|e| e.line), Some(2), "{err:?}");
        let shown = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(shown.starts_with("2:9: "), "{shown}");
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let src = "a { ".repeat(10_000) + &"}".repeat(10_000);
        let err = format(&src).err();
        assert_eq!(err.as_ref().map(|e| (e.line, e.column)), Some((1, 1027)));
        let src = format!("x = {}", "[".repeat(10_000));
        assert!(format(&src).is_err());
        let src = format!("x = \"{}\"", "${\"".repeat(10_000));
        assert!(format(&src).is_err());
        let src = format!("x = \"${{{}\"", "[(".repeat(5_000));
        let err = format(&src).err();
        assert_eq!(err.map(|e| (e.line, e.column)), Some((1, 262)));
    }

    #[test]
    fn unterminated_last_line_formats_like_a_terminated_one() {
        let src = "aaaaa = 1 # x\nb = 22222222 /* y */";
        let once = fmt(src);
        assert_eq!(once, "aaaaa = 1 # x\nb     = 22222222 /* y */\n");
        assert_eq!(fmt(&once), once);
        let src = "aaaa = 1 # x\nb = 22222 # y";
        let once = fmt(src);
        assert_eq!(once, "aaaa = 1     # x\nb    = 22222 # y\n");
        assert_eq!(fmt(&once), once);
    }

    #[test]
    fn idempotent_on_samples() {
        let src =
            "a = 1 # c\nlonger = { x = [1, 2], y = \"z\" } # d\n\nblock \"l\" {\n  k = v\n}\n";
        let once = fmt(src);
        assert_eq!(fmt(&once), once);
    }
}
