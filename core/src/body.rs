//! What an application returns: the response body.

use std::fmt;
use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_lite::Stream;

use crate::BoxError;

type Chunks = Box<dyn Iterator<Item = Result<Bytes, BoxError>> + Send>;
type AsyncChunks = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;
type CloseHook = Box<dyn FnOnce() + Send>;

/// The response body: PEP 3333's "iterable of bytestrings", in the shapes a
/// Rust application needs.
///
/// | shape | constructor | runs where |
/// |---|---|---|
/// | nothing | [`Body::empty`] | — |
/// | one buffer | `Body::from(…)` (`&'static str`, `String`, `Vec<u8>`, [`Bytes`]) | — |
/// | an iterator of chunks | [`Body::iter`], [`Body::try_iter`] | the dispatch's thread |
/// | an async stream of chunks | [`Body::stream`] | the event loop, holding no thread while it waits |
/// | a file (`wsgi.file_wrapper`) | [`Body::file`], [`FileWrapper`] | the dispatch's thread |
///
/// **`close()`**: a body is dropped exactly once — when it ends, when it
/// fails, when the client goes away, after a HEAD — and the hooks given to
/// [`on_close`](Body::on_close) run then, in the order they were added.
///
/// ```
/// use rwsgi_core::Body;
/// let body = Body::iter(["Hello, ", "World!"]).on_close(|| println!("closed"));
/// # drop(body);
/// ```
pub struct Body {
    kind: Kind,
    on_close: Vec<CloseHook>,
}

enum Kind {
    Empty,
    Full(Bytes),
    Iter(Chunks),
    Stream(AsyncChunks),
    File(FileWrapper),
}

impl Body {
    /// A body with no bytes.
    pub fn empty() -> Self {
        Body::from_kind(Kind::Empty)
    }

    /// A body produced by an iterator, one chunk per item. The iterator is
    /// advanced only when the previous chunk has been sent or queued.
    pub fn iter<I>(chunks: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Bytes>,
        I::IntoIter: Send + 'static,
    {
        Body::from_kind(Kind::Iter(Box::new(
            chunks.into_iter().map(|chunk| Ok(chunk.into())),
        )))
    }

    /// Like [`Body::iter`], for an iterator that can fail part-way; an error
    /// ends the response (a 500 if nothing was sent, else a closed
    /// connection) and is logged on `wsgi.errors`.
    pub fn try_iter<I, B, E>(chunks: I) -> Self
    where
        I: IntoIterator<Item = Result<B, E>>,
        I::IntoIter: Send + 'static,
        B: Into<Bytes>,
        E: Into<BoxError>,
    {
        Body::from_kind(Kind::Iter(Box::new(
            chunks
                .into_iter()
                .map(|chunk| chunk.map(Into::into).map_err(Into::into)),
        )))
    }

    /// A body produced by an async stream: long polls, server-sent events,
    /// anything that waits. The stream is polled on the event loop, so it
    /// must not block; it waits through [`Environ::sleep`] and friends.
    ///
    /// [`Environ::sleep`]: crate::Environ::sleep
    pub fn stream<S, B, E>(chunks: S) -> Self
    where
        S: Stream<Item = Result<B, E>> + Send + 'static,
        B: Into<Bytes>,
        E: Into<BoxError>,
    {
        use futures_lite::StreamExt;
        Body::from_kind(Kind::Stream(Box::pin(
            chunks.map(|chunk| chunk.map(Into::into).map_err(Into::into)),
        )))
    }

    /// A file, read in blocks of 8 KiB: `wsgi.file_wrapper(file)`.
    pub fn file(file: impl Read + Send + 'static) -> Self {
        Body::from(FileWrapper::new(file))
    }

    /// Adds a hook run when the body is closed (PEP 3333's `close()`).
    #[must_use]
    pub fn on_close(mut self, hook: impl FnOnce() + Send + 'static) -> Self {
        self.on_close.push(Box::new(hook));
        self
    }

    /// Applies `f` to every chunk, keeping the body's shape and its close
    /// hooks: the middleware way to inspect or rewrite a response body, one
    /// chunk out for each chunk in (PEP 3333 asks middleware not to hold
    /// chunks back). A body that is one buffer is mapped at once and stays
    /// one buffer.
    #[must_use]
    pub fn map<F>(mut self, mut f: F) -> Self
    where
        F: FnMut(Result<Bytes, BoxError>) -> Result<Bytes, BoxError> + Send + 'static,
    {
        let kind = std::mem::replace(&mut self.kind, Kind::Empty);
        self.kind = match kind {
            // A body already in memory is mapped now, so that it stays one
            // buffer whose length the server can announce.
            Kind::Empty => Kind::Empty,
            Kind::Full(bytes) => match f(Ok(bytes)) {
                Ok(bytes) => Kind::Full(bytes),
                Err(err) => Kind::Iter(Box::new(std::iter::once(Err(err)))),
            },
            Kind::Iter(chunks) => Kind::Iter(Box::new(chunks.map(f))),
            Kind::File(mut file) => Kind::Iter(Box::new(std::iter::from_fn(move || {
                file.next_block().map(&mut f)
            }))),
            Kind::Stream(chunks) => {
                use futures_lite::StreamExt;
                Kind::Stream(Box::pin(chunks.map(f)))
            }
        };
        self
    }

    /// Whether the body is an async stream (polled on the event loop even
    /// when the application runs on a thread pool).
    pub fn is_stream(&self) -> bool {
        matches!(self.kind, Kind::Stream(_))
    }

    /// The body's exact length when it is known without producing it (an
    /// empty body or one buffer). The server then sends `Content-Length`
    /// itself, as PEP 3333 allows for a one-item iterable.
    pub fn exact_len(&self) -> Option<u64> {
        match &self.kind {
            Kind::Empty => Some(0),
            Kind::Full(bytes) => Some(bytes.len() as u64),
            _ => None,
        }
    }

    /// Produces the next chunk. Iterators and files are advanced right here
    /// on the calling thread; streams are polled.
    pub(crate) fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BoxError>>> {
        match &mut self.kind {
            Kind::Stream(chunks) => chunks.as_mut().poll_next(cx),
            _ => Poll::Ready(self.next_sync()),
        }
    }

    /// Produces the next chunk of a body that is not a stream.
    pub(crate) fn next_sync(&mut self) -> Option<Result<Bytes, BoxError>> {
        match &mut self.kind {
            Kind::Empty => None,
            Kind::Full(_) => match std::mem::replace(&mut self.kind, Kind::Empty) {
                Kind::Full(bytes) => Some(Ok(bytes)),
                _ => unreachable!("matched Full just above"),
            },
            Kind::Iter(chunks) => chunks.next(),
            Kind::File(file) => file.next_block(),
            Kind::Stream(_) => panic!("next_sync called on a stream body"),
        }
    }

    fn from_kind(kind: Kind) -> Self {
        Body {
            kind,
            on_close: Vec::new(),
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        // The producer goes first, so that a hook sees it closed.
        self.kind = Kind::Empty;
        for hook in self.on_close.drain(..) {
            hook();
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = match &self.kind {
            Kind::Empty => "empty",
            Kind::Full(_) => "buffer",
            Kind::Iter(_) => "iterator",
            Kind::Stream(_) => "stream",
            Kind::File(_) => "file",
        };
        f.debug_struct("Body").field("shape", &shape).finish()
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::from_kind(Kind::Full(bytes))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body::from(Bytes::from_static(text.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Body::from(Bytes::from_static(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::from(Bytes::from(text))
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::from(Bytes::from(bytes))
    }
}

impl From<FileWrapper> for Body {
    fn from(file: FileWrapper) -> Self {
        Body::from_kind(Kind::File(file))
    }
}

/// `wsgi.file_wrapper(filelike, block_size)`: a readable thing sent in
/// blocks, from its current position to its end. Dropping it (when the body
/// closes) drops the reader, which closes a file.
pub struct FileWrapper {
    reader: Box<dyn Read + Send>,
    block_size: usize,
}

impl FileWrapper {
    /// The default block size: 8 KiB, as CPython's `wsgiref` uses.
    pub const DEFAULT_BLOCK_SIZE: usize = 8192;

    /// Wraps `reader`, read in blocks of [`DEFAULT_BLOCK_SIZE`](Self::DEFAULT_BLOCK_SIZE).
    pub fn new(reader: impl Read + Send + 'static) -> Self {
        FileWrapper::with_block_size(reader, Self::DEFAULT_BLOCK_SIZE)
    }

    /// Wraps `reader`, read in blocks of `block_size` bytes (at least 1).
    pub fn with_block_size(reader: impl Read + Send + 'static, block_size: usize) -> Self {
        FileWrapper {
            reader: Box::new(reader),
            block_size: block_size.max(1),
        }
    }

    fn next_block(&mut self) -> Option<Result<Bytes, BoxError>> {
        let mut block = vec![0; self.block_size];
        loop {
            return match self.reader.read(&mut block) {
                Ok(0) => None,
                Ok(n) => {
                    block.truncate(n);
                    Some(Ok(Bytes::from(block)))
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => Some(Err(err.into())),
            };
        }
    }
}

impl fmt::Debug for FileWrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileWrapper")
            .field("block_size", &self.block_size)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn drain(mut body: Body) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Some(chunk) = body.next_sync() {
            out.push(chunk.unwrap());
        }
        out
    }

    #[test]
    fn close_hooks_run_once_in_order() {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (a, b) = (Arc::clone(&log), Arc::clone(&log));
        let body = Body::iter(["x"])
            .on_close(move || a.lock().unwrap().push(1))
            .on_close(move || b.lock().unwrap().push(2));
        assert_eq!(drain(body), vec![Bytes::from("x")]);
        assert_eq!(*log.lock().unwrap(), vec![1, 2]);
    }

    #[test]
    fn map_keeps_chunks_one_for_one_and_keeps_hooks() {
        let closed = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&closed);
        let body = Body::iter(["a", "b"])
            .on_close(move || {
                c.fetch_add(1, Ordering::SeqCst);
            })
            .map(|chunk| chunk.map(|b| Bytes::from(b.to_ascii_uppercase())));
        assert_eq!(drain(body), vec![Bytes::from("A"), Bytes::from("B")]);
        assert_eq!(closed.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn file_is_read_in_blocks() {
        let body = Body::from(FileWrapper::with_block_size(&b"abcdefg"[..], 3));
        assert_eq!(drain(body), vec!["abc", "def", "g"]);
    }

    #[test]
    fn exact_len_only_for_known_shapes() {
        assert_eq!(Body::empty().exact_len(), Some(0));
        assert_eq!(Body::from("four").exact_len(), Some(4));
        assert_eq!(Body::iter(["x"]).exact_len(), None);
        assert!(Body::stream(futures_lite::stream::iter([Ok::<_, BoxError>("x")])).is_stream());
    }
}
