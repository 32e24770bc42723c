//! Certificates made in the test (rcgen): a CA, a server certificate for
//! 127.0.0.1 and localhost it signed, and client certificates.

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};

use super::nginx::TempDir;

/// A certificate authority, its certificate written as `NAME-ca.pem`.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub pem: String,
    pub file: PathBuf,
}

/// A certificate and its key, written as PEM files (and, for clients, both
/// in one PEM as `reqwest::Identity` takes them).
pub struct Leaf {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub identity_pem: Vec<u8>,
}

impl Ca {
    pub fn new(dir: &TempDir, name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} test CA"));
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let pem = issuer.pem();
        let file = dir.path(&format!("{name}-ca.pem"));
        std::fs::write(&file, &pem).unwrap();
        Ca { issuer, pem, file }
    }

    /// A certificate for `names` signed by this CA, written as
    /// `FILE.pem` and `FILE-key.pem`.
    pub fn issue(&self, dir: &TempDir, file: &str, names: &[&str]) -> Leaf {
        let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        let cert_file = dir.path(&format!("{file}.pem"));
        let key_file = dir.path(&format!("{file}-key.pem"));
        std::fs::write(&cert_file, &cert_pem).unwrap();
        std::fs::write(&key_file, &key_pem).unwrap();
        Leaf {
            cert_file,
            key_file,
            identity_pem: format!("{cert_pem}{key_pem}").into_bytes(),
        }
    }

    /// A server certificate for this machine's loopback names.
    pub fn server(&self, dir: &TempDir, file: &str) -> Leaf {
        self.issue(dir, file, &["127.0.0.1", "localhost"])
    }
}

/// A blocking HTTPS client trusting `ca`, presenting `identity` if given.
pub fn client(ca: &Ca, identity: Option<&Leaf>) -> reqwest::blocking::Client {
    let mut builder = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap())
        .timeout(super::DEADLINE);
    if let Some(leaf) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(&leaf.identity_pem).unwrap());
    }
    builder.build().unwrap()
}
