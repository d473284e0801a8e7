//! The shared HTTP client settings (COMPONENTS.md conventions: the `client` block of
//! `remote.http`, later `import.http` and the Prometheus components), decoded into a
//! reqwest client plus the per-request authentication.

use alloy_runtime::decode::{Decoder, Secret};
use alloy_syntax::Diagnostic;
use std::collections::BTreeMap;

/// How requests authenticate. At most one mechanism may be configured.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Auth {
    #[default]
    None,
    Basic {
        username: String,
        password: Option<Secret>,
        password_file: Option<String>,
    },
    Bearer {
        token: Option<Secret>,
        token_file: Option<String>,
    },
    Authorization {
        kind: String,
        credentials: Option<Secret>,
        credentials_file: Option<String>,
    },
}

/// Decoded client settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpClientArgs {
    pub auth: Auth,
    pub follow_redirects: bool,
    pub enable_http2: bool,
    pub proxy_url: Option<String>,
    pub insecure_skip_verify: bool,
    pub ca_pem: Option<String>,
    pub ca_file: Option<String>,
    pub headers: BTreeMap<String, Vec<Secret>>,
    /// Ask for gzip and decompress responses (off for `enable_compression = false`).
    pub gzip: bool,
}

impl HttpClientArgs {
    /// Reads the settings from a `client` block (defaults when absent).
    pub fn decode(d: Option<Decoder>) -> Result<HttpClientArgs, Diagnostic> {
        let mut out = HttpClientArgs {
            follow_redirects: true,
            enable_http2: true,
            gzip: true,
            ..HttpClientArgs::default()
        };
        let Some(d) = d else {
            return Ok(out);
        };
        out.follow_redirects = d.attr_or("follow_redirects", true)?;
        out.enable_http2 = d.attr_or("enable_http2", true)?;
        out.proxy_url = d.attr("proxy_url")?;
        out.headers = d.attr_or("http_headers", BTreeMap::new())?;
        if let Some(tls) = d.block("tls_config") {
            out.insecure_skip_verify = tls.attr_or("insecure_skip_verify", false)?;
            out.ca_pem = tls.attr("ca_pem")?;
            out.ca_file = tls.attr("ca_file")?;
            for unsupported in [
                "cert_pem",
                "cert_file",
                "key_pem",
                "key_file",
                "server_name",
            ] {
                if tls
                    .attr::<alloy_runtime::decode::AnyValue>(unsupported)?
                    .is_some()
                {
                    return Err(tls.error(
                        tls.span_of(unsupported),
                        format!("tls_config {unsupported} is not supported by ferroalloy yet"),
                    ));
                }
            }
        }
        if d.block("oauth2").is_some() {
            return Err(d.error(
                d.span_of("oauth2"),
                "oauth2 is not supported by ferroalloy yet",
            ));
        }
        let mut mechanisms = Vec::new();
        if let Some(b) = d.block("basic_auth") {
            mechanisms.push(Auth::Basic {
                username: b.attr_or("username", String::new())?,
                password: b.attr("password")?,
                password_file: b.attr("password_file")?,
            });
        }
        if let Some(a) = d.block("authorization") {
            mechanisms.push(Auth::Authorization {
                kind: a.attr_or("type", "Bearer".to_string())?,
                credentials: a.attr("credentials")?,
                credentials_file: a.attr("credentials_file")?,
            });
        }
        let token: Option<Secret> = d.attr("bearer_token")?;
        let token_file: Option<String> = d.attr("bearer_token_file")?;
        if token.is_some() || token_file.is_some() {
            mechanisms.push(Auth::Bearer { token, token_file });
        }
        if mechanisms.len() > 1 {
            return Err(d.error(
                d.span_of("bearer_token"),
                "at most one of basic_auth, authorization, oauth2, bearer_token & bearer_token_file must be configured",
            ));
        }
        out.auth = mechanisms.pop().unwrap_or_default();
        Ok(out)
    }

    /// A reqwest client for these settings.
    pub fn build(&self) -> Result<reqwest::Client, String> {
        let mut builder = reqwest::Client::builder()
            .redirect(if self.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            })
            .danger_accept_invalid_certs(self.insecure_skip_verify)
            .gzip(self.gzip);
        if !self.enable_http2 {
            builder = builder.http1_only();
        }
        if let Some(url) = &self.proxy_url {
            let proxy = reqwest::Proxy::all(url).map_err(|e| format!("invalid proxy_url: {e}"))?;
            builder = builder.proxy(proxy);
        }
        let ca = match (&self.ca_pem, &self.ca_file) {
            (Some(pem), _) => Some(pem.clone().into_bytes()),
            (None, Some(file)) => {
                Some(std::fs::read(file).map_err(|e| format!("unable to read CA file: {e}"))?)
            }
            (None, None) => None,
        };
        if let Some(pem) = ca {
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| format!("unable to use specified CA cert: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        builder.build().map_err(|e| e.to_string())
    }

    /// Adds authentication and extra headers to a request. Credential files are read
    /// for every request, so rotated secrets are picked up without a reload.
    pub fn apply(
        &self,
        mut req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, String> {
        let read = |file: &str| {
            std::fs::read_to_string(file)
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("unable to read credentials file {file}: {e}"))
        };
        match &self.auth {
            Auth::None => {}
            Auth::Basic {
                username,
                password,
                password_file,
            } => {
                let password = match (password, password_file) {
                    (Some(p), _) => p.expose().to_string(),
                    (None, Some(f)) => read(f)?,
                    (None, None) => String::new(),
                };
                req = req.basic_auth(username, Some(password));
            }
            Auth::Bearer { token, token_file } => {
                let token = match (token, token_file) {
                    (Some(t), _) => t.expose().to_string(),
                    (None, Some(f)) => read(f)?,
                    (None, None) => String::new(),
                };
                req = req.bearer_auth(token);
            }
            Auth::Authorization {
                kind,
                credentials,
                credentials_file,
            } => {
                let creds = match (credentials, credentials_file) {
                    (Some(c), _) => c.expose().to_string(),
                    (None, Some(f)) => read(f)?,
                    (None, None) => String::new(),
                };
                req = req.header(reqwest::header::AUTHORIZATION, format!("{kind} {creds}"));
            }
        }
        for (name, values) in &self.headers {
            for value in values {
                req = req.header(name.as_str(), value.expose());
            }
        }
        Ok(req)
    }

    /// Sends `req` with this client's authentication and headers and requires a 200;
    /// returns the response and its `Content-Type`, if any.
    pub async fn send_ok(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(reqwest::Response, Option<String>), String> {
        let resp = self.apply(req)?.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            return Err(format!("server returned HTTP status {status}"));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok((resp, content_type))
    }
}
