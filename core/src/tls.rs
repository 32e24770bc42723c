//! TLS settings, and (with the `tls` feature) loading them into a rustls
//! server configuration that every backend hands its handshakes.
//!
//! The settings are plain data, configured once in
//! [`Config::tls`](crate::Config::tls), whatever the backend; each
//! personality maps its own flags onto them (gunicorn's `--certfile`,
//! `--keyfile`, `--ca-certs`, `--cert-reqs`; twisted's `ssl:` endpoints;
//! tornado's `ssl_options`; gevent's `keyfile=`/`certfile=`; uwsgi's
//! `--https`). Loading checks everything an operator can get wrong —
//! unreadable files, no certificate, a key that does not match it, an
//! expired certificate, an encrypted key without (or with a wrong)
//! password — and names the file in the error, before the server binds.
//!
//! ```no_run
//! use rwsgi_core::tls::TlsConfig;
//! let mut config = rwsgi_core::Config::default();
//! config.binds = vec!["127.0.0.1:8443".parse()?];
//! config.tls = Some(TlsConfig::new("cert.pem", "key.pem"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Whether clients must present a certificate (gunicorn's `--cert-reqs`:
/// 0, 1, 2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is asked for (`CERT_NONE`, the default).
    #[default]
    None,
    /// One is asked for and checked against the client CA if given
    /// (`CERT_OPTIONAL`).
    Optional,
    /// Connections without a valid one are refused (`CERT_REQUIRED`).
    Required,
}

/// Which of the server's listeners speak TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TlsListeners {
    /// Every listener (gunicorn's `--certfile` makes every bind TLS).
    #[default]
    All,
    /// The listeners at these positions, in the order the server holds
    /// them (as [`ProxyProtocol::Listeners`](crate::ProxyProtocol)):
    /// `https://` binds beside plain ones, twisted's `ssl:` endpoints
    /// beside `tcp:` ones.
    Only(Vec<usize>),
}

impl TlsListeners {
    /// Whether the listener at `index` speaks TLS.
    pub fn applies_to(&self, index: usize) -> bool {
        match self {
            TlsListeners::All => true,
            TlsListeners::Only(list) => list.contains(&index),
        }
    }
}

/// TLS settings. Build with [`TlsConfig::new`] and set the rest.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The certificate chain, PEM, the server's own certificate first.
    pub cert_file: PathBuf,
    /// More certificates of the chain, PEM, sent after `cert_file`'s
    /// (twisted's `extraCertChain`). Default: none.
    pub extra_chain_file: Option<PathBuf>,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1; PKCS#8 may be
    /// encrypted, with [`key_password`](Self::key_password)).
    pub key_file: PathBuf,
    /// The password of an encrypted key. Default: none.
    pub key_password: Option<String>,
    /// CA certificates, PEM, that client certificates must chain to.
    /// Default: none (any client certificate asked for is refused).
    pub client_ca_file: Option<PathBuf>,
    /// Whether clients must present a certificate. Default:
    /// [`ClientAuth::None`].
    pub client_auth: ClientAuth,
    /// How long a client has to complete the handshake before the
    /// connection is closed. Default: 10 s.
    pub handshake_timeout: Duration,
    /// Which listeners speak TLS. Default: [`TlsListeners::All`].
    pub listeners: TlsListeners,
}

impl TlsConfig {
    /// TLS with this certificate chain and key, on every listener, with
    /// the defaults above.
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> Self {
        TlsConfig {
            cert_file: cert_file.into(),
            extra_chain_file: None,
            key_file: key_file.into(),
            key_password: None,
            client_ca_file: None,
            client_auth: ClientAuth::None,
            handshake_timeout: Duration::from_secs(10),
            listeners: TlsListeners::All,
        }
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cert_file", &self.cert_file)
            .field("extra_chain_file", &self.extra_chain_file)
            .field("key_file", &self.key_file)
            .field("key_password", &self.key_password.as_ref().map(|_| "…"))
            .field("client_ca_file", &self.client_ca_file)
            .field("client_auth", &self.client_auth)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("listeners", &self.listeners)
            .finish()
    }
}

/// What is wrong with the TLS settings: the file and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsError {
    /// The file concerned.
    pub file: PathBuf,
    /// What is wrong with it.
    pub why: String,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS: {}: {}", self.file.display(), self.why)
    }
}

impl std::error::Error for TlsError {}

impl From<TlsError> for std::io::Error {
    fn from(err: TlsError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, err)
    }
}

impl ClientAuth {
    /// gunicorn's `--cert-reqs` (Python's `ssl.CERT_NONE`, `CERT_OPTIONAL`,
    /// `CERT_REQUIRED`: 0, 1, 2).
    ///
    /// # Errors
    ///
    /// Any other number, with what is accepted.
    pub fn from_cert_reqs(n: u8) -> Result<Self, String> {
        match n {
            0 => Ok(ClientAuth::None),
            1 => Ok(ClientAuth::Optional),
            2 => Ok(ClientAuth::Required),
            _ => Err(format!(
                "cert-reqs {n}: expected 0 (none), 1 (optional) or 2 (required)"
            )),
        }
    }
}

/// TLS settings from the flags every personality shares in some form
/// (gunicorn's `--certfile`, `--keyfile`, `--ca-certs`, `--cert-reqs`),
/// and which of `binds` (as written, `https://` marking TLS ones) speak
/// TLS: the `https://` ones if any, else all of them once a certificate is
/// given. Returns the binds without their scheme.
///
/// ```
/// use rwsgi_core::tls::{self, ClientAuth, TlsListeners};
/// let (binds, tls) = tls::from_flags(
///     &["127.0.0.1:8000", "https://127.0.0.1:8443"],
///     Some("cert.pem".as_ref()), Some("key.pem".as_ref()), None, ClientAuth::None,
/// )?;
/// assert_eq!(binds, ["127.0.0.1:8000", "127.0.0.1:8443"]);
/// assert_eq!(tls.unwrap().listeners, TlsListeners::Only(vec![1]));
/// # Ok::<(), String>(())
/// ```
///
/// # Errors
///
/// A certificate without a key or the reverse, `https://` binds or client
/// settings without a certificate.
pub fn from_flags<'a>(
    binds: &[&'a str],
    cert_file: Option<&std::path::Path>,
    key_file: Option<&std::path::Path>,
    client_ca_file: Option<&std::path::Path>,
    client_auth: ClientAuth,
) -> Result<(Vec<&'a str>, Option<TlsConfig>), String> {
    let (plain, marked): (Vec<&str>, Vec<bool>) = binds.iter().map(|b| split_scheme(b)).unzip();
    let https: Vec<usize> = marked
        .iter()
        .enumerate()
        .filter(|(_, m)| **m)
        .map(|(i, _)| i)
        .collect();
    let tls = match (cert_file, key_file) {
        (Some(cert), Some(key)) => {
            let mut tls = TlsConfig::new(cert, key);
            tls.client_ca_file = client_ca_file.map(Into::into);
            tls.client_auth = client_auth;
            if !https.is_empty() {
                tls.listeners = TlsListeners::Only(https);
            }
            Some(tls)
        }
        (Some(_), None) => return Err("a certificate file needs its key file (--keyfile)".into()),
        (None, Some(_)) => return Err("a key file needs its certificate file (--certfile)".into()),
        (None, None) if !https.is_empty() => {
            return Err("https:// binds need a certificate and key (--certfile, --keyfile)".into());
        }
        (None, None) if client_ca_file.is_some() || client_auth != ClientAuth::None => {
            return Err("client certificate settings need TLS (--certfile, --keyfile)".into());
        }
        (None, None) => None,
    };
    Ok((plain, tls))
}

/// A bind written `https://ADDR` is a TLS bind of `ADDR`: the address
/// without the scheme, and whether it had it.
///
/// ```
/// assert_eq!(rwsgi_core::tls::split_scheme("https://[::1]:8443"), ("[::1]:8443", true));
/// assert_eq!(rwsgi_core::tls::split_scheme("127.0.0.1:80"), ("127.0.0.1:80", false));
/// ```
pub fn split_scheme(bind: &str) -> (&str, bool) {
    match bind.strip_prefix("https://") {
        Some(rest) => (rest, true),
        None => (bind.strip_prefix("http://").unwrap_or(bind), false),
    }
}

#[cfg(feature = "tls")]
mod load;
#[cfg(feature = "tls")]
pub use load::LoadedTls;

/// Built without the `tls` feature there is nothing to load: no value of
/// this type exists, so a listener's `Option<Arc<LoadedTls>>` is always
/// `None`, and [`load_for`] refuses a configuration that asks for TLS.
#[cfg(not(feature = "tls"))]
#[derive(Debug)]
pub enum LoadedTls {}

/// For backends, at start: the TLS a configuration asks for, loaded and
/// checked (`None` if it asks for none).
///
/// # Errors
///
/// `InvalidInput` with the [`TlsError`]: a file is wrong, or this build has
/// no TLS (the `tls` feature).
pub fn load_for(config: &crate::Config) -> std::io::Result<Option<std::sync::Arc<LoadedTls>>> {
    let Some(settings) = &config.tls else {
        return Ok(None);
    };
    #[cfg(feature = "tls")]
    return Ok(Some(LoadedTls::load(settings)?));
    #[cfg(not(feature = "tls"))]
    return Err(TlsError {
        file: settings.cert_file.clone(),
        why: "this build of rwsgi has no TLS: enable the `tls` feature".into(),
    }
    .into());
}

/// The scheme of the listener at `index` of a server configured by
/// `config`: `https` where it speaks TLS.
pub fn scheme(config: &crate::Config, index: usize) -> crate::Scheme {
    match &config.tls {
        Some(tls) if tls.listeners.applies_to(index) => crate::Scheme::Https,
        _ => crate::Scheme::Http,
    }
}

/// For backends: the loaded TLS of the listener at `index`, if it speaks
/// TLS.
pub fn for_listener(
    config: &crate::Config,
    loaded: &Option<std::sync::Arc<LoadedTls>>,
    index: usize,
) -> Option<std::sync::Arc<LoadedTls>> {
    let settings = config.tls.as_ref()?;
    settings
        .listeners
        .applies_to(index)
        .then(|| loaded.clone())
        .flatten()
}

/// For backends, run beside the accept loops until shutdown: every
/// [`ServerHandle::reload`](crate::ServerHandle::reload) re-reads the
/// certificate and key; a failure is logged and the old ones stay.
pub async fn reload_on_request(
    loaded: std::sync::Arc<LoadedTls>,
    handle: crate::ServerHandle,
    log: crate::Errors,
) {
    #[cfg(feature = "tls")]
    {
        use futures_lite::FutureExt;
        let mut seen = 0;
        loop {
            let requested = async {
                handle.reload_requested(&mut seen).await;
                true
            }
            .or(async {
                handle.shutdown_requested().await;
                false
            })
            .await;
            if !requested {
                return;
            }
            match loaded.reload() {
                Ok(()) => log.log(crate::Level::Info, format_args!("TLS certificate reloaded")),
                Err(err) => log.log(
                    crate::Level::Error,
                    format_args!("{err}; still using the previous one"),
                ),
            }
        }
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = (handle, log);
        match *loaded {}
    }
}
