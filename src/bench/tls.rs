//! TLS for `rwsgi bench`: a self-signed certificate made at the start of a
//! run, and the client of the TLS loads.
//!
//! The certificate is rcgen's default, an ECDSA P-256 key signing with
//! SHA-256, for `localhost` and `127.0.0.1`; servers get it with
//! `--certfile`/`--keyfile` and an `https://` bind. The client is rustls on
//! the ring provider (as the servers are), with its default protocol
//! versions, cipher suites and key-exchange groups, trusting that one
//! certificate only and asking for `localhost` (so it sends SNI), ALPN
//! `http/1.1`. Session resumption is off — no session cache; the tickets
//! the server issues are dropped — and every handshake is checked to have
//! been a full one, so a handshake rate is a rate of full handshakes.
//!
//! Without the `tls` feature the same [`Setup`] exists but cannot be made:
//! the runner then has nothing to run with it.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

use super::load::{LoadOptions, LoadReport};

/// The name the client asks for (SNI) and checks the certificate against.
pub const SERVER_NAME: &str = "localhost";

/// The certificate, as the report describes it.
pub const CERTIFICATE: &str =
    "self-signed ECDSA P-256 (SHA-256) certificate for localhost and 127.0.0.1, made by rcgen";

#[cfg(feature = "tls")]
pub use with_tls::{Client, Setup};

#[cfg(not(feature = "tls"))]
pub use without_tls::Setup;

#[cfg(feature = "tls")]
mod with_tls {
    use std::path::PathBuf;
    use std::sync::Arc;

    use rustls::client::Resumption;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::{ClientConfig, ClientConnection, CommonState, HandshakeKind, RootCertStore, StreamOwned};

    use super::super::load::{Connector, drive_fresh, drive_over};
    use super::super::server::{get, probe_connect};
    use super::*;

    /// The certificate and key files of a run, and the client that trusts
    /// them.
    #[derive(Clone, Debug)]
    pub struct Setup {
        cert_file: PathBuf,
        key_file: PathBuf,
        client: Client,
    }

    impl Setup {
        /// Makes a certificate and its key (see the module docs) as
        /// `bench-cert.pem` and `bench-key.pem` in `dir`, the key readable
        /// by this user only.
        ///
        /// # Errors
        ///
        /// When the key cannot be made or the files cannot be written.
        pub fn generate(dir: &Path) -> io::Result<Setup> {
            let names = vec![SERVER_NAME.to_owned(), "127.0.0.1".to_owned()];
            let made = rcgen::generate_simple_self_signed(names)
                .map_err(|e| io::Error::other(format!("making the certificate: {e}")))?;
            let cert_file = dir.join("bench-cert.pem");
            let key_file = dir.join("bench-key.pem");
            std::fs::write(&cert_file, made.cert.pem())?;
            write_private(&key_file, made.signing_key.serialize_pem().as_bytes())?;
            Ok(Setup {
                cert_file,
                key_file,
                client: Client::trusting(made.cert.der().clone())?,
            })
        }

        /// The certificate (PEM).
        pub fn cert_file(&self) -> &Path {
            &self.cert_file
        }

        /// Its private key (PEM, PKCS#8).
        pub fn key_file(&self) -> &Path {
            &self.key_file
        }

        /// The client the loads use.
        pub fn client(&self) -> &Client {
            &self.client
        }

        /// A handshake and a `GET /` (blocking, a probe's deadlines): `Ok`
        /// on a 2xx answer, with what was negotiated, e.g. `TLSv1_3,
        /// TLS13_AES_256_GCM_SHA384, X25519`.
        ///
        /// # Errors
        ///
        /// When nothing listens, the handshake fails or is not a full one,
        /// or the answer is not a 2xx.
        pub fn probe(&self, addr: SocketAddr) -> io::Result<String> {
            let connection = ClientConnection::new(Arc::clone(&self.client.config), self.client.name.clone())
                .map_err(io::Error::other)?;
            let mut stream = StreamOwned::new(connection, probe_connect(addr)?);
            get(&mut stream)?;
            full(&stream.conn)?;
            Ok(negotiated(&stream.conn))
        }

        /// The keep-alive load ([`drive_over`]) over TLS.
        ///
        /// # Errors
        ///
        /// When the connections cannot be opened.
        pub fn load(&self, addr: SocketAddr, options: &LoadOptions) -> io::Result<LoadReport> {
            drive_over(addr, options, &self.client)
        }

        /// The fresh-connection load ([`drive_fresh`]) over TLS: one full
        /// handshake per request.
        ///
        /// # Errors
        ///
        /// When `options` asks for pipelining, or the runtime cannot start.
        pub fn handshakes(&self, addr: SocketAddr, options: &LoadOptions) -> io::Result<LoadReport> {
            drive_fresh(addr, options, &self.client)
        }
    }

    /// Writes `bytes` to a new file at `path` that only this user may read.
    fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?
            .write_all(bytes)
    }

    /// The TLS client: a [`Connector`] that handshakes on each socket and
    /// refuses a resumed session.
    #[derive(Clone)]
    pub struct Client {
        config: Arc<ClientConfig>,
        connector: tokio_rustls::TlsConnector,
        name: ServerName<'static>,
    }

    impl std::fmt::Debug for Client {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Client")
                .field("name", &self.name)
                .field("resumption", &self.config.resumption)
                .finish_non_exhaustive()
        }
    }

    impl Client {
        /// A client (see the module docs) trusting `cert` alone.
        fn trusting(cert: CertificateDer<'static>) -> io::Result<Client> {
            let mut roots = RootCertStore::empty();
            roots.add(cert).map_err(io::Error::other)?;
            let mut config =
                ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                    .with_protocol_versions(rustls::DEFAULT_VERSIONS)
                    .map_err(io::Error::other)?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
            // Every connection pays for a full handshake: nothing is kept
            // from one connection to resume the next.
            config.resumption = Resumption::disabled();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Client::with_config(config)
        }

        fn with_config(config: ClientConfig) -> io::Result<Client> {
            let config = Arc::new(config);
            Ok(Client {
                connector: tokio_rustls::TlsConnector::from(Arc::clone(&config)),
                config,
                name: ServerName::try_from(SERVER_NAME).map_err(io::Error::other)?,
            })
        }
    }

    impl Connector for Client {
        type Stream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

        async fn connect(&self, tcp: tokio::net::TcpStream) -> io::Result<Self::Stream> {
            let stream = self.connector.connect(self.name.clone(), tcp).await?;
            full(stream.get_ref().1)?;
            Ok(stream)
        }
    }

    /// `Ok` when the handshake done on `connection` was a full one.
    fn full(connection: &CommonState) -> io::Result<()> {
        match connection.handshake_kind() {
            Some(HandshakeKind::Full | HandshakeKind::FullWithHelloRetryRequest) => Ok(()),
            other => Err(io::Error::other(format!(
                "the handshake was {other:?}, not a full one (a resumed session would not measure a handshake)"
            ))),
        }
    }

    /// Protocol version, cipher suite and key-exchange group.
    fn negotiated(connection: &CommonState) -> String {
        let or_none = |s: Option<String>| s.unwrap_or_else(|| "?".into());
        format!(
            "{}, {}, {}",
            or_none(connection.protocol_version().map(|v| format!("{v:?}"))),
            or_none(
                connection
                    .negotiated_cipher_suite()
                    .map(|s| format!("{:?}", s.suite()))
            ),
            or_none(
                connection
                    .negotiated_key_exchange_group()
                    .map(|g| format!("{:?}", g.name()))
            ),
        )
    }

    #[cfg(test)]
    mod tests {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::time::Duration;

        use super::super::super::load::testing::responder;
        use super::super::super::load::{Limit, REQUEST_CLOSE};
        use super::*;

        /// A TLS responder in this process (`load::testing::responder`)
        /// with the server configuration `rwsgi` itself loads from the
        /// generated files (rwsgi-core's loader: ring, ALPN, session tickets
        /// as rustls issues them). Returns its address and the number of
        /// full handshakes it has completed.
        fn server(setup: &Setup) -> (SocketAddr, Arc<AtomicU64>) {
            let settings = rwsgi_core::tls::TlsConfig::new(setup.cert_file(), setup.key_file());
            let loaded =
                rwsgi_core::tls::LoadedTls::load(&settings).expect("rwsgi loads the generated files");
            let acceptor = tokio_rustls::TlsAcceptor::from(loaded.server_config());
            let full_handshakes = Arc::new(AtomicU64::new(0));
            let counted = Arc::clone(&full_handshakes);
            let addr = responder(move |tcp| {
                let (acceptor, counted) = (acceptor.clone(), Arc::clone(&counted));
                async move {
                    let stream = acceptor.accept(tcp).await.ok()?;
                    if full(stream.get_ref().1).is_ok() {
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(stream)
                }
            });
            (addr, full_handshakes)
        }

        /// A folder of its own, removed when dropped (a failed test
        /// included).
        struct Folder(PathBuf);

        impl Drop for Folder {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }

        /// A setup generated into a new folder.
        fn generated() -> (Setup, Folder) {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "rwsgi-bench-tls-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            (Setup::generate(&dir).unwrap(), Folder(dir))
        }

        fn fresh(connections: usize, requests: u64) -> LoadOptions {
            let mut options =
                LoadOptions::hello(connections, Limit::Either(requests, Duration::from_secs(60)));
            options.request = REQUEST_CLOSE.to_vec();
            options
        }

        #[test]
        fn the_generated_files_serve_and_the_probe_says_what_was_negotiated() {
            let (setup, _folder) = generated();
            let mode = std::fs::metadata(setup.key_file()).unwrap().permissions();
            assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);
            let (addr, full_handshakes) = server(&setup);
            // The listener is bound before `server` returns: no wait.
            let negotiated = setup.probe(addr).unwrap();
            assert!(negotiated.starts_with("TLSv1_3, TLS13_"), "{negotiated}");
            assert!(!negotiated.contains('?'), "{negotiated}");
            assert_eq!(full_handshakes.load(Ordering::Relaxed), 1);
            // A plain-HTTP probe is no TLS client.
            assert!(super::super::super::server::probe(addr).is_err());
            // Another run's certificate is not trusted.
            let (other, _other_folder) = generated();
            let refused = other.probe(addr).unwrap_err();
            assert!(refused.to_string().contains("certificate"), "{refused}");
        }

        #[test]
        fn every_fresh_connection_is_a_full_handshake() {
            let (setup, _folder) = generated();
            let (addr, full_handshakes) = server(&setup);
            let report = setup.handshakes(addr, &fresh(4, 40)).unwrap();
            assert_eq!((report.requests, report.errors), (40, 0));
            assert_eq!(full_handshakes.load(Ordering::Relaxed), 40);
            assert!(report.p99 >= report.p50 && report.p50 > Duration::ZERO);

            // A client that keeps sessions resumes the second connection,
            // and the load refuses it instead of counting it.
            let mut resuming = (*setup.client().config).clone();
            resuming.resumption = Resumption::default();
            let resuming = Client::with_config(resuming).unwrap();
            let report = drive_fresh(addr, &fresh(1, 5), &resuming).unwrap();
            assert_eq!((report.requests, report.errors), (1, 1));
        }

        #[test]
        fn the_keep_alive_load_runs_over_tls() {
            let (setup, _folder) = generated();
            let (addr, full_handshakes) = server(&setup);
            let report = setup
                .load(addr, &LoadOptions::hello(8, Limit::Requests(400)))
                .unwrap();
            assert_eq!((report.requests, report.errors), (400, 0));
            // One handshake per connection, however many requests.
            assert_eq!(full_handshakes.load(Ordering::Relaxed), 8);
        }
    }
}

#[cfg(not(feature = "tls"))]
mod without_tls {
    use super::*;

    /// TLS is not compiled in: no setup can be made.
    #[derive(Clone, Debug)]
    pub enum Setup {}

    impl Setup {
        /// Always fails: TLS is not compiled in.
        ///
        /// # Errors
        ///
        /// Always.
        pub fn generate(_dir: &Path) -> io::Result<Setup> {
            Err(io::Error::other(
                "TLS is not compiled into this binary (rebuild with `--features tls`)",
            ))
        }

        /// Never called: there is no setup.
        pub fn cert_file(&self) -> &Path {
            match *self {}
        }

        /// Never called: there is no setup.
        pub fn key_file(&self) -> &Path {
            match *self {}
        }

        /// Never called: there is no setup.
        ///
        /// # Errors
        ///
        /// None.
        pub fn probe(&self, _addr: SocketAddr) -> io::Result<String> {
            match *self {}
        }

        /// Never called: there is no setup.
        ///
        /// # Errors
        ///
        /// None.
        pub fn load(&self, _addr: SocketAddr, _options: &LoadOptions) -> io::Result<LoadReport> {
            match *self {}
        }

        /// Never called: there is no setup.
        ///
        /// # Errors
        ///
        /// None.
        pub fn handshakes(&self, _addr: SocketAddr, _options: &LoadOptions) -> io::Result<LoadReport> {
            match *self {}
        }
    }
}
