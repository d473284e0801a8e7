//! Where `discovery.kubernetes` connects: `api_server` with the component's own HTTP
//! client settings, a kubeconfig file (`kubeconfig_file`), or the in-cluster service
//! account. Tokens are given as files where possible so rotated tokens are read again
//! on each request.

use super::watch::Api;
use crate::http_client::{Auth, HttpClientArgs};
use alloy_runtime::decode::Secret;
use base64::Engine;
use serde::Deserialize;
use std::path::{Path, PathBuf};

const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// `api_server` with the component's client settings.
pub fn api_server(url: &str, client: &HttpClientArgs) -> Result<Api, String> {
    Ok(Api {
        base: url.to_string(),
        http: client.build()?,
        auth: client.clone(),
    })
}

/// The in-cluster configuration: the service named by `KUBERNETES_SERVICE_HOST`/`_PORT`,
/// the service account token and CA. Returns the API and the pod's own namespace.
pub fn in_cluster() -> Result<(Api, Option<String>), String> {
    let host = std::env::var("KUBERNETES_SERVICE_HOST").unwrap_or_default();
    let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_default();
    if host.is_empty() || port.is_empty() {
        return Err("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined".into());
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let dir = Path::new(SERVICE_ACCOUNT_DIR);
    let client = HttpClientArgs {
        auth: Auth::Bearer {
            token: None,
            token_file: Some(dir.join("token").display().to_string()),
        },
        ca_file: Some(dir.join("ca.crt").display().to_string()),
        ..HttpClientArgs::decode(None).map_err(|d| d.message)?
    };
    let own = std::fs::read_to_string(dir.join("namespace"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    Ok((api_server(&format!("https://{host}:{port}"), &client)?, own))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct KubeConfig {
    current_context: String,
    contexts: Vec<Named<Context>>,
    clusters: Vec<Named<Cluster>>,
    users: Vec<Named<User>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Named<T: Default> {
    name: String,
    #[serde(alias = "context", alias = "cluster", alias = "user")]
    value: T,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority: Option<String>,
    certificate_authority_data: Option<String>,
    insecure_skip_tls_verify: bool,
    proxy_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct User {
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<String>,
    username: Option<String>,
    password: Option<String>,
    client_certificate: Option<String>,
    client_certificate_data: Option<String>,
    client_key: Option<String>,
    client_key_data: Option<String>,
    exec: Option<serde_norway::Value>,
    auth_provider: Option<serde_norway::Value>,
}

/// Reads inline base64 `data` or the file `path` (relative to the kubeconfig's folder).
fn material(
    dir: &Path,
    data: &Option<String>,
    path: &Option<String>,
) -> Result<Option<Vec<u8>>, String> {
    if let Some(data) = data {
        return base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map(Some)
            .map_err(|e| format!("kubeconfig: invalid base64 data: {e}"));
    }
    match path {
        Some(p) => {
            let p = resolve(dir, p);
            std::fs::read(&p)
                .map(Some)
                .map_err(|e| format!("kubeconfig: unable to read {}: {e}", p.display()))
        }
        None => Ok(None),
    }
}

fn resolve(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

/// The current context of the kubeconfig at `file`.
pub fn kubeconfig(file: &str) -> Result<Api, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("unable to read kubeconfig_file {file}: {e}"))?;
    let cfg: KubeConfig =
        serde_norway::from_str(&text).map_err(|e| format!("invalid kubeconfig {file}: {e}"))?;
    let dir = Path::new(file).parent().unwrap_or(Path::new("."));
    let ctx = cfg
        .contexts
        .iter()
        .find(|c| c.name == cfg.current_context)
        .map(|c| &c.value)
        .ok_or_else(|| {
            format!(
                "kubeconfig {file}: context {:?} not found",
                cfg.current_context
            )
        })?;
    let cluster = cfg
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)
        .map(|c| &c.value)
        .ok_or_else(|| format!("kubeconfig {file}: cluster {:?} not found", ctx.cluster))?;
    let default_user = User::default();
    let user = cfg
        .users
        .iter()
        .find(|u| u.name == ctx.user)
        .map(|u| &u.value)
        .unwrap_or(&default_user);
    if user.exec.is_some() || user.auth_provider.is_some() {
        return Err(format!(
            "kubeconfig {file}: exec and auth-provider credential plugins are not supported"
        ));
    }
    if cluster.server.is_empty() {
        return Err(format!("kubeconfig {file}: cluster has no server"));
    }
    let mut builder =
        reqwest::Client::builder().danger_accept_invalid_certs(cluster.insecure_skip_tls_verify);
    if let Some(ca) = material(
        dir,
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    )? {
        let cert = reqwest::Certificate::from_pem(&ca)
            .map_err(|e| format!("kubeconfig {file}: unable to use CA: {e}"))?;
        builder = builder.add_root_certificate(cert);
    }
    let cert = material(dir, &user.client_certificate_data, &user.client_certificate)?;
    let key = material(dir, &user.client_key_data, &user.client_key)?;
    if let (Some(mut cert), Some(key)) = (cert, key) {
        cert.push(b'\n');
        cert.extend_from_slice(&key);
        let identity = reqwest::Identity::from_pem(&cert)
            .map_err(|e| format!("kubeconfig {file}: unable to use client certificate: {e}"))?;
        builder = builder.identity(identity);
    }
    if let Some(proxy) = &cluster.proxy_url {
        builder = builder.proxy(
            reqwest::Proxy::all(proxy).map_err(|e| format!("kubeconfig {file}: proxy-url: {e}"))?,
        );
    }
    let auth = match (&user.token, &user.token_file, &user.username) {
        (Some(t), _, _) => Auth::Bearer {
            token: Some(Secret(t.as_str().into())),
            token_file: None,
        },
        (None, Some(f), _) => Auth::Bearer {
            token: None,
            token_file: Some(resolve(dir, f).display().to_string()),
        },
        (None, None, Some(u)) => Auth::Basic {
            username: u.clone(),
            password: user.password.as_deref().map(|p| Secret(p.into())),
            password_file: None,
        },
        _ => Auth::None,
    };
    Ok(Api {
        base: cluster.server.clone(),
        http: builder.build().map_err(|e| e.to_string())?,
        auth: HttpClientArgs {
            auth,
            ..HttpClientArgs::default()
        },
    })
}
