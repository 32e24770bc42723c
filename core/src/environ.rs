//! The request as the application sees it.

use std::any::Any;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::timer::{Sleep, ThreadTimer, Timer};
use crate::{Errors, Input, latin1};

/// A value stored under a non-string environ key (`werkzeug.proxy_fix.orig`,
/// `myapp.db_session`): any `Send` type that can show itself in a dump.
pub trait EnvValue: Any + Send + fmt::Display {}

impl<T: Any + Send + fmt::Display> EnvValue for T {}

/// The PEP 3333 `environ`: the request as the application sees it.
///
/// The CGI variables and `wsgi.*` keys are typed fields, so the hot path
/// reads them without hashing or parsing; the request headers stay an
/// [`http::HeaderMap`]. A string-keyed view maps PEP 3333's names onto them,
/// so middleware ported from Python reads the same:
///
/// | PEP 3333 key | field |
/// |---|---|
/// | `REQUEST_METHOD` | [`method`](Environ::method) |
/// | `SCRIPT_NAME`, `PATH_INFO`, `QUERY_STRING` | [`script_name`](Environ::script_name), [`path_info`](Environ::path_info), [`query_string`](Environ::query_string) |
/// | `RAW_URI` (gunicorn's) | [`raw_uri`](Environ::raw_uri) |
/// | `SERVER_NAME`, `SERVER_PORT`, `SERVER_PROTOCOL` | [`server_name`](Environ::server_name), [`server_port`](Environ::server_port), [`server_protocol`](Environ::server_protocol) |
/// | `REMOTE_ADDR`, `REMOTE_PORT` | [`remote_addr`](Environ::remote_addr), [`remote_port`](Environ::remote_port) |
/// | `SERVER_SOFTWARE` | [`server_software`](Environ::server_software) |
/// | `CONTENT_TYPE`, `CONTENT_LENGTH`, `HTTP_*` | [`headers`](Environ::headers) |
/// | `wsgi.url_scheme` | [`url_scheme`](Environ::url_scheme) |
/// | `wsgi.input`, `wsgi.errors` | [`input`](Environ::input), [`errors`](Environ::errors) |
/// | `wsgi.multithread`, `wsgi.multiprocess`, `wsgi.run_once`, `wsgi.input_terminated` | the `bool` fields of the same names |
/// | `wsgi.version` | always `(1, 0)` |
/// | anything else (`HTTPS`, `REMOTE_USER`, `myapp.user`) | string or typed values, see [`set`](Environ::set), [`insert_value`](Environ::insert_value) |
///
/// Strings follow PEP 3333: request bytes are decoded as ISO-8859-1, so each
/// char is one byte; [`set`](Environ::set) refuses chars above U+00FF.
///
/// ```
/// use rwsgi_core::Environ;
///
/// let mut environ = Environ::from_pairs([
///     ("REQUEST_METHOD", "GET"),
///     ("PATH_INFO", "/a%20b"),
///     ("HTTP_X_FORWARDED_FOR", "203.0.113.7"),
/// ])?;
/// assert_eq!(environ.get("HTTP_X_FORWARDED_FOR").as_deref(), Some("203.0.113.7"));
/// environ.set("REMOTE_ADDR", "203.0.113.7")?;
/// assert_eq!(environ.remote_addr.as_deref(), Some("203.0.113.7"));
/// assert!(environ.to_pairs().iter().any(|(k, v)| k == "wsgi.url_scheme" && v == "http"));
/// # Ok::<(), rwsgi_core::EnvironError>(())
/// ```
pub struct Environ {
    /// `REQUEST_METHOD`.
    pub method: Method,
    /// `SCRIPT_NAME`: the mount point, `""` at the root.
    pub script_name: String,
    /// `PATH_INFO`: the rest of the path, percent-decoded, latin-1.
    pub path_info: String,
    /// `QUERY_STRING`: after the `?`, not decoded; always present.
    pub query_string: String,
    /// `RAW_URI`: the request target exactly as sent (latin-1).
    pub raw_uri: String,
    /// `SERVER_NAME`: never empty.
    pub server_name: String,
    /// `SERVER_PORT`: never empty.
    pub server_port: String,
    /// `SERVER_PROTOCOL`: the request's version, `HTTP/1.0` or `HTTP/1.1`.
    pub server_protocol: Cow<'static, str>,
    /// `REMOTE_ADDR`: the peer's address (absent on a unix socket).
    pub remote_addr: Option<String>,
    /// `REMOTE_PORT`.
    pub remote_port: Option<String>,
    /// `SERVER_SOFTWARE`: the server's name and version.
    pub server_software: Option<Cow<'static, str>>,
    /// `wsgi.url_scheme`: `http` or `https`.
    pub url_scheme: Cow<'static, str>,
    /// The request headers: `CONTENT_TYPE`, `CONTENT_LENGTH` and `HTTP_*`.
    pub headers: HeaderMap,
    /// `wsgi.input`.
    pub input: Input,
    /// `wsgi.errors`.
    pub errors: Errors,
    /// `wsgi.multithread`.
    pub multithread: bool,
    /// `wsgi.multiprocess`.
    pub multiprocess: bool,
    /// `wsgi.run_once`.
    pub run_once: bool,
    /// `wsgi.input_terminated`: reads of `wsgi.input` end at the end of the
    /// body, so `read()` with no size is safe.
    pub input_terminated: bool,
    vars: BTreeMap<String, Var>,
    timer: Option<Arc<dyn Timer>>,
}

enum Var {
    Str(String),
    Value(Box<dyn EnvValue>),
}

/// Why a string-keyed environ operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvironError {
    /// The value has a char above U+00FF (PEP 3333 strings are latin-1).
    NotLatin1 {
        /// The key.
        key: String,
    },
    /// The value does not fit the key (a bad method, a header value with a
    /// newline, a flag that is not a boolean).
    InvalidValue {
        /// The key.
        key: String,
        /// What the key accepts.
        why: &'static str,
    },
    /// The key is required and cannot be removed.
    Required {
        /// The key.
        key: String,
    },
    /// The key does not hold a string (`wsgi.input`, `wsgi.errors`, typed
    /// values).
    NotAString {
        /// The key.
        key: String,
    },
}

impl fmt::Display for EnvironError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvironError::NotLatin1 { key } => {
                write!(f, "{key}: PEP 3333 strings hold only U+0000..U+00FF")
            }
            EnvironError::InvalidValue { key, why } => write!(f, "{key}: {why}"),
            EnvironError::Required { key } => write!(f, "{key} is required and cannot be removed"),
            EnvironError::NotAString { key } => write!(f, "{key} does not hold a string"),
        }
    }
}

impl std::error::Error for EnvironError {}

impl Environ {
    /// A minimal request: `GET /` over HTTP/1.1 to `localhost:80`, no
    /// headers, an empty body, errors to standard error.
    pub fn new() -> Self {
        Environ {
            method: Method::GET,
            script_name: String::new(),
            path_info: "/".to_owned(),
            query_string: String::new(),
            raw_uri: "/".to_owned(),
            server_name: "localhost".to_owned(),
            server_port: "80".to_owned(),
            server_protocol: Cow::Borrowed("HTTP/1.1"),
            remote_addr: None,
            remote_port: None,
            server_software: None,
            url_scheme: Cow::Borrowed("http"),
            headers: HeaderMap::new(),
            input: Input::empty(),
            errors: Errors::default(),
            multithread: false,
            multiprocess: false,
            run_once: false,
            input_terminated: true,
            vars: BTreeMap::new(),
            timer: None,
        }
    }

    /// Builds an environ from `(key, value)` pairs, starting from
    /// [`Environ::new`]. Accepts what [`to_pairs`](Environ::to_pairs)
    /// writes, so a dump can be loaded back.
    ///
    /// # Errors
    ///
    /// The first pair [`set`](Environ::set) refuses.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, EnvironError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut environ = Environ::new();
        for (key, value) in pairs {
            let key = key.as_ref();
            let value = value.into();
            if key == "wsgi.version" {
                if value != "(1, 0)" {
                    return Err(invalid(key, "rwsgi speaks WSGI (1, 0)"));
                }
                continue;
            }
            environ.set(key, value)?;
        }
        Ok(environ)
    }

    /// Every string-valued key, sorted: the CGI variables, one `HTTP_*` per
    /// header (repeats joined), the `wsgi.*` flags in Python's spelling
    /// (`True`, `(1, 0)`), and the other keys; typed values appear through
    /// their `Display`. `wsgi.input` and `wsgi.errors` are streams and are
    /// left out.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = Vec::with_capacity(24 + self.headers.keys_len());
        let mut push = |k: &str, v: &str| pairs.push((k.to_owned(), v.to_owned()));
        push("REQUEST_METHOD", self.method.as_str());
        push("SCRIPT_NAME", &self.script_name);
        push("PATH_INFO", &self.path_info);
        push("QUERY_STRING", &self.query_string);
        push("RAW_URI", &self.raw_uri);
        push("SERVER_NAME", &self.server_name);
        push("SERVER_PORT", &self.server_port);
        push("SERVER_PROTOCOL", &self.server_protocol);
        if let Some(addr) = &self.remote_addr {
            push("REMOTE_ADDR", addr);
        }
        if let Some(port) = &self.remote_port {
            push("REMOTE_PORT", port);
        }
        if let Some(software) = &self.server_software {
            push("SERVER_SOFTWARE", software);
        }
        push("wsgi.version", "(1, 0)");
        push("wsgi.url_scheme", &self.url_scheme);
        push("wsgi.multithread", python_bool(self.multithread));
        push("wsgi.multiprocess", python_bool(self.multiprocess));
        push("wsgi.run_once", python_bool(self.run_once));
        push("wsgi.input_terminated", python_bool(self.input_terminated));
        let mut seen = std::collections::BTreeSet::new();
        for name in self.headers.keys() {
            let key = cgi_key(name);
            if let Some(value) = self.get(&key) {
                if seen.insert(key.clone()) {
                    pairs.push((key, value.into_owned()));
                }
            }
        }
        for (key, var) in &self.vars {
            let value = match var {
                Var::Str(s) => s.clone(),
                Var::Value(v) => v.to_string(),
            };
            pairs.push((key.clone(), value));
        }
        pairs.sort();
        pairs
    }

    /// `environ.get(key)`: the string value of a PEP 3333 key.
    ///
    /// `HTTP_*` keys read the headers (repeated headers joined with `,`, and
    /// `HTTP_COOKIE` with `; `); `HTTP_CONTENT_TYPE` and
    /// `HTTP_CONTENT_LENGTH` never exist. Flags read as `True`/`False`.
    pub fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        match key {
            "REQUEST_METHOD" => Some(Cow::Borrowed(self.method.as_str())),
            "SCRIPT_NAME" => Some(Cow::Borrowed(&self.script_name)),
            "PATH_INFO" => Some(Cow::Borrowed(&self.path_info)),
            "QUERY_STRING" => Some(Cow::Borrowed(&self.query_string)),
            "RAW_URI" => Some(Cow::Borrowed(&self.raw_uri)),
            "SERVER_NAME" => Some(Cow::Borrowed(&self.server_name)),
            "SERVER_PORT" => Some(Cow::Borrowed(&self.server_port)),
            "SERVER_PROTOCOL" => Some(Cow::Borrowed(&self.server_protocol)),
            "REMOTE_ADDR" => self.remote_addr.as_deref().map(Cow::Borrowed),
            "REMOTE_PORT" => self.remote_port.as_deref().map(Cow::Borrowed),
            "SERVER_SOFTWARE" => self.server_software.as_deref().map(Cow::Borrowed),
            "CONTENT_TYPE" => self.header(key, Some(&CONTENT_TYPE)),
            "CONTENT_LENGTH" => self.header(key, Some(&CONTENT_LENGTH)),
            "wsgi.version" => Some(Cow::Borrowed("(1, 0)")),
            "wsgi.url_scheme" => Some(Cow::Borrowed(&self.url_scheme)),
            "wsgi.multithread" => Some(Cow::Borrowed(python_bool(self.multithread))),
            "wsgi.multiprocess" => Some(Cow::Borrowed(python_bool(self.multiprocess))),
            "wsgi.run_once" => Some(Cow::Borrowed(python_bool(self.run_once))),
            "wsgi.input_terminated" => Some(Cow::Borrowed(python_bool(self.input_terminated))),
            _ => match header_name(key) {
                Some(Some(name)) => self.header(key, Some(&name)),
                Some(None) => None,
                None => key
                    .starts_with("HTTP_")
                    .then(|| self.header(key, None))
                    .flatten()
                    .or_else(|| match self.vars.get(key)? {
                        Var::Str(s) => Some(Cow::Borrowed(s)),
                        Var::Value(v) => Some(Cow::Owned(v.to_string())),
                    }),
            },
        }
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// `environ[key] = value`.
    ///
    /// # Errors
    ///
    /// [`EnvironError::NotLatin1`] for chars above U+00FF,
    /// [`EnvironError::InvalidValue`] when the value does not fit the key,
    /// [`EnvironError::NotAString`] for `wsgi.input`, `wsgi.errors` and
    /// `wsgi.version`.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> Result<(), EnvironError> {
        let value = value.into();
        if !latin1::is_latin1(&value) {
            return Err(EnvironError::NotLatin1 { key: key.to_owned() });
        }
        match key {
            "REQUEST_METHOD" => {
                self.method = Method::from_bytes(value.as_bytes())
                    .map_err(|_| invalid(key, "a method is a non-empty token"))?;
            }
            "SCRIPT_NAME" => self.script_name = value,
            "PATH_INFO" => self.path_info = value,
            "QUERY_STRING" => self.query_string = value,
            "RAW_URI" => self.raw_uri = value,
            "SERVER_NAME" => self.server_name = value,
            "SERVER_PORT" => self.server_port = value,
            "SERVER_PROTOCOL" => self.server_protocol = Cow::Owned(value),
            "REMOTE_ADDR" => self.remote_addr = Some(value),
            "REMOTE_PORT" => self.remote_port = Some(value),
            "SERVER_SOFTWARE" => self.server_software = Some(Cow::Owned(value)),
            "CONTENT_TYPE" => self.set_header(key, CONTENT_TYPE, &value)?,
            "CONTENT_LENGTH" => self.set_header(key, CONTENT_LENGTH, &value)?,
            "wsgi.url_scheme" => self.url_scheme = Cow::Owned(value),
            "wsgi.multithread" => self.multithread = parse_bool(key, &value)?,
            "wsgi.multiprocess" => self.multiprocess = parse_bool(key, &value)?,
            "wsgi.run_once" => self.run_once = parse_bool(key, &value)?,
            "wsgi.input_terminated" => self.input_terminated = parse_bool(key, &value)?,
            "wsgi.version" | "wsgi.input" | "wsgi.errors" | "wsgi.file_wrapper" => {
                return Err(EnvironError::NotAString { key: key.to_owned() });
            }
            _ => match header_name(key) {
                Some(Some(name)) => self.set_header(key, name, &value)?,
                Some(None) => {
                    return Err(invalid(
                        key,
                        "CONTENT_TYPE and CONTENT_LENGTH carry no HTTP_ prefix",
                    ));
                }
                None => {
                    self.vars.insert(key.to_owned(), Var::Str(value));
                }
            },
        }
        Ok(())
    }

    /// `del environ[key]`, returning the old value.
    ///
    /// # Errors
    ///
    /// [`EnvironError::Required`] for `REQUEST_METHOD`, `SERVER_NAME`,
    /// `SERVER_PORT`, `SERVER_PROTOCOL` and the `wsgi.*` keys.
    pub fn remove(&mut self, key: &str) -> Result<Option<String>, EnvironError> {
        let old = self.get(key).map(Cow::into_owned);
        match key {
            "SCRIPT_NAME" => self.script_name.clear(),
            "PATH_INFO" => self.path_info.clear(),
            "QUERY_STRING" => self.query_string.clear(),
            "RAW_URI" => self.raw_uri.clear(),
            "REMOTE_ADDR" => self.remote_addr = None,
            "REMOTE_PORT" => self.remote_port = None,
            "SERVER_SOFTWARE" => self.server_software = None,
            "CONTENT_TYPE" | "CONTENT_LENGTH" => self.remove_headers(key),
            "REQUEST_METHOD" | "SERVER_NAME" | "SERVER_PORT" | "SERVER_PROTOCOL" => {
                return Err(EnvironError::Required { key: key.to_owned() });
            }
            _ if key.starts_with("wsgi.") => {
                return Err(EnvironError::Required { key: key.to_owned() });
            }
            _ if key.starts_with("HTTP_") => {
                self.remove_headers(key);
                self.vars.remove(key);
            }
            _ => drop(self.vars.remove(key)),
        }
        Ok(old)
    }

    /// Stores a typed value under `key` (an extension key such as
    /// `myapp.session`, lower-case with a dot, as PEP 3333 suggests).
    pub fn insert_value<T: EnvValue>(&mut self, key: impl Into<String>, value: T) {
        self.vars.insert(key.into(), Var::Value(Box::new(value)));
    }

    /// The typed value under `key`, if it is a `T`.
    pub fn value<T: EnvValue>(&self, key: &str) -> Option<&T> {
        match self.vars.get(key)? {
            Var::Value(v) => (&**v as &dyn Any).downcast_ref(),
            Var::Str(_) => None,
        }
    }

    /// The typed value under `key`, mutably, if it is a `T`.
    pub fn value_mut<T: EnvValue>(&mut self, key: &str) -> Option<&mut T> {
        match self.vars.get_mut(key)? {
            Var::Value(v) => (&mut **v as &mut dyn Any).downcast_mut(),
            Var::Str(_) => None,
        }
    }

    /// The timer of the backend serving this request. Outside a server it is
    /// a [`ThreadTimer`].
    pub fn timer(&self) -> Arc<dyn Timer> {
        self.timer.clone().unwrap_or_else(|| Arc::new(ThreadTimer))
    }

    /// Sets the timer; backends do this for every request.
    pub fn set_timer(&mut self, timer: Arc<dyn Timer>) {
        self.timer = Some(timer);
    }

    /// Waits `duration` on the serving backend's runtime, without holding a
    /// thread: the way an async body waits.
    pub fn sleep(&self, duration: Duration) -> std::pin::Pin<Box<dyn Sleep>> {
        self.timer().sleep(duration)
    }

    /// The request URL rebuilt by PEP 3333's recipe: `HTTP_HOST` as given
    /// (a `:443` in it stays), else `SERVER_NAME` plus `:SERVER_PORT` unless
    /// it is the scheme's default; then the quoted `SCRIPT_NAME` and
    /// `PATH_INFO`, and `?QUERY_STRING` when non-empty. (werkzeug's
    /// `url_root` strips default ports from the host; this does not.)
    pub fn request_url(&self) -> String {
        let mut url = format!("{}://", self.url_scheme);
        match self.get("HTTP_HOST").filter(|h| !h.is_empty()) {
            Some(host) => url.push_str(&host),
            None => {
                url.push_str(&self.server_name);
                let default = if self.url_scheme == "https" { "443" } else { "80" };
                if self.server_port != default {
                    url.push(':');
                    url.push_str(&self.server_port);
                }
            }
        }
        quote_into(&mut url, &self.script_name);
        quote_into(&mut url, &self.path_info);
        if !self.query_string.is_empty() {
            url.push('?');
            url.push_str(&self.query_string);
        }
        url
    }

    /// The value of the header(s) whose environ key is `key`: the one named
    /// `canonical`, and any whose name has characters other than letters,
    /// digits and `-` (`X.Dotted`, or `X_Foo` kept by
    /// [`UnderscoreHeaders::Keep`](crate::UnderscoreHeaders::Keep)) that maps
    /// to the same key. Repeats are joined with `,` (`; ` for cookies).
    fn header(&self, key: &str, canonical: Option<&HeaderName>) -> Option<Cow<'_, str>> {
        let canonical = canonical.filter(|n| self.headers.contains_key(*n));
        let mut names = canonical.into_iter().chain(
            self.headers
                .keys()
                .filter(|n| !is_canonical(n) && cgi_key(n) == key),
        );
        let first_name = names.next()?;
        let separator = if key == "HTTP_COOKIE" { "; " } else { "," };
        let mut values = std::iter::once(first_name)
            .chain(names)
            .flat_map(|name| self.headers.get_all(name).iter());
        let first = values.next()?;
        let Some(second) = values.next() else {
            return Some(latin1::decode(first.as_bytes()));
        };
        let mut joined = latin1::decode(first.as_bytes()).into_owned();
        for value in std::iter::once(second).chain(values) {
            joined.push_str(separator);
            joined.push_str(&latin1::decode(value.as_bytes()));
        }
        Some(Cow::Owned(joined))
    }

    /// Removes every header whose environ key is `key`.
    fn remove_headers(&mut self, key: &str) {
        let names: Vec<HeaderName> = self
            .headers
            .keys()
            .filter(|n| cgi_key(n) == key)
            .cloned()
            .collect();
        for name in names {
            self.headers.remove(name);
        }
    }

    fn set_header(&mut self, key: &str, name: HeaderName, value: &str) -> Result<(), EnvironError> {
        let bytes = latin1::encode(value).ok_or_else(|| EnvironError::NotLatin1 { key: key.to_owned() })?;
        let value = HeaderValue::from_bytes(&bytes)
            .map_err(|_| invalid(key, "header values may not hold CR, LF or NUL"))?;
        self.headers.insert(name, value);
        Ok(())
    }
}

impl Default for Environ {
    fn default() -> Self {
        Environ::new()
    }
}

impl fmt::Debug for Environ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.to_pairs()).finish()
    }
}

fn invalid(key: &str, why: &'static str) -> EnvironError {
    EnvironError::InvalidValue {
        key: key.to_owned(),
        why,
    }
}

fn python_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, EnvironError> {
    match value {
        "True" | "true" | "1" => Ok(true),
        "False" | "false" | "0" | "" => Ok(false),
        _ => Err(invalid(key, "a flag is True or False")),
    }
}

/// The header an `HTTP_*` key names: `None` if `key` is not an `HTTP_` key,
/// `Some(None)` for the two names PEP 3333 keeps without the prefix.
fn header_name(key: &str) -> Option<Option<HeaderName>> {
    let rest = key.strip_prefix("HTTP_")?;
    if rest.is_empty()
        || !rest
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    if rest == "CONTENT_TYPE" || rest == "CONTENT_LENGTH" {
        return Some(None);
    }
    let lower: Vec<u8> = rest
        .bytes()
        .map(|b| if b == b'_' { b'-' } else { b.to_ascii_lowercase() })
        .collect();
    Some(HeaderName::from_bytes(&lower).ok())
}

/// Whether a header name is all lower-case letters, digits and `-`, so
/// that [`header_name`] finds it from its environ key.
fn is_canonical(name: &HeaderName) -> bool {
    name.as_str()
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The environ key of a header: `CONTENT_TYPE`, `CONTENT_LENGTH`, or
/// `HTTP_` plus the upper-cased name with `-` as `_`.
pub(crate) fn cgi_key(name: &HeaderName) -> String {
    if name == CONTENT_TYPE {
        return "CONTENT_TYPE".to_owned();
    }
    if name == CONTENT_LENGTH {
        return "CONTENT_LENGTH".to_owned();
    }
    let mut key = String::with_capacity(5 + name.as_str().len());
    key.push_str("HTTP_");
    key.extend(name.as_str().chars().map(|c| match c {
        '-' => '_',
        c => c.to_ascii_uppercase(),
    }));
    key
}

/// Appends `path` percent-encoded as Python's `quote(path)` does (`/` kept).
fn quote_into(url: &mut String, path: &str) {
    use std::fmt::Write;
    let bytes = latin1::encode(path).unwrap_or(Cow::Borrowed(path.as_bytes()));
    for &b in bytes.iter() {
        if b.is_ascii_alphanumeric() || b"/_.-~".contains(&b) {
            url.push(char::from(b));
        } else {
            let _ = write!(url, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_keys_map_both_ways() {
        let mut environ = Environ::new();
        environ.set("HTTP_X_FORWARDED_FOR", "1.2.3.4").unwrap();
        environ.set("CONTENT_TYPE", "text/plain").unwrap();
        assert_eq!(environ.headers["x-forwarded-for"], "1.2.3.4");
        assert_eq!(environ.headers["content-type"], "text/plain");
        assert_eq!(environ.get("HTTP_CONTENT_TYPE"), None);
        assert!(environ.set("HTTP_CONTENT_LENGTH", "3").is_err());
        let keys: Vec<String> = environ.to_pairs().into_iter().map(|(k, _)| k).collect();
        assert!(keys.contains(&"CONTENT_TYPE".to_owned()));
        assert!(keys.contains(&"HTTP_X_FORWARDED_FOR".to_owned()));
        assert_eq!(
            environ.remove("HTTP_X_FORWARDED_FOR").unwrap().as_deref(),
            Some("1.2.3.4")
        );
        assert!(!environ.contains_key("HTTP_X_FORWARDED_FOR"));
    }

    #[test]
    fn repeated_headers_join_and_cookies_join_with_semicolons() {
        let mut environ = Environ::new();
        environ
            .headers
            .append("x-forwarded-for", HeaderValue::from_static("a"));
        environ
            .headers
            .append("x-forwarded-for", HeaderValue::from_static("b"));
        environ.headers.append("cookie", HeaderValue::from_static("x=1"));
        environ.headers.append("cookie", HeaderValue::from_static("y=2"));
        assert_eq!(environ.get("HTTP_X_FORWARDED_FOR").unwrap(), "a,b");
        assert_eq!(environ.get("HTTP_COOKIE").unwrap(), "x=1; y=2");
    }

    #[test]
    fn header_values_are_latin1() {
        let mut environ = Environ::new();
        environ
            .headers
            .insert("x-name", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(environ.get("HTTP_X_NAME").unwrap(), "caf\u{e9}");
        assert_eq!(
            environ.set("HTTP_X_NAME", "\u{2603}"),
            Err(EnvironError::NotLatin1 {
                key: "HTTP_X_NAME".into()
            })
        );
        assert!(environ.set("HTTP_X_NAME", "a\r\nb").is_err());
    }

    #[test]
    fn pairs_round_trip() {
        let mut environ = Environ::new();
        environ.set("PATH_INFO", "/x").unwrap();
        environ.set("HTTPS", "on").unwrap();
        environ.set("wsgi.multithread", "True").unwrap();
        environ.set("HTTP_HOST", "example.com").unwrap();
        let pairs = environ.to_pairs();
        let mut sorted = pairs.clone();
        sorted.sort();
        assert_eq!(pairs, sorted);
        let again = Environ::from_pairs(pairs.clone()).unwrap();
        assert_eq!(again.to_pairs(), pairs);
        assert!(again.multithread);
    }

    #[test]
    fn required_keys_cannot_be_removed() {
        let mut environ = Environ::new();
        assert!(environ.remove("SERVER_NAME").is_err());
        assert!(environ.remove("wsgi.url_scheme").is_err());
        assert_eq!(environ.remove("QUERY_STRING").unwrap().as_deref(), Some(""));
        assert!(matches!(
            environ.set("wsgi.input", "x"),
            Err(EnvironError::NotAString { .. })
        ));
        assert!(Environ::from_pairs([("wsgi.version", "(2, 0)")]).is_err());
    }

    #[test]
    fn typed_values_show_in_dumps() {
        let mut environ = Environ::new();
        environ.insert_value("myapp.count", 41_u32);
        *environ.value_mut::<u32>("myapp.count").unwrap() += 1;
        assert_eq!(environ.value::<u32>("myapp.count"), Some(&42));
        assert_eq!(environ.value::<String>("myapp.count"), None);
        assert_eq!(environ.get("myapp.count").unwrap(), "42");
    }

    #[test]
    fn request_url_follows_pep_3333() {
        let mut environ = Environ::from_pairs([
            ("SERVER_NAME", "example.com"),
            ("SERVER_PORT", "8080"),
            ("SCRIPT_NAME", "/app"),
            ("PATH_INFO", "/a b"),
            ("QUERY_STRING", "x=1"),
        ])
        .unwrap();
        assert_eq!(environ.request_url(), "http://example.com:8080/app/a%20b?x=1");
        environ.set("wsgi.url_scheme", "https").unwrap();
        environ.set("HTTP_HOST", "eggs:443").unwrap();
        assert_eq!(environ.request_url(), "https://eggs:443/app/a%20b?x=1");
    }
}
