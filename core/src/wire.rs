//! A strict, incremental scanner of the HTTP/1 request stream (RFC 9112).
//!
//! Every engine parses differently — hyper lets `Transfer-Encoding` silently
//! win over `Content-Length`, accepts a bare LF as a line end, and answers
//! `HTTP/2.0` with 400; async-h1 is laxer still. So the bytes a client sends
//! pass through this scanner first (in the backends' IO wrappers, and as
//! rwsgi-h1's own front end): it follows the stream head → body → head,
//! checks each head's syntax, the request limits and the framing rules, and
//! stops the stream at the first byte that breaks them, with the
//! [`RequestError`] the [table](crate::request_error) answers. What it
//! accepts, every engine then parses the same way.
//!
//! It keeps no copy of the stream: a few counters, and the value of
//! `Transfer-Encoding` while a head is being read.

use crate::request_error::RequestError;
use crate::server::Config;

/// The limits the scanner enforces (the `limit_request_*` fields of
/// [`Config`]; 0 means no limit).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest request line, CRLF excluded.
    pub line: usize,
    /// Most header fields.
    pub fields: usize,
    /// Longest header field line, CRLF included (gunicorn's measure).
    pub field_size: usize,
    /// Longest head, request line to the empty line.
    pub head: usize,
}

impl From<&Config> for Limits {
    fn from(config: &Config) -> Self {
        Limits {
            line: config.limit_request_line,
            fields: config.limit_request_fields,
            field_size: config.limit_request_field_size,
            head: config.limit_request_head,
        }
    }
}

/// What the scanner found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A head ended (at the returned offset, just past its empty line). A
    /// request without a body is complete here.
    HeadEnd,
    /// Body data: `len` bytes starting `at` bytes into the slice scanned,
    /// framing (chunk sizes, CRLFs) excluded. `last`: a `Content-Length`
    /// body ends with it.
    Data {
        /// Where the data starts in the slice given to `scan`.
        at: usize,
        /// How many bytes of data.
        len: usize,
        /// Whether the body ends here.
        last: bool,
    },
    /// A chunked body ended (after its trailers); the next byte starts a new
    /// head.
    BodyEnd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// Empty lines before a request line (RFC 9112 §2.2 lets a server skip them).
    Leading,
    Method,
    Target,
    Version,
    /// CR seen at the end of the request line.
    LineCr,
    /// At the start of a header line (or the final empty line).
    FieldStart,
    Name,
    Value,
    /// CR seen at the end of a header line.
    FieldCr,
    /// CR seen on the empty line that ends the head.
    HeadCr,
    Body,
    ChunkSize,
    ChunkSizeSpace,
    ChunkExt,
    ChunkExtQuoted,
    ChunkExtEscape,
    ChunkSizeCr,
    ChunkData,
    ChunkDataCr,
    ChunkDataLf,
    /// Reading trailer fields after the last chunk.
    Trailer,
    /// After a request that closes the connection: nothing more is read.
    Closed,
}

const KNOWN_CODINGS: [&[u8]; 7] = [
    b"chunked",
    b"gzip",
    b"x-gzip",
    b"deflate",
    b"compress",
    b"x-compress",
    b"identity",
];

/// Header names refused as chunked trailers: the fields that frame or
/// route a message (RFC 9110 §6.5.1), which a trailer must never be able
/// to change after the fact. (Other fields RFC 9110 keeps out of trailers,
/// such as Content-Type, are only ever merged by nobody: rwsgi drops
/// trailers, as gunicorn does.)
const FORBIDDEN_TRAILERS: [&[u8]; 5] = [
    b"content-length",
    b"transfer-encoding",
    b"trailer",
    b"host",
    b"te",
];

/// The start of a header name, lower-cased: enough to tell whether it is one
/// of the fields the scanner must read ([`TRACKED`]).
#[derive(Clone, Copy, Debug, Default)]
struct NameMatch {
    len: usize,
    lower: [u8; LONGEST_TRACKED],
}

/// The longest name in [`TRACKED`] (`transfer-encoding`).
const LONGEST_TRACKED: usize = 17;

const TRACKED: [&[u8]; 11] = [
    b"content-length",
    b"transfer-encoding",
    b"trailer",
    b"host",
    b"content-type",
    b"content-encoding",
    b"content-range",
    b"authorization",
    b"expect",
    b"te",
    b"connection",
];

impl NameMatch {
    fn start() -> Self {
        NameMatch::default()
    }

    fn push(&mut self, b: u8) {
        if self.len < LONGEST_TRACKED {
            self.lower[self.len] = b.to_ascii_lowercase();
        }
        self.len += 1;
    }

    /// The tracked name this is.
    fn exact(&self) -> Option<usize> {
        let name = self.lower.get(..self.len)?;
        TRACKED.iter().position(|t| *t == name)
    }
}

const CONTENT_LENGTH: usize = 0;
const TRANSFER_ENCODING: usize = 1;
const CONNECTION: usize = 10;

/// The scanner. Feed it the request stream with [`scan`](Self::scan).
#[derive(Debug)]
pub struct RequestScanner {
    limits: Limits,
    part: Part,
    /// Bytes of the current line (request line or field), CRLF excluded.
    line: usize,
    /// Bytes of the current head.
    head: usize,
    fields: usize,
    /// The version's bytes (`HTTP/1.1` is 8); a longer one is malformed.
    version: [u8; 8],
    version_len: usize,
    version_overflow: bool,
    http10: bool,
    name: NameMatch,
    /// Which tracked field the current one is, decided at its ':'.
    field: Option<usize>,
    /// Content-Length fields seen, and the value of the last one.
    lengths: u8,
    length: Option<u64>,
    /// Digits of the current Content-Length value; `Err` once malformed.
    length_value: Result<Option<u64>, ()>,
    value_ended: bool,
    /// The joined `Transfer-Encoding` values of the current head.
    codings: Vec<u8>,
    in_coding: bool,
    remaining: u64,
    chunk_line: usize,
    /// UTF-8 continuation bytes still due in the target, and the range the
    /// next one must fall in.
    utf8: (u8, u8, u8),
    /// The `Connection` token being read, and the tokens seen.
    token: TokenMatch,
    conn_close: bool,
    conn_keep_alive: bool,
    /// The current request asks to close the connection after it.
    closing: bool,
}

/// Which of `close` and `keep-alive` a `Connection` token is, byte by byte.
#[derive(Clone, Copy, Debug)]
struct TokenMatch {
    len: usize,
    close: bool,
    keep_alive: bool,
}

impl TokenMatch {
    const START: TokenMatch = TokenMatch {
        len: 0,
        close: true,
        keep_alive: true,
    };

    fn push(&mut self, b: u8) {
        let b = b.to_ascii_lowercase();
        self.close &= b"close".get(self.len) == Some(&b);
        self.keep_alive &= b"keep-alive".get(self.len) == Some(&b);
        self.len += 1;
    }
}

/// The longest chunk-size line (size and extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;

impl RequestScanner {
    /// A scanner at the start of a connection.
    pub fn new(limits: Limits) -> Self {
        RequestScanner {
            limits,
            part: Part::Leading,
            line: 0,
            head: 0,
            fields: 0,
            version: [0; 8],
            version_len: 0,
            version_overflow: false,
            http10: false,
            name: NameMatch::start(),
            field: None,
            lengths: 0,
            length: None,
            length_value: Ok(None),
            value_ended: false,
            codings: Vec::new(),
            in_coding: false,
            remaining: 0,
            chunk_line: 0,
            utf8: (0, 0x80, 0xbf),
            token: TokenMatch::START,
            conn_close: false,
            conn_keep_alive: false,
            closing: false,
        }
    }

    /// Whether a request that closes the connection has ended: no byte after
    /// it is ever a request (RFC 9112 §9.6), so the stream is over.
    pub fn is_closed(&self) -> bool {
        self.part == Part::Closed
    }

    /// Whether the scanner is between messages (no head or body started).
    pub fn at_message_start(&self) -> bool {
        self.part == Part::Leading
    }

    /// Whether the scanner is inside a head.
    pub fn in_head(&self) -> bool {
        !self.at_message_start() && !self.in_body()
    }

    fn in_body(&self) -> bool {
        matches!(
            self.part,
            Part::Body
                | Part::ChunkSize
                | Part::ChunkSizeSpace
                | Part::ChunkExt
                | Part::ChunkExtQuoted
                | Part::ChunkExtEscape
                | Part::ChunkSizeCr
                | Part::ChunkData
                | Part::ChunkDataCr
                | Part::ChunkDataLf
                | Part::Trailer
        ) || self.in_trailers()
    }

    /// Scans `bytes`, the next part of the stream. Returns how many bytes
    /// were consumed and what was found at that point, if anything:
    /// scanning stops after a head ends, after each run of body data, and
    /// after a chunked body ends, so the caller can act there. `Err` gives
    /// the offset of the offending byte (the bytes before it are fine) and
    /// what is wrong.
    pub fn scan(&mut self, bytes: &[u8]) -> Result<(usize, Option<Event>), (usize, RequestError)> {
        let mut i = 0;
        while i < bytes.len() && self.part != Part::Closed {
            // Body bytes of a known length are passed over in one step.
            if self.part == Part::Body || self.part == Part::ChunkData {
                let len = (bytes.len() - i).min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                let at = i;
                i += len;
                self.remaining -= len as u64;
                let mut last = false;
                if self.remaining == 0 {
                    if self.part == Part::Body {
                        self.end_message();
                        last = true;
                    } else {
                        self.part = Part::ChunkDataCr;
                    }
                }
                return Ok((i, Some(Event::Data { at, len, last })));
            }
            // Runs of plain bytes in a target or an untracked field value are
            // counted in one step; only their limits matter.
            let run = self.plain_run(&bytes[i..]);
            if run > 0 {
                self.grow_run(run).map_err(|(at, err)| (i + at, err))?;
                i += run;
                continue;
            }
            let b = bytes[i];
            match self.step(b) {
                Ok(None) => i += 1,
                Ok(Some(event)) => return Ok((i + 1, Some(event))),
                Err(err) => return Err((i, err)),
            }
        }
        Ok((i, None))
    }

    /// A message ended: ready for the next head, unless it closes.
    fn end_message(&mut self) {
        let closing = self.closing;
        let limits = self.limits;
        let codings = std::mem::take(&mut self.codings);
        *self = RequestScanner::new(limits);
        self.codings = codings;
        self.codings.clear();
        if closing {
            self.part = Part::Closed;
        }
    }

    fn step(&mut self, b: u8) -> Result<Option<Event>, RequestError> {
        use RequestError::*;
        if self.in_head() || (self.part == Part::Leading && b != b'\r' && b != b'\n') {
            self.head += 1;
            if self.limits.head != 0 && self.head > self.limits.head {
                return Err(HeadTooLarge);
            }
        }
        match self.part {
            Part::Leading => match b {
                b'\r' | b'\n' => {}
                _ if is_tchar(b) => {
                    self.part = Part::Method;
                    self.line = 1;
                }
                _ => return Err(BadRequestLine("the method is not a token")),
            },
            Part::Method => {
                self.grow_line()?;
                match b {
                    b' ' => self.part = Part::Target,
                    _ if is_tchar(b) => {}
                    _ => return Err(BadRequestLine("the method is not a token")),
                }
            }
            Part::Target => {
                self.grow_line()?;
                match b {
                    b' ' if self.utf8.0 != 0 => return Err(BadRequestLine("the target is not valid UTF-8")),
                    b' ' => self.part = Part::Version,
                    0x80.. => self.target_utf8(b)?,
                    _ if self.utf8.0 != 0 => return Err(BadRequestLine("the target is not valid UTF-8")),
                    // RFC 3986 excludes these; hyper refuses them, so every
                    // engine does.
                    b'"' | b'<' | b'>' | b'`' => {
                        return Err(BadRequestLine("the target has a character URIs exclude"));
                    }
                    _ if b > b' ' && b != 0x7f => {}
                    _ => return Err(BadRequestLine("the target has a space or a control character")),
                }
            }
            Part::Version => match b {
                b'\r' => self.part = Part::LineCr,
                b'\n' => return Err(BadRequestLine("the request line ends in a bare LF")),
                _ => {
                    self.grow_line()?;
                    if self.version_len < self.version.len() {
                        self.version[self.version_len] = b;
                        self.version_len += 1;
                    } else {
                        self.version_overflow = true;
                    }
                }
            },
            Part::LineCr => {
                if b != b'\n' {
                    return Err(BadRequestLine("CR without LF in the request line"));
                }
                self.check_version()?;
                self.part = Part::FieldStart;
                self.line = 0;
            }
            Part::FieldStart => match b {
                b'\r' => self.part = Part::HeadCr,
                b'\n' => return Err(BadHeader("a bare LF ends the head")),
                b' ' | b'\t' => return Err(BadHeader("obsolete line folding")),
                _ if is_tchar(b) => {
                    self.part = Part::Name;
                    self.line = 1;
                    self.name = NameMatch::start();
                    self.name.push(b);
                }
                _ => return Err(BadHeader("a field name is not a token")),
            },
            Part::Name => {
                self.grow_field()?;
                match b {
                    b':' => self.start_value()?,
                    _ if is_tchar(b) => self.name.push(b),
                    b' ' | b'\t' => return Err(BadHeader("whitespace before ':'")),
                    _ => return Err(BadHeader("a field name is not a token")),
                }
            }
            Part::Value => match b {
                b'\r' => self.part = Part::FieldCr,
                b'\n' => return Err(BadHeader("a bare LF inside a field")),
                _ if b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80 => {
                    self.grow_field()?;
                    self.value_byte(b)?;
                }
                _ => return Err(BadHeader("a control character in a field value")),
            },
            Part::FieldCr => {
                if b != b'\n' {
                    return Err(BadHeader("CR without LF in a field"));
                }
                self.end_field()?;
                self.part = if self.remaining == u64::MAX {
                    Part::Trailer
                } else {
                    Part::FieldStart
                };
                self.line = 0;
            }
            Part::HeadCr => {
                if b != b'\n' {
                    return Err(BadHeader("CR without LF at the end of the head"));
                }
                return self.end_head();
            }
            Part::ChunkSize => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    self.chunk_line += 1;
                    let digit = u64::from(hex_value(b));
                    self.remaining = self
                        .remaining
                        .checked_mul(16)
                        .and_then(|r| r.checked_add(digit))
                        .ok_or(BadChunkedBody("the chunk size overflows"))?;
                }
                _ if self.chunk_line == 0 => {
                    return Err(BadChunkedBody("a chunk size must start with a hex digit"));
                }
                b' ' | b'\t' => self.part = Part::ChunkSizeSpace,
                b';' => self.part = Part::ChunkExt,
                b'\r' => self.part = Part::ChunkSizeCr,
                _ => return Err(BadChunkedBody("a chunk size is not hex")),
            },
            Part::ChunkSizeSpace => match b {
                b' ' | b'\t' => {}
                b';' => self.part = Part::ChunkExt,
                _ => return Err(BadChunkedBody("whitespace after a chunk size")),
            },
            Part::ChunkExt => {
                self.grow_chunk_line()?;
                match b {
                    b'\r' => self.part = Part::ChunkSizeCr,
                    b'"' => self.part = Part::ChunkExtQuoted,
                    b' ' | b'\t' | b';' | b'=' => {}
                    _ if is_tchar(b) => {}
                    _ => return Err(BadChunkedBody("a bad byte in a chunk extension")),
                }
            }
            Part::ChunkExtQuoted => {
                self.grow_chunk_line()?;
                match b {
                    b'"' => self.part = Part::ChunkExt,
                    b'\\' => self.part = Part::ChunkExtEscape,
                    b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                    _ => return Err(BadChunkedBody("a bad byte in a chunk extension")),
                }
            }
            Part::ChunkExtEscape => {
                self.grow_chunk_line()?;
                if b < b' ' && b != b'\t' || b == 0x7f {
                    return Err(BadChunkedBody("a bad byte in a chunk extension"));
                }
                self.part = Part::ChunkExtQuoted;
            }
            Part::ChunkSizeCr => {
                if b != b'\n' {
                    return Err(BadChunkedBody("CR without LF after a chunk size"));
                }
                self.chunk_line = 0;
                if self.remaining == 0 {
                    // The last chunk: trailer fields follow.
                    self.remaining = u64::MAX;
                    self.fields = 0;
                    self.part = Part::Trailer;
                } else {
                    self.part = Part::ChunkData;
                }
            }
            Part::ChunkDataCr => {
                if b != b'\r' {
                    return Err(BadChunkedBody("chunk data longer than its size"));
                }
                self.part = Part::ChunkDataLf;
            }
            Part::ChunkDataLf => {
                if b != b'\n' {
                    return Err(BadChunkedBody("CR without LF after chunk data"));
                }
                self.part = Part::ChunkSize;
            }
            Part::Trailer => match b {
                b'\r' => self.part = Part::HeadCr,
                b'\n' => return Err(BadChunkedBody("a bare LF in the trailer section")),
                b' ' | b'\t' => return Err(BadChunkedBody("obsolete line folding in a trailer")),
                _ if is_tchar(b) => {
                    self.part = Part::Name;
                    self.line = 1;
                    self.name = NameMatch::start();
                    self.name.push(b);
                }
                _ => return Err(BadChunkedBody("a trailer name is not a token")),
            },
            Part::Body | Part::ChunkData | Part::Closed => unreachable!("handled in scan"),
        }
        Ok(None)
    }

    /// How many bytes at the start of `bytes` need no more than counting:
    /// ASCII target bytes, or value bytes of a field the scanner does not
    /// read.
    fn plain_run(&self, bytes: &[u8]) -> usize {
        let plain: fn(u8) -> bool = match self.part {
            Part::Target if self.utf8.0 == 0 => {
                |b| b > b' ' && b < 0x7f && !matches!(b, b'"' | b'<' | b'>' | b'`')
            }
            Part::Value
                if self.in_trailers()
                    || !matches!(self.field, Some(CONTENT_LENGTH | TRANSFER_ENCODING | CONNECTION)) =>
            {
                |b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
            }
            _ => return 0,
        };
        bytes.iter().position(|&b| !plain(b)).unwrap_or(bytes.len())
    }

    /// Counts a run of plain bytes against the line, field and head limits;
    /// on `Err`, the offset in the run of the first byte over a limit.
    fn grow_run(&mut self, run: usize) -> Result<(), (usize, RequestError)> {
        // The room each limit leaves, in bytes (0 limits never bind).
        let room = |limit: usize, used: usize| {
            if limit == 0 {
                usize::MAX
            } else {
                limit.saturating_sub(used)
            }
        };
        let (line_room, line_err) = match self.part {
            Part::Target => (
                room(self.limits.line, self.line),
                RequestError::RequestLineTooLong,
            ),
            _ => (
                room(self.limits.field_size, self.line + 2),
                RequestError::HeaderFieldTooLarge,
            ),
        };
        let head_room = room(self.limits.head, self.head);
        if run > line_room.min(head_room) {
            let err = if head_room < line_room {
                RequestError::HeadTooLarge
            } else {
                line_err
            };
            return Err((line_room.min(head_room), err));
        }
        self.head += run;
        self.line += run;
        Ok(())
    }

    /// Non-ASCII bytes in a target must be UTF-8 (RFC 3629's table, so no
    /// overlong forms or surrogates), as hyper requires.
    fn target_utf8(&mut self, b: u8) -> Result<(), RequestError> {
        let bad = RequestError::BadRequestLine("the target is not valid UTF-8");
        let (need, lo, hi) = self.utf8;
        if need > 0 {
            if !(lo..=hi).contains(&b) {
                return Err(bad);
            }
            self.utf8 = (need - 1, 0x80, 0xbf);
            return Ok(());
        }
        self.utf8 = match b {
            0xc2..=0xdf => (1, 0x80, 0xbf),
            0xe0 => (2, 0xa0, 0xbf),
            0xe1..=0xec | 0xee..=0xef => (2, 0x80, 0xbf),
            0xed => (2, 0x80, 0x9f),
            0xf0 => (3, 0x90, 0xbf),
            0xf1..=0xf3 => (3, 0x80, 0xbf),
            0xf4 => (3, 0x80, 0x8f),
            _ => return Err(bad),
        };
        Ok(())
    }

    fn grow_line(&mut self) -> Result<(), RequestError> {
        self.line += 1;
        if self.limits.line != 0 && self.line > self.limits.line {
            return Err(RequestError::RequestLineTooLong);
        }
        Ok(())
    }

    /// A field's size counts its CRLF, as gunicorn's does.
    fn grow_field(&mut self) -> Result<(), RequestError> {
        self.line += 1;
        if self.limits.field_size != 0 && self.line + 2 > self.limits.field_size {
            return Err(RequestError::HeaderFieldTooLarge);
        }
        Ok(())
    }

    fn grow_chunk_line(&mut self) -> Result<(), RequestError> {
        self.chunk_line += 1;
        if self.chunk_line > MAX_CHUNK_LINE {
            return Err(RequestError::BadChunkedBody("chunk extensions too long"));
        }
        Ok(())
    }

    fn check_version(&mut self) -> Result<(), RequestError> {
        let v = &self.version[..self.version_len];
        let well_formed = !self.version_overflow
            && v.len() == 8
            && v.starts_with(b"HTTP/")
            && v[5].is_ascii_digit()
            && v[6] == b'.'
            && v[7].is_ascii_digit();
        if !well_formed {
            return Err(RequestError::BadRequestLine("the version is not HTTP/x.y"));
        }
        match &v[5..] {
            b"1.1" => self.http10 = false,
            b"1.0" => self.http10 = true,
            _ => return Err(RequestError::UnsupportedVersion),
        }
        Ok(())
    }

    fn in_trailers(&self) -> bool {
        self.remaining == u64::MAX
    }

    fn start_value(&mut self) -> Result<(), RequestError> {
        self.fields += 1;
        if self.limits.fields != 0 && self.fields > self.limits.fields {
            return Err(if self.in_trailers() {
                RequestError::BadChunkedBody("too many trailer fields")
            } else {
                RequestError::TooManyHeaders
            });
        }
        let tracked = self.name.exact();
        self.field = tracked;
        if self.in_trailers() {
            if tracked.is_some_and(|i| FORBIDDEN_TRAILERS.contains(&TRACKED[i])) {
                return Err(RequestError::BadChunkedBody("a forbidden trailer field"));
            }
        } else if tracked == Some(CONTENT_LENGTH) {
            self.lengths = self.lengths.saturating_add(1);
            self.length_value = Ok(None);
            self.value_ended = false;
        } else if tracked == Some(TRANSFER_ENCODING) {
            if !self.codings.is_empty() {
                self.codings.push(b',');
            }
            self.in_coding = true;
        } else if tracked == Some(CONNECTION) {
            self.token = TokenMatch::START;
        }
        self.part = Part::Value;
        Ok(())
    }

    fn value_byte(&mut self, b: u8) -> Result<(), RequestError> {
        if self.in_trailers() {
            return Ok(());
        }
        match self.field {
            Some(CONTENT_LENGTH) => {
                self.length_value = match (self.length_value, b) {
                    (Ok(v), b' ' | b'\t') => {
                        self.value_ended |= v.is_some();
                        Ok(v)
                    }
                    (Ok(v), b'0'..=b'9') if !self.value_ended => v
                        .unwrap_or(0)
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(b - b'0')))
                        .map(Some)
                        .ok_or(()),
                    _ => Err(()),
                };
            }
            Some(TRANSFER_ENCODING) => {
                if self.codings.len() >= 1024 {
                    return Err(RequestError::BadFraming("Transfer-Encoding too long"));
                }
                self.codings.push(b);
            }
            Some(CONNECTION) => match b {
                b',' => self.end_token(),
                b' ' | b'\t' => {}
                _ => self.token.push(b),
            },
            _ => {}
        }
        Ok(())
    }

    fn end_token(&mut self) {
        let token = std::mem::replace(&mut self.token, TokenMatch::START);
        self.conn_close |= token.close && token.len == 5;
        self.conn_keep_alive |= token.keep_alive && token.len == 10;
    }

    fn end_field(&mut self) -> Result<(), RequestError> {
        if !self.in_trailers() && self.field == Some(CONNECTION) {
            self.end_token();
        }
        if !self.in_trailers() && self.field == Some(CONTENT_LENGTH) {
            match self.length_value {
                Ok(Some(n)) => self.length = Some(n),
                _ => return Err(RequestError::BadFraming("Content-Length is not a number")),
            }
        }
        self.in_coding = false;
        Ok(())
    }

    fn end_head(&mut self) -> Result<Option<Event>, RequestError> {
        if self.in_trailers() {
            self.end_message();
            return Ok(Some(Event::BodyEnd));
        }
        self.closing = if self.http10 {
            !self.conn_keep_alive
        } else {
            self.conn_close
        };
        if self.lengths > 1 {
            return Err(RequestError::BadFraming("repeated Content-Length"));
        }
        let chunked = !self.codings.is_empty();
        if chunked {
            if self.length.is_some() {
                return Err(RequestError::BadFraming(
                    "both Content-Length and Transfer-Encoding",
                ));
            }
            if self.http10 {
                return Err(RequestError::BadFraming(
                    "Transfer-Encoding in an HTTP/1.0 request",
                ));
            }
            check_codings(self.codings.split(|&b| b == b','))?;
            self.part = Part::ChunkSize;
            self.remaining = 0;
            self.chunk_line = 0;
            return Ok(Some(Event::HeadEnd));
        }
        match self.length {
            Some(n) if n > 0 => {
                self.part = Part::Body;
                self.remaining = n;
                Ok(Some(Event::HeadEnd))
            }
            _ => {
                self.end_message();
                Ok(Some(Event::HeadEnd))
            }
        }
    }
}

/// RFC 9112 §6.1: `chunked` once and last; the other codings known.
///
/// Stricter than RFC 9110 §5.6.1 in one place: an empty list element
/// (`chunked,`) is refused rather than skipped, and `chunked` takes no
/// parameters. A proxy in front that reads either differently (hyper and
/// nginx refuse both) could frame the body another way.
pub(crate) fn check_codings<'a>(items: impl Iterator<Item = &'a [u8]>) -> Result<(), RequestError> {
    let mut chunked_last = false;
    let mut any = false;
    for item in items {
        let coding = item.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
        if coding.is_empty() {
            return Err(RequestError::BadFraming("an empty Transfer-Encoding element"));
        }
        if coding.eq_ignore_ascii_case(b"chunked") && coding.len() != item.trim_ascii().len() {
            return Err(RequestError::BadFraming("parameters on chunked"));
        }
        if chunked_last {
            return Err(RequestError::BadFraming(
                "chunked is not the final transfer coding",
            ));
        }
        if !KNOWN_CODINGS.iter().any(|k| k.eq_ignore_ascii_case(coding)) {
            return Err(RequestError::UnsupportedTransferCoding);
        }
        any = true;
        chunked_last = coding.eq_ignore_ascii_case(b"chunked");
    }
    if !any || !chunked_last {
        return Err(RequestError::BadFraming(
            "chunked is not the final transfer coding",
        ));
    }
    Ok(())
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::from(&Config::default())
    }

    /// Scans the whole input; the events, or the error.
    fn run(input: &[u8]) -> Result<Vec<Event>, RequestError> {
        let mut scanner = RequestScanner::new(limits());
        let mut events = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let (used, event) = scanner.scan(rest).map_err(|(_, e)| e)?;
            match event {
                Some(Event::Data { last: true, .. }) => events.push(Event::BodyEnd),
                Some(Event::Data { .. }) | None => {}
                Some(other) => events.push(other),
            }
            rest = &rest[used..];
        }
        Ok(events)
    }

    /// The body data of the whole input, framing removed.
    fn body_of(input: &[u8], pieces: usize) -> Vec<u8> {
        let mut scanner = RequestScanner::new(limits());
        let mut body = Vec::new();
        for piece in input.chunks(pieces) {
            let mut rest = piece;
            while !rest.is_empty() {
                let (used, event) = scanner.scan(rest).unwrap();
                if let Some(Event::Data { at, len, .. }) = event {
                    body.extend_from_slice(&rest[at..at + len]);
                }
                rest = &rest[used..];
            }
        }
        body
    }

    #[test]
    fn data_spans_are_the_body_without_framing() {
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n";
        let sized = b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world";
        for pieces in [1, 2, 3, 7, 1000] {
            assert_eq!(
                body_of(chunked, pieces),
                b"hello world",
                "chunked in pieces of {pieces}"
            );
            assert_eq!(
                body_of(sized, pieces),
                b"hello world",
                "sized in pieces of {pieces}"
            );
        }
    }

    #[test]
    fn simple_and_pipelined() {
        assert_eq!(
            run(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Ok(vec![Event::HeadEnd])
        );
        let two = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.0\r\n\r\n";
        assert_eq!(run(two), Ok(vec![Event::HeadEnd, Event::BodyEnd, Event::HeadEnd]));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;a=\"b;c\"\r\nhello\r\n0\r\nVary: *\r\n\r\n";
        assert_eq!(run(chunked), Ok(vec![Event::HeadEnd, Event::BodyEnd]));
    }

    #[test]
    fn several_chunks() {
        let input =
            b"post /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        assert_eq!(run(input), Ok(vec![Event::HeadEnd, Event::BodyEnd]));
    }

    #[test]
    fn nothing_is_read_after_a_closing_request() {
        for closing in [
            &b"GET /a HTTP/1.0\r\n\r\n"[..],
            b"GET /a HTTP/1.1\r\nConnection: TE, Close\r\n\r\n",
            b"POST /a HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
        ] {
            let mut scanner = RequestScanner::new(limits());
            let mut input = closing.to_vec();
            input.extend_from_slice(b"GET /second HTTP/1.1\r\n\r\n");
            let mut used = 0;
            while !scanner.is_closed() {
                used += scanner.scan(&input[used..]).unwrap().0;
            }
            assert_eq!(used, closing.len());
            assert_eq!(scanner.scan(b"more").unwrap(), (0, None));
        }
        for open in [
            &b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"[..],
            b"GET /a HTTP/1.1\r\nConnection: closed\r\n\r\n",
        ] {
            let mut scanner = RequestScanner::new(limits());
            scanner.scan(open).unwrap();
            assert!(!scanner.is_closed() && scanner.at_message_start());
        }
    }

    #[test]
    fn byte_at_a_time_matches_whole() {
        let input = b"\r\nPOST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let mut scanner = RequestScanner::new(limits());
        let mut events = Vec::new();
        for b in input {
            let (used, event) = scanner.scan(std::slice::from_ref(b)).unwrap();
            assert_eq!(used, 1);
            match event {
                Some(Event::Data { last: true, .. }) => events.push(Event::BodyEnd),
                Some(Event::Data { .. }) | None => {}
                Some(other) => events.push(other),
            }
        }
        assert_eq!(events, run(input).unwrap());
    }

    #[test]
    fn framing_errors() {
        let err = |s: &[u8]| run(s).unwrap_err();
        assert!(matches!(
            err(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            RequestError::BadFraming(_)
        ));
        assert!(matches!(
            err(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
            RequestError::BadFraming(_)
        ));
        assert!(matches!(
            err(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"),
            RequestError::BadFraming(_)
        ));
        for bad in ["5, 5", "+1", "-1", "0 1", "", "1_0"] {
            let input = format!("POST / HTTP/1.1\r\nContent-Length: {bad}\r\n\r\n");
            assert!(
                matches!(err(input.as_bytes()), RequestError::BadFraming(_)),
                "{bad:?}"
            );
        }
        // Empty elements and parameters on chunked: refused as hyper and
        // nginx refuse them (the `h1` fuzz target found the difference).
        for bad in ["chunked,", ", chunked", "gzip,,chunked", "chunked;x=1"] {
            let input = format!("POST / HTTP/1.1\r\nTransfer-Encoding: {bad}\r\n\r\n");
            assert!(
                matches!(err(input.as_bytes()), RequestError::BadFraming(_)),
                "{bad:?}"
            );
        }
        assert_eq!(
            err(b"POST / HTTP/1.1\r\nTransfer-Encoding: foo, chunked\r\n\r\n"),
            RequestError::UnsupportedTransferCoding
        );
        assert!(matches!(
            err(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            RequestError::BadFraming(_)
        ));
    }

    #[test]
    fn syntax_errors() {
        let err = |s: &[u8]| run(s).unwrap_err();
        assert!(matches!(
            err(b"GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n"),
            RequestError::BadHeader(_)
        ));
        assert!(matches!(
            err(b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"),
            RequestError::BadHeader(_)
        ));
        assert!(matches!(
            err(b"GET / HTTP/1.1\r\nA : b\r\n\r\n"),
            RequestError::BadHeader(_)
        ));
        assert!(matches!(
            err(b"GET / HTTP/1.1\r\nA: \x07\r\n\r\n"),
            RequestError::BadHeader(_)
        ));
        assert!(matches!(
            err(b"GET\n/\nHTTP/1.1\r\n\r\n"),
            RequestError::BadRequestLine(_)
        ));
        assert_eq!(err(b"GET / HTTP/2.0\r\n\r\n"), RequestError::UnsupportedVersion);
        assert!(matches!(
            err(b"GET / FTP/1.1\r\n\r\n"),
            RequestError::BadRequestLine(_)
        ));
        assert!(matches!(
            err(b"GET / HTTP/1.10\r\n\r\n"),
            RequestError::BadRequestLine(_)
        ));
        for target in [
            &b"/a\"b"[..],
            b"/<",
            b"/a?x>",
            b"/`",
            b"/\x80",
            b"/\xc3",
            b"/\xe0\x80\x80",
            b"/\xed\xa0\x80",
        ] {
            let mut request = b"GET ".to_vec();
            request.extend_from_slice(target);
            request.extend_from_slice(b" HTTP/1.1\r\n\r\n");
            assert!(
                matches!(err(&request), RequestError::BadRequestLine(_)),
                "{target:?}"
            );
        }
        assert!(run(b"GET /\xc3\xa0%20k?q={|}^\\ HTTP/1.1\r\n\r\n").is_ok());
        assert!(matches!(
            err(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0 \r\n\r\n"),
            RequestError::BadChunkedBody(_)
        ));
        let mut scanner = RequestScanner::new(limits());
        let (_, head) = scanner
            .scan(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        assert_eq!(head, Some(Event::HeadEnd));
        let (at, trailer) = scanner.scan(b"0\r\nVary: *\r\nHost: x\r\n\r\n").unwrap_err();
        assert!(matches!(trailer, RequestError::BadChunkedBody(_)));
        assert_eq!(at, 16, "at the ':' that completes the forbidden name");
        assert!(!scanner.in_head(), "a trailer belongs to the body");
    }

    #[test]
    fn limits_apply_as_bytes_arrive() {
        let mut tight = limits();
        tight.line = 10;
        let mut scanner = RequestScanner::new(tight);
        let (at, err) = scanner.scan(b"GET /0123456789").unwrap_err();
        assert_eq!((at, err), (10, RequestError::RequestLineTooLong));
        tight.line = 0;
        tight.fields = 1;
        let mut scanner = RequestScanner::new(tight);
        let err = scanner.scan(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n").unwrap_err().1;
        assert_eq!(err, RequestError::TooManyHeaders);
        tight.fields = 0;
        tight.field_size = 5;
        let mut scanner = RequestScanner::new(tight);
        let err = scanner.scan(b"GET / HTTP/1.1\r\nAccept: */*\r\n").unwrap_err().1;
        assert_eq!(err, RequestError::HeaderFieldTooLarge);
    }
}
