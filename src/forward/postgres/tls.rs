//! TLS for the PostgreSQL sink: libpq's `sslmode` and `sslrootcert` read from
//! the connection string, over rustls (the stack and roots the HTTP sinks use).
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `allow`, `prefer` (the default) | when the server offers it | not checked |
//! | `require` | always | not checked, unless `sslrootcert` is given: then as `verify-ca` |
//! | `verify-ca` | always | signed by a root (`sslrootcert`, else the Mozilla roots) |
//! | `verify-full` | always | as `verify-ca`, and issued for the host name |

use std::path::Path;
use std::sync::Arc;

use postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

mod stream;

pub use stream::MakeRustlsConnect;

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encryption only (libpq's `prefer` and `require`).
    Nothing,
    /// The chain up to a trusted root, not the name (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

/// The TLS part of a connection string, taken out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    mode: SslMode,
    check: Check,
    root_cert: Option<String>,
}

/// Splits libpq's `sslmode` and `sslrootcert` off a `postgres://` URL or a
/// `key=value` string: the rest goes to the client's own parser, which knows
/// only `disable`, `prefer` and `require`.
pub fn split(conn: &str) -> Result<(String, TlsOptions), String> {
    let (rest, pairs) = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        split_url(conn)
    } else {
        split_keywords(conn)?
    };
    let mut mode = None;
    let mut root_cert = None;
    for (key, value) in pairs {
        match key.as_str() {
            "sslmode" => mode = Some(value),
            _ => root_cert = Some(value),
        }
    }
    let (mode, check) = match mode.as_deref().unwrap_or("prefer") {
        "disable" => (SslMode::Disable, Check::Nothing),
        "allow" | "prefer" => (SslMode::Prefer, Check::Nothing),
        "require" if root_cert.is_some() => (SslMode::Require, Check::Chain),
        "require" => (SslMode::Require, Check::Nothing),
        "verify-ca" => (SslMode::Require, Check::Chain),
        "verify-full" => (SslMode::Require, Check::Full),
        other => {
            return Err(format!(
                "sslmode \"{other}\" is not one of disable, allow, prefer, require, verify-ca, verify-full"
            ))
        }
    };
    Ok((
        rest,
        TlsOptions {
            mode,
            check,
            root_cert,
        },
    ))
}

fn is_tls_key(key: &str) -> bool {
    key == "sslmode" || key == "sslrootcert"
}

/// The URL without its TLS query parameters, and those parameters decoded.
fn split_url(url: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(k);
        if is_tls_key(&key) {
            taken.push((key, percent_decode(v)));
        } else {
            kept.push(part);
        }
    }
    if kept.is_empty() {
        (base.to_owned(), taken)
    } else {
        (format!("{base}?{}", kept.join("&")), taken)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `key=value` pairs (values bare or single-quoted, `\` escaping), split
/// into the TLS ones and the rest written back in quoted form.
fn split_keywords(conn: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut chars = conn.chars().peekable();
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("\"{key}\" has no value (expected key=value)"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let value = keyword_value(&mut chars)?;
        if is_tls_key(&key) {
            taken.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push(format!("{key}='{quoted}'"));
        }
    }
    Ok((kept.join(" "), taken))
}

fn keyword_value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, String> {
    let quoted = chars.next_if_eq(&'\'').is_some();
    let mut value = String::new();
    loop {
        match chars.next() {
            None if quoted => return Err("a quoted value is not closed".into()),
            None => return Ok(value),
            Some('\'') if quoted => return Ok(value),
            Some(c) if c.is_whitespace() && !quoted => return Ok(value),
            Some('\\') => match chars.next() {
                Some(c) => value.push(c),
                None => return Err("a value ends in \\".into()),
            },
            Some(c) => value.push(c),
        }
    }
}

impl TlsOptions {
    /// The mode for the client's own configuration.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// The connector: rustls with the ring provider and the checks asked for.
    pub fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = match self.check {
            Check::Nothing => None,
            Check::Chain | Check::Full => {
                let roots = match &self.root_cert {
                    Some(path) => roots_from(Path::new(path))?,
                    None => {
                        RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
                    }
                };
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| format!("TLS roots: {e}"))?;
                Some(webpki)
            }
        };
        let verifier: Arc<dyn ServerCertVerifier> = match (self.check, chain) {
            (Check::Full, Some(webpki)) => webpki,
            (_, chain) => Arc::new(Lenient {
                provider: provider.clone(),
                chain,
            }),
        };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}

fn roots_from(path: &Path) -> Result<RootCertStore, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("sslrootcert {shown}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("sslrootcert {shown}: {e}"))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("sslrootcert {shown}: no certificate in it"));
    }
    Ok(roots)
}

/// libpq's checks short of `verify-full`: with no chain, any certificate
/// (`prefer`, `require`: encryption against a passive listener); with one,
/// the chain but not the host name (`verify-ca`). Either way the server must
/// prove it holds the certificate's key.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(conn: &str) -> (String, SslMode, Check, Option<String>) {
        let (rest, o) = split(conn).expect("split");
        (rest, o.mode, o.check, o.root_cert)
    }

    #[test]
    fn url_tls_parameters_are_taken_out_and_the_rest_kept() {
        let (rest, mode, check, root) = mode_of(
            "postgres://u@h:5/db?application_name=x&sslmode=verify-ca&sslrootcert=%2Ftmp%2Fca.pem",
        );
        assert_eq!(rest, "postgres://u@h:5/db?application_name=x");
        assert_eq!((mode, check), (SslMode::Require, Check::Chain));
        assert_eq!(root.as_deref(), Some("/tmp/ca.pem"));
        let (rest, mode, check, _) = mode_of("postgresql://h/db");
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!((mode, check), (SslMode::Prefer, Check::Nothing));
        assert_eq!(mode_of("postgres://h/?sslmode=disable").1, SslMode::Disable);
        assert_eq!(mode_of("postgres://h/?sslmode=verify-full").2, Check::Full);
    }

    #[test]
    fn keyword_tls_parameters_are_taken_out_and_quoting_survives() {
        let (rest, mode, check, root) =
            mode_of("host=h password='a b\\'c' sslmode = require sslrootcert='/x y.pem'");
        assert_eq!(rest, "host='h' password='a b\\'c'");
        assert_eq!((mode, check), (SslMode::Require, Check::Chain));
        assert_eq!(root.as_deref(), Some("/x y.pem"));
        let parsed: postgres::Config = rest.parse().expect("the client reads the rest");
        assert_eq!(parsed.get_password(), Some(&b"a b'c"[..]));
    }

    #[test]
    fn an_unknown_sslmode_names_the_accepted_ones() {
        let err = split("postgres://h/?sslmode=strict").expect_err("refused");
        assert!(
            err.contains("\"strict\"") && err.contains("verify-full"),
            "{err}"
        );
        assert!(split("host='open").is_err());
        assert!(split("host").is_err());
        assert!(split("host=a\\").is_err());
    }

    #[test]
    fn odd_percent_escapes_do_not_panic() {
        for s in ["%", "%4", "%zz", "%e2%82", "ok%20"] {
            let _ = percent_decode(s);
        }
        assert_eq!(percent_decode("a%20b"), "a b");
    }

    #[test]
    fn every_mode_builds_a_connector() {
        for conn in [
            "sslmode=disable",
            "sslmode=prefer",
            "sslmode=require",
            "sslmode=verify-ca",
            "sslmode=verify-full",
        ] {
            let (_, o) = split(conn).expect("split");
            assert!(o.connector().is_ok(), "{conn}");
        }
        let (_, o) = split("sslmode=verify-ca sslrootcert=/nonexistent.pem").expect("split");
        assert!(o.connector().is_err());
    }
}
