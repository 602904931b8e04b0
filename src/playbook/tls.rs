//! The certificate and key `crier run` serves HTTPS with (`server: { tls: … }` in
//! `crier.yaml`): read from their PEM files and made into a rustls server configuration,
//! once when the playbooks are validated (so a missing file or a bad PEM is a diagnostic at
//! its line) and again when the server starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the certificate chain and its private key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPlan {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Which of the two files a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPart {
    Cert,
    Key,
}

/// Why the files cannot serve HTTPS, and which one is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TlsError {
    pub part: TlsPart,
    pub message: String,
    pub hint: Option<String>,
}

impl TlsPlan {
    /// The path a `file:PATH` reference names, a relative one from `root` (the folder of
    /// `crier.yaml`); `None` if it is not a `file:` reference.
    pub fn path(root: &Path, reference: &str) -> Option<PathBuf> {
        let path = Path::new(reference.strip_prefix("file:")?.trim());
        if path.as_os_str().is_empty() {
            return None;
        }
        Some(if path.is_absolute() {
            path.to_path_buf()
        } else {
            root.join(path)
        })
    }

    /// Reads both files and checks that the key is the certificate's.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let certs = self.certs()?;
        let key = self.private_key()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError {
                part: TlsPart::Cert,
                message: format!("TLS cannot be set up: {e}"),
                hint: None,
            })?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError {
                part: TlsPart::Key,
                message: format!(
                    "the key `{}` cannot serve the certificate `{}`: {e}",
                    self.key.display(),
                    self.cert.display()
                ),
                hint: Some(
                    "the key must be the private key of the chain's first certificate".into(),
                ),
            })?;
        let mut config = config;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn certs(&self) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        let bytes = read(TlsPart::Cert, &self.cert)?;
        let bad = |reason: String| TlsError {
            part: TlsPart::Cert,
            message: format!(
                "`{}` is not a PEM certificate chain: {reason}",
                self.cert.display()
            ),
            hint: Some(
                "the file holds `-----BEGIN CERTIFICATE-----` sections, the server's first".into(),
            ),
        };
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(pem_reason(&e)))?;
        if certs.is_empty() {
            return Err(bad("it has no CERTIFICATE section".into()));
        }
        Ok(certs)
    }

    fn private_key(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        let bytes = read(TlsPart::Key, &self.key)?;
        PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError {
            part: TlsPart::Key,
            message: format!(
                "`{}` is not a PEM private key: {}",
                self.key.display(),
                match e {
                    pem::Error::NoItemsFound => "it has no PRIVATE KEY section".to_string(),
                    e => pem_reason(&e),
                }
            ),
            hint: Some(
                "the file holds one `-----BEGIN PRIVATE KEY-----` (or `RSA PRIVATE KEY`, `EC PRIVATE KEY`) section".into(),
            ),
        })
    }
}

fn read(part: TlsPart, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError {
        part,
        message: format!("cannot read `{}`: {e}", path.display()),
        hint: None,
    })
}

fn pem_reason(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "a section does not end (no `{}`)",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "a section starts badly: `{}`",
            String::from_utf8_lossy(line)
        ),
        pem::Error::Base64Decode(reason) => format!("a section is not valid base64: {reason}"),
        pem::Error::NoItemsFound => "it has no PEM section".into(),
        other => other.to_string(),
    }
}
