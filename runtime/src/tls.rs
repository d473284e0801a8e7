//! TLS for the HTTP server: the `http { tls { ... } }` block turned into a rustls
//! server configuration, and a listener that serves TLS or plain connections
//! depending on the configuration loaded at the moment a connection arrives.
//!
//! Upstream's names are kept (`cert_file`, `client_auth_type = "RequireAndVerifyClientCert"`,
//! `min_version = "TLS12"`, Go's cipher suite and curve names). What rustls cannot do
//! (TLS 1.0/1.1, client certificates requested but not verified, CBC suites, P-521)
//! is an error at the attribute, never silently weakened or dropped.

use crate::decode::{Decoder, Secret};
use alloy_syntax::Diagnostic;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

/// How long a client may take to complete its TLS handshake. Handshakes run in their
/// own tasks, so a slow client only holds its own connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the server configuration of a `tls` block.
pub fn server_config(d: &Decoder) -> Result<Arc<ServerConfig>, Diagnostic> {
    let provider = Arc::new(select_provider(d)?);
    let cert_pem = pem_source(d, "cert_pem", "cert_file", true)?.unwrap_or_default();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| d.error(cert_span(d), format!("invalid certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(d.error(cert_span(d), "no certificate found in the PEM data"));
    }
    let key_pem = key_source(d)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        let span = if d.has("key_pem") {
            d.span_of("key_pem")
        } else {
            d.span_of("key_file")
        };
        // The key's own text never goes into the message.
        d.error(span, format!("invalid private key PEM: {e}"))
    })?;

    let versions = protocol_versions(d)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| d.error(d.span(), format!("invalid TLS settings: {e}")))?;
    let builder = match client_verifier(d, provider)? {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| d.error(cert_span(d), format!("certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn cert_span(d: &Decoder) -> alloy_syntax::Span {
    if d.has("cert_pem") {
        d.span_of("cert_pem")
    } else if d.has("cert_file") {
        d.span_of("cert_file")
    } else {
        d.span()
    }
}

/// The PEM text of an inline attribute or a file attribute; exactly one may be set.
fn pem_source(
    d: &Decoder,
    inline: &str,
    file: &str,
    required: bool,
) -> Result<Option<Vec<u8>>, Diagnostic> {
    let text: Option<String> = d.attr(inline)?;
    let path: Option<String> = d.attr(file)?;
    match (text, path) {
        (Some(_), Some(_)) => Err(d.error(
            d.span_of(file),
            format!("at most one of {inline} and {file} must be set"),
        )),
        (Some(text), None) => Ok(Some(text.into_bytes())),
        (None, Some(path)) => std::fs::read(&path)
            .map(Some)
            .map_err(|e| d.error(d.span_of(file), format!("cannot read {file} {path:?}: {e}"))),
        (None, None) if required => {
            Err(d.error(d.span(), format!("one of {inline} or {file} must be set")))
        }
        (None, None) => Ok(None),
    }
}

/// The private key, inline (a secret) or from a file.
fn key_source(d: &Decoder) -> Result<Vec<u8>, Diagnostic> {
    let text: Option<Secret> = d.attr("key_pem")?;
    let path: Option<String> = d.attr("key_file")?;
    match (text, path) {
        (Some(_), Some(_)) => Err(d.error(
            d.span_of("key_file"),
            "at most one of key_pem and key_file must be set",
        )),
        (Some(text), None) => Ok(text.expose().as_bytes().to_vec()),
        (None, Some(path)) => std::fs::read(&path).map_err(|e| {
            d.error(
                d.span_of("key_file"),
                format!("cannot read key_file {path:?}: {e}"),
            )
        }),
        (None, None) => Err(d.error(d.span(), "one of key_pem or key_file must be set")),
    }
}

/// The aws-lc-rs provider narrowed to the configured cipher suites and curves.
fn select_provider(d: &Decoder) -> Result<CryptoProvider, Diagnostic> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if let Some(names) = d.attr::<Vec<String>>("cipher_suites")? {
        let mut chosen = Vec::new();
        for name in &names {
            let found = provider
                .cipher_suites
                .iter()
                .find(|s| go_cipher_names(s).iter().any(|n| n == name));
            match found {
                Some(suite) => chosen.push(*suite),
                None => {
                    return Err(d.error(
                        d.span_of("cipher_suites"),
                        format!(
                            "unsupported cipher suite {name:?}; supported: {}",
                            provider
                                .cipher_suites
                                .iter()
                                .map(|s| go_cipher_names(s)[0].clone())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ))
                }
            }
        }
        // As in Go, the list governs TLS 1.2; TLS 1.3 suites stay available unless
        // the list names some of them.
        if !chosen
            .iter()
            .any(|s| matches!(s, rustls::SupportedCipherSuite::Tls13(_)))
        {
            chosen.extend(
                provider
                    .cipher_suites
                    .iter()
                    .filter(|s| matches!(s, rustls::SupportedCipherSuite::Tls13(_))),
            );
        }
        provider.cipher_suites = chosen;
    }
    if let Some(names) = d.attr::<Vec<String>>("curve_preferences")? {
        let mut chosen = Vec::new();
        for name in &names {
            let want = match name.as_str() {
                "CurveP256" => "secp256r1",
                "CurveP384" => "secp384r1",
                "CurveP521" => "secp521r1",
                "X25519" => "X25519",
                "X25519MLKEM768" => "X25519MLKEM768",
                other => other,
            };
            match provider
                .kx_groups
                .iter()
                .find(|g| format!("{:?}", g.name()) == want)
            {
                Some(group) => chosen.push(*group),
                None => {
                    return Err(d.error(
                        d.span_of("curve_preferences"),
                        format!("unsupported curve {name:?}; supported: CurveP256, CurveP384, X25519, X25519MLKEM768"),
                    ))
                }
            }
        }
        provider.kx_groups = chosen;
    }
    Ok(provider)
}

/// Go's names for a suite: rustls spells TLS 1.3 suites `TLS13_...` where Go says
/// `TLS_...`, and Go also accepts the ChaCha20 names without `_SHA256`.
fn go_cipher_names(suite: &rustls::SupportedCipherSuite) -> Vec<String> {
    let name = format!("{:?}", suite.suite());
    let name = match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    };
    let mut names = vec![name.clone()];
    if let Some(short) = name.strip_suffix("_POLY1305_SHA256") {
        if !short.starts_with("TLS_CHACHA20") {
            names.push(format!("{short}_POLY1305"));
        }
    }
    names
}

fn tls_version(d: &Decoder, attr: &str) -> Result<Option<u8>, Diagnostic> {
    let Some(name) = d.attr::<String>(attr)? else {
        return Ok(None);
    };
    let v = match name.as_str() {
        "TLS10" => 0,
        "TLS11" => 1,
        "TLS12" => 2,
        "TLS13" => 3,
        _ => {
            return Err(d.error(
                d.span_of(attr),
                format!("unknown TLS version {name:?}; expected TLS10, TLS11, TLS12 or TLS13"),
            ))
        }
    };
    Ok(Some(v))
}

/// The versions between `min_version` and `max_version`. rustls speaks TLS 1.2 and
/// 1.3 only: a lower minimum still gets 1.2 and up, a lower maximum is an error.
fn protocol_versions(d: &Decoder) -> Result<Vec<&'static SupportedProtocolVersion>, Diagnostic> {
    let min = tls_version(d, "min_version")?.unwrap_or(2).max(2);
    let max = tls_version(d, "max_version")?.unwrap_or(3);
    if max < 2 {
        return Err(d.error(
            d.span_of("max_version"),
            "TLS 1.0 and 1.1 are not supported; max_version must be TLS12 or TLS13",
        ));
    }
    if min > max {
        return Err(d.error(
            d.span_of("min_version"),
            "min_version is higher than max_version",
        ));
    }
    let mut versions = Vec::new();
    if min <= 2 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 3 {
        versions.push(&rustls::version::TLS13);
    }
    Ok(versions)
}

/// The client certificate verifier for `client_auth_type`, with the CA from
/// `client_ca_pem` or `client_ca_file`.
fn client_verifier(
    d: &Decoder,
    provider: Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>, Diagnostic> {
    let auth: String = d.attr_or("client_auth_type", "NoClientCert".to_string())?;
    let ca = pem_source(d, "client_ca_pem", "client_ca_file", false)?;
    let optional = match auth.as_str() {
        "NoClientCert" => return Ok(None),
        "VerifyClientCertIfGiven" => true,
        "RequireAndVerifyClientCert" => false,
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(d.error(
                d.span_of("client_auth_type"),
                format!("client_auth_type {auth:?} accepts unverified client certificates, which ferroalloy does not support; use VerifyClientCertIfGiven or RequireAndVerifyClientCert"),
            ))
        }
        _ => {
            return Err(d.error(
                d.span_of("client_auth_type"),
                format!("unknown client_auth_type {auth:?}; expected NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"),
            ))
        }
    };
    let Some(ca) = ca else {
        return Err(d.error(
            d.span_of("client_auth_type"),
            format!("client_auth_type {auth:?} needs client_ca_pem or client_ca_file"),
        ));
    };
    let ca_span = if d.has("client_ca_pem") {
        d.span_of("client_ca_pem")
    } else {
        d.span_of("client_ca_file")
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca) {
        let cert = cert.map_err(|e| d.error(ca_span, format!("invalid CA PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| d.error(ca_span, format!("invalid CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(d.error(ca_span, "no CA certificate found in the PEM data"));
    }
    let mut builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    if optional {
        builder = builder.allow_unauthenticated();
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| d.error(ca_span, format!("invalid client CA: {e}")))
}

/// The TLS configuration the listener uses for new connections; `None` serves plain
/// HTTP. Set after every successful load, so certificate changes apply on reload.
#[derive(Clone, Default)]
pub struct TlsSlot(Arc<RwLock<Option<Arc<ServerConfig>>>>);

impl TlsSlot {
    pub fn set(&self, config: Option<Arc<ServerConfig>>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    pub fn get(&self) -> Option<Arc<ServerConfig>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One accepted connection, plain or after a successful TLS handshake.
pub type Connection = Either<TcpStream, TlsStream<TcpStream>>;

/// An axum listener over a TCP listener that handshakes TLS when a configuration is
/// set. Accepting and handshaking run in a background task that ends with the
/// listener.
pub struct MaybeTlsListener {
    addr: SocketAddr,
    rx: mpsc::Receiver<(Connection, SocketAddr)>,
    task: tokio::task::JoinHandle<()>,
}

impl MaybeTlsListener {
    pub fn new(listener: TcpListener, slot: TlsSlot) -> io::Result<MaybeTlsListener> {
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(accept_loop(listener, slot, tx));
        Ok(MaybeTlsListener { addr, rx, task })
    }
}

impl Drop for MaybeTlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    slot: TlsSlot,
    tx: mpsc::Sender<(Connection, SocketAddr)>,
) {
    loop {
        let accepted = tokio::select! {
            _ = tx.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(error = %err, "failed to accept an HTTP connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        match slot.get() {
            None => {
                if tx.send((Either::Left(stream), peer)).await.is_err() {
                    return;
                }
            }
            Some(config) => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let acceptor = tokio_rustls::TlsAcceptor::from(config);
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((Either::Right(tls), peer)).await;
                        }
                        Ok(Err(err)) => {
                            tracing::debug!(%peer, error = %err, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

impl axum::serve::Listener for MaybeTlsListener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // The accept task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::go_cipher_names;

    #[test]
    fn go_cipher_suite_names_map_to_rustls_suites() {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let names: Vec<String> = provider
            .cipher_suites
            .iter()
            .flat_map(go_cipher_names)
            .collect();
        for want in [
            "TLS_AES_128_GCM_SHA256",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("CBC")), "{names:?}");
    }
}
