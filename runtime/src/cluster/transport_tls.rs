//! Client-side TLS of the gossip transport (`--cluster.enable-tls`): the rustls client
//! configuration the HTTP client that POSTs gossip packets uses, built once at startup
//! from the CA, client certificate and key PEM data of the `--cluster.tls-*` flags.
//!
//! The server side is the HTTP server's own TLS (the `http { tls { ... } }` block),
//! since gossip rides on the ordinary HTTP port. As upstream, the CA is the only trust
//! root (system roots are not consulted), the certificate and key are presented to
//! peers as a client certificate, and `--cluster.tls-server-name`, when given, is the
//! name every peer's certificate is checked against instead of the peer's IP address.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;

/// A ready rustls client configuration for gossip over HTTPS. Cloning is cheap.
#[derive(Clone)]
pub struct GossipTls {
    config: Arc<ClientConfig>,
    server_name: Option<String>,
}

impl std::fmt::Debug for GossipTls {
    // The configuration holds the private key; only the name is worth showing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GossipTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl GossipTls {
    /// Builds the client configuration from PEM data: `ca_pem` (one or more CA
    /// certificates), `cert_pem` (the client certificate, optionally followed by its
    /// chain) and `key_pem` (its private key). An empty `server_name` verifies each
    /// peer against the address it is reached on. Errors name the flag at fault and
    /// never quote the key.
    pub fn from_pem(
        ca_pem: &[u8],
        cert_pem: &[u8],
        key_pem: &[u8],
        server_name: &str,
    ) -> Result<GossipTls, String> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            let cert = cert.map_err(|e| format!("invalid PEM in --cluster.tls-ca-path: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("unusable CA certificate in --cluster.tls-ca-path: {e}"))?;
        }
        if roots.is_empty() {
            return Err("no certificate found in --cluster.tls-ca-path".to_string());
        }
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("invalid PEM in --cluster.tls-cert-path: {e}"))?;
        if certs.is_empty() {
            return Err("no certificate found in --cluster.tls-cert-path".to_string());
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| format!("no usable private key in --cluster.tls-key-path: {e}"))?;

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| format!("unusable --cluster.tls-ca-path: {e}"))?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("invalid TLS settings: {e}"))?;
        let server_name = Some(server_name).filter(|n| !n.is_empty());
        let builder = match server_name {
            Some(name) => {
                let name = ServerName::try_from(name.to_string()).map_err(|_| {
                    format!("--cluster.tls-server-name {name:?} is neither a DNS name nor an IP address")
                })?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(NamedVerifier { webpki, name }))
            }
            None => builder.with_webpki_verifier(webpki),
        };
        let mut config = builder.with_client_auth_cert(certs, key).map_err(|e| {
            format!("--cluster.tls-cert-path and --cluster.tls-key-path do not fit together: {e}")
        })?;
        // The HTTP server speaks both; HTTP/2 keeps one connection per peer, as
        // upstream's gossip does over TLS.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(GossipTls {
            config: Arc::new(config),
            server_name: server_name.map(str::to_string),
        })
    }

    /// The rustls configuration, for `reqwest::ClientBuilder::tls_backend_preconfigured`.
    pub fn client_config(&self) -> ClientConfig {
        (*self.config).clone()
    }
}

/// The WebPKI verifier checking against one configured name rather than the address
/// the connection went to: peers are dialled by IP, but their certificates may only
/// name the service (`--cluster.tls-server-name`, Go's `tls.Config.ServerName`).
#[derive(Debug)]
struct NamedVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NamedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _dialled: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.webpki
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    /// CA PEM, node certificate PEM, node key PEM, and an unrelated key PEM.
    fn pems() -> (String, String, String, String) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let other = KeyPair::generate().unwrap();
        (
            ca.pem(),
            cert.pem(),
            key.serialize_pem(),
            other.serialize_pem(),
        )
    }

    fn error(ca: &str, cert: &str, key: &str, name: &str) -> String {
        GossipTls::from_pem(ca.as_bytes(), cert.as_bytes(), key.as_bytes(), name).unwrap_err()
    }

    #[test]
    fn good_files_build_with_or_without_a_server_name() {
        let (ca, cert, key, _) = pems();
        for name in ["", "gossip.test", "10.0.0.1"] {
            let tls =
                GossipTls::from_pem(ca.as_bytes(), cert.as_bytes(), key.as_bytes(), name).unwrap();
            assert_eq!(tls.client_config().alpn_protocols[0], b"h2");
            assert!(tls.client_config().client_auth_cert_resolver.has_certs());
        }
    }

    #[test]
    fn each_bad_part_is_named_and_the_key_never_quoted() {
        let (ca, cert, key, other) = pems();
        assert_eq!(
            error("", &cert, &key, ""),
            "no certificate found in --cluster.tls-ca-path"
        );
        assert_eq!(
            error(&ca, &key, &key, ""),
            "no certificate found in --cluster.tls-cert-path"
        );
        let msg = error(&ca, &cert, &cert, "");
        assert!(
            msg.starts_with("no usable private key in --cluster.tls-key-path"),
            "{msg}"
        );
        let msg = error(&ca, &cert, &other, "");
        assert!(
            msg.starts_with(
                "--cluster.tls-cert-path and --cluster.tls-key-path do not fit together"
            ),
            "{msg}"
        );
        assert!(!msg.contains("PRIVATE KEY"), "{msg}");
        assert_eq!(
            error(&ca, &cert, &key, "not a name!"),
            "--cluster.tls-server-name \"not a name!\" is neither a DNS name nor an IP address"
        );
        let tls =
            GossipTls::from_pem(ca.as_bytes(), cert.as_bytes(), key.as_bytes(), "n.test").unwrap();
        let shown = format!("{tls:?}");
        assert!(
            shown.contains("n.test") && !shown.contains("KEY"),
            "{shown}"
        );
    }
}
