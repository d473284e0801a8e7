//! Every component ferroalloy ships, one line each. The runtime knows none of them by
//! name; the CLI passes this registry in.

use alloy_runtime::component::{Registration, Registry, Stability};

/// The registry of all built-in components.
pub fn registry() -> Registry {
    Registry::new([
        Registration::of::<crate::local_file::LocalFile>(
            "local.file",
            Stability::GenerallyAvailable,
        ),
        Registration::of::<crate::remote_http::RemoteHttp>(
            "remote.http",
            Stability::GenerallyAvailable,
        ),
    ])
}
