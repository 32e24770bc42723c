//! Loading TLS settings: what works, and every mistake an operator can
//! make, each refused with the file named. Certificates are made here with
//! rcgen, in a temporary folder.

#![cfg(feature = "tls")]

use std::path::{Path, PathBuf};

use pkcs8::der::Decode;
use rcgen::{CertificateParams, KeyPair, date_time_ymd};
use rwsgi_core::tls::{ClientAuth, LoadedTls, TlsConfig};

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("rwsgi-core-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A self-signed certificate for localhost and its key, as PEM.
fn self_signed(params: CertificateParams) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

fn localhost() -> CertificateParams {
    CertificateParams::new(vec!["localhost".to_owned()]).unwrap()
}

/// A certificate and key written to `dir` as `cert.pem` and `key.pem`.
fn pair(dir: &Dir) -> (PathBuf, PathBuf) {
    let (cert, key) = self_signed(localhost());
    (dir.write("cert.pem", &cert), dir.write("key.pem", &key))
}

fn error(config: &TlsConfig) -> String {
    LoadedTls::load(config).expect_err("refused").to_string()
}

fn names(err: &str, file: &Path) {
    assert!(
        err.contains(&file.display().to_string()),
        "{err:?} does not name {}",
        file.display()
    );
}

#[test]
fn a_good_certificate_loads_and_reloads() {
    let dir = Dir::new("good");
    let (cert, key) = pair(&dir);
    let loaded = LoadedTls::load(&TlsConfig::new(&cert, &key)).unwrap();
    let first = loaded.server_config();
    assert_eq!(first.alpn_protocols, [b"http/1.1".to_vec(), b"http/1.0".to_vec()]);
    // New files in place: a reload makes a new configuration.
    pair(&dir);
    loaded.reload().unwrap();
    assert!(!std::sync::Arc::ptr_eq(&first, &loaded.server_config()));
    // A broken file: the reload fails and the configuration in use stays.
    let before = loaded.server_config();
    dir.write("key.pem", "not a key");
    let err = loaded.reload().unwrap_err().to_string();
    names(&err, &key);
    assert!(std::sync::Arc::ptr_eq(&before, &loaded.server_config()));
}

#[test]
fn missing_and_unreadable_files_are_named() {
    let dir = Dir::new("missing");
    let (cert, key) = pair(&dir);
    let nowhere = dir.0.join("nowhere.pem");
    let err = error(&TlsConfig::new(&nowhere, &key));
    names(&err, &nowhere);
    assert!(err.contains("cannot read"), "{err}");
    let err = error(&TlsConfig::new(&cert, &nowhere));
    names(&err, &nowhere);
    // A directory is not a file.
    let err = error(&TlsConfig::new(&dir.0, &key));
    names(&err, &dir.0);
}

#[test]
fn files_without_what_they_should_hold_are_named() {
    let dir = Dir::new("empty");
    let (cert, key) = pair(&dir);
    let junk = dir.write("junk.pem", "hello\n");
    let err = error(&TlsConfig::new(&junk, &key));
    names(&err, &junk);
    assert!(err.contains("no certificate"), "{err}");
    let err = error(&TlsConfig::new(&cert, &junk));
    names(&err, &junk);
    assert!(err.contains("private key"), "{err}");
    // The certificate given as the key, and the key as the certificate.
    names(&error(&TlsConfig::new(&cert, &cert)), &cert);
    names(&error(&TlsConfig::new(&key, &key)), &key);
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    let dir = Dir::new("mismatch");
    let (cert, _) = pair(&dir);
    let other = dir.write("other-key.pem", &KeyPair::generate().unwrap().serialize_pem());
    let err = error(&TlsConfig::new(&cert, &other));
    names(&err, &other);
    assert!(err.contains("does not match"), "{err}");
}

#[test]
fn an_expired_or_not_yet_valid_certificate_is_refused() {
    let dir = Dir::new("expired");
    let mut params = localhost();
    params.not_before = date_time_ymd(2001, 1, 1);
    params.not_after = date_time_ymd(2002, 1, 1);
    let (cert, key) = self_signed(params);
    let (cert, key) = (dir.write("old.pem", &cert), dir.write("old-key.pem", &key));
    let err = error(&TlsConfig::new(&cert, &key));
    names(&err, &cert);
    assert!(err.contains("expired"), "{err}");

    let mut params = localhost();
    params.not_before = date_time_ymd(2090, 1, 1);
    params.not_after = date_time_ymd(2091, 1, 1);
    let (cert, key) = self_signed(params);
    let (cert, key) = (dir.write("future.pem", &cert), dir.write("future-key.pem", &key));
    let err = error(&TlsConfig::new(&cert, &key));
    assert!(err.contains("not valid before"), "{err}");
}

/// `key` (PEM, PKCS#8) encrypted with `password` (PBES2, as `openssl pkcs8
/// -topk8 -v2 aes-256-cbc` writes it).
fn encrypt(key: &str, password: &str) -> String {
    let (_, document) = pkcs8::der::Document::from_pem(key).unwrap();
    let info = pkcs8::PrivateKeyInfo::from_der(document.as_bytes()).unwrap();
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &[7; 16], &[9; 16]).unwrap();
    let encrypted = info.encrypt_with_params(params, password).unwrap();
    encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .unwrap()
        .to_string()
}

#[test]
fn an_encrypted_key_needs_its_password() {
    let dir = Dir::new("password");
    let (cert, key) = self_signed(localhost());
    let cert = dir.write("cert.pem", &cert);
    let locked = dir.write("locked.pem", &encrypt(&key, "s3cret"));
    let mut config = TlsConfig::new(&cert, &locked);
    let err = error(&config);
    names(&err, &locked);
    assert!(err.contains("password is needed"), "{err}");
    config.key_password = Some("wrong".into());
    let err = error(&config);
    names(&err, &locked);
    assert!(err.contains("password is wrong"), "{err}");
    config.key_password = Some("s3cret".into());
    LoadedTls::load(&config).unwrap();
    // A password for a key that has none is a mistake worth saying.
    let plain = dir.write("plain.pem", &key);
    config.key_file = plain.clone();
    names(&error(&config), &plain);
}

#[test]
fn client_certificates_need_a_ca_to_check_them() {
    let dir = Dir::new("client-ca");
    let (cert, key) = pair(&dir);
    let mut config = TlsConfig::new(&cert, &key);
    config.client_auth = ClientAuth::Required;
    assert!(error(&config).contains("no client CA"));
    let (ca, _) = self_signed(localhost());
    config.client_ca_file = Some(dir.write("ca.pem", &ca));
    LoadedTls::load(&config).unwrap();
    config.client_auth = ClientAuth::Optional;
    LoadedTls::load(&config).unwrap();
    let junk = dir.write("junk-ca.pem", "nothing");
    config.client_ca_file = Some(junk.clone());
    names(&error(&config), &junk);
}
