//! Every component ferroalloy ships, one line each, and the sources that fetch module
//! content for `import.*` and classic `module.*` blocks. The runtime knows none of
//! them by name; the CLI passes this registry in.

use crate::module_file::ModuleFile;
use crate::remote_http::RemoteHttp;
use crate::string_source::StringSource;
use alloy_runtime::component::{Registration, Registry, Stability};
use alloy_runtime::schema::{IMPORT_FILE, IMPORT_HTTP, MODULE_FILE, MODULE_HTTP};

const GA: Stability = Stability::GenerallyAvailable;

/// `reg` under a different schema: module sources accept their own attribute sets
/// (and an `arguments` block) but fetch exactly like the component.
fn with_schema(reg: Registration, schema: &'static alloy_runtime::schema::Schema) -> Registration {
    Registration { schema, ..reg }
}

/// The registry of all built-in components.
pub fn registry() -> Registry {
    Registry::new([
        Registration::of::<crate::discovery_file::DiscoveryFile>("discovery.file", GA),
        Registration::of::<crate::discovery_http::DiscoveryHttp>("discovery.http", GA),
        Registration::of::<crate::discovery_kubernetes::DiscoveryKubernetes>(
            "discovery.kubernetes",
            GA,
        ),
        Registration::of::<crate::discovery_relabel::DiscoveryRelabel>("discovery.relabel", GA),
        Registration::of::<crate::local_file::LocalFile>(
            "local.file",
            Stability::GenerallyAvailable,
        ),
        Registration::of::<crate::prometheus_remote_write::PrometheusRemoteWrite>(
            "prometheus.remote_write",
            GA,
        ),
        Registration::of::<crate::prometheus_exporter_self::ExporterSelf>(
            "prometheus.exporter.self",
            GA,
        ),
        Registration::of::<crate::prometheus_scrape::PrometheusScrape>("prometheus.scrape", GA),
        Registration::of::<crate::prometheus_relabel::PrometheusRelabel>("prometheus.relabel", GA),
        Registration::of::<crate::remote_http::RemoteHttp>(
            "remote.http",
            Stability::GenerallyAvailable,
        ),
    ])
    .with_sources([
        with_schema(
            Registration::of::<ModuleFile>("import.file", GA),
            &IMPORT_FILE,
        ),
        Registration::of::<StringSource>("import.string", GA),
        with_schema(
            Registration::of::<RemoteHttp>("import.http", GA),
            &IMPORT_HTTP,
        ),
        with_schema(
            Registration::of::<ModuleFile>("module.file", GA),
            &MODULE_FILE,
        ),
        Registration::of::<StringSource>("module.string", GA),
        with_schema(
            Registration::of::<RemoteHttp>("module.http", GA),
            &MODULE_HTTP,
        ),
    ])
}
