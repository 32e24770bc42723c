//! [`TlsConfig`] into a rustls server configuration, checked at start and
//! swappable at run time.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

use super::{ClientAuth, TlsConfig, TlsError};

/// TLS settings loaded into a rustls configuration, shared by a server's
/// listeners. [`reload`](LoadedTls::reload) swaps it for one read afresh
/// from the same files: new handshakes use it, connections already open
/// keep theirs.
pub struct LoadedTls {
    settings: TlsConfig,
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl LoadedTls {
    /// Reads and checks the files `settings` names.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] naming the file: unreadable, without a certificate or
    /// key, a key that does not match the certificate, a certificate out of
    /// its validity period, a client CA that does not parse, an encrypted
    /// key without its password or with a wrong one.
    pub fn load(settings: &TlsConfig) -> Result<Arc<LoadedTls>, TlsError> {
        Ok(Arc::new(LoadedTls {
            current: RwLock::new(Arc::new(server_config(settings)?)),
            settings: settings.clone(),
        }))
    }

    /// The configuration a new handshake uses.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The settings it was loaded from.
    pub fn settings(&self) -> &TlsConfig {
        &self.settings
    }

    /// Reads the files again; on success new handshakes use them, on error
    /// the configuration in use stays (and the error says why).
    ///
    /// # Errors
    ///
    /// As [`load`](LoadedTls::load).
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(server_config(&self.settings)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }
}

impl std::fmt::Debug for LoadedTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedTls")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TlsError {
    fn new(file: &Path, why: impl Into<String>) -> Self {
        TlsError {
            file: file.to_owned(),
            why: why.into(),
        }
    }
}

fn server_config(settings: &TlsConfig) -> Result<rustls::ServerConfig, TlsError> {
    let mut chain = certificates(&settings.cert_file)?;
    check_validity(&settings.cert_file, &chain[0])?;
    if let Some(extra) = &settings.extra_chain_file {
        chain.extend(certificates(extra)?);
    }
    let key = private_key(&settings.key_file, settings.key_password.as_deref())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|e| TlsError::new(&settings.cert_file, e.to_string()))?;
    let builder = match (&settings.client_ca_file, settings.client_auth) {
        (_, ClientAuth::None) => builder.with_no_client_auth(),
        (None, _) => {
            return Err(TlsError::new(
                &settings.cert_file,
                "client certificates are asked for, but no client CA file is given to check them",
            ));
        }
        (Some(ca_file), auth) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(ca_file)? {
                roots
                    .add(cert)
                    .map_err(|e| TlsError::new(ca_file, format!("a CA certificate is not usable: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::new(ca_file, e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::new(
            &settings.key_file,
            format!(
                "the key does not match the certificate in {}",
                settings.cert_file.display()
            ),
        ),
        other => TlsError::new(&settings.key_file, other.to_string()),
    })?;
    // HTTP/1.1 only: a client that offers only h2 is refused in the handshake.
    config.alpn_protocols = vec![b"http/1.1".to_vec(), b"http/1.0".to_vec()];
    Ok(config)
}

fn read(file: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(file).map_err(|e| TlsError::new(file, format!("cannot read it: {e}")))
}

fn certificates(file: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(file)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::new(file, format!("not a PEM certificate file: {e}")))?;
    if chain.is_empty() {
        return Err(TlsError::new(
            file,
            "no certificate in it (expected PEM \"BEGIN CERTIFICATE\")",
        ));
    }
    Ok(chain)
}

/// A certificate out of its validity period would make every client
/// refuse the server: refused at start rather than at the first handshake.
fn check_validity(file: &Path, cert: &CertificateDer<'_>) -> Result<(), TlsError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert)
        .map_err(|e| TlsError::new(file, format!("the certificate does not parse: {e}")))?;
    let validity = parsed.validity();
    let now = x509_parser::time::ASN1Time::now();
    if now > validity.not_after {
        return Err(TlsError::new(
            file,
            format!("the certificate expired on {}", validity.not_after),
        ));
    }
    if now < validity.not_before {
        return Err(TlsError::new(
            file,
            format!("the certificate is not valid before {}", validity.not_before),
        ));
    }
    Ok(())
}

fn private_key(file: &Path, password: Option<&str>) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(file)?;
    let text = String::from_utf8_lossy(&pem);
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(TlsError::new(
            file,
            "the key is encrypted in OpenSSL's legacy format; convert it with `openssl pkcs8 -topk8 -in KEY -out NEW`",
        ));
    }
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let Some(password) = password else {
            return Err(TlsError::new(
                file,
                "the key is encrypted: its password is needed",
            ));
        };
        let (_, document) = pkcs8::der::Document::from_pem(&text)
            .map_err(|e| TlsError::new(file, format!("the encrypted key does not parse: {e}")))?;
        let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(document.as_bytes())
            .map_err(|e| TlsError::new(file, format!("the encrypted key does not parse: {e}")))?;
        let decrypted = encrypted
            .decrypt(password)
            .map_err(|_| TlsError::new(file, "the password is wrong (or the key is damaged)"))?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            decrypted.as_bytes().to_vec(),
        )));
    }
    if password.is_some() {
        return Err(TlsError::new(
            file,
            "a password was given, but the key is not encrypted",
        ));
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        TlsError::new(
            file,
            format!("no usable private key in it (PKCS#8, PKCS#1 or SEC1 PEM): {e}"),
        )
    })
}
