//! The instance seed, `<storage.path>/alloy_seed.json` (RUNTIME.md §11): a random UUID
//! created once and reused, which `prometheus.remote_write` sends as `X-Alloy-Id` and
//! `X-Agent-Id`. The file has upstream's shape (`UID`, `created_at`, `version`), so a
//! data directory moved between Alloy and ferroalloy keeps its identity.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file name under the storage path.
pub const SEED_FILE: &str = "alloy_seed.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Seed {
    #[serde(rename = "UID")]
    uid: String,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    version: String,
}

/// Serialises creation within the process, so two components starting together agree.
static CREATE: Mutex<()> = Mutex::new(());

/// The storage path a component's data path is under: one level per segment of its
/// global ID (`module.x/prometheus.remote_write.y` nests two deep).
pub fn storage_path_of(data_path: &Path, global_id: &str) -> PathBuf {
    let depth = global_id.split('/').count();
    data_path
        .ancestors()
        .nth(depth)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The seed's UID, creating the file when it is missing or unreadable. Errors writing
/// it are returned with the fresh UID still usable for this run.
pub fn get_or_create(storage: &Path) -> (String, Option<std::io::Error>) {
    let _guard = CREATE.lock().unwrap_or_else(|e| e.into_inner());
    let path = storage.join(SEED_FILE);
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(seed) = serde_json::from_slice::<Seed>(&bytes) {
            if !seed.uid.is_empty() {
                return (seed.uid, None);
            }
        }
    }
    let seed = Seed {
        uid: uuid::Uuid::new_v4().to_string(),
        created_at: alloy_runtime::timestamp::rfc3339_seconds(std::time::SystemTime::now()),
        version: format!("v{}", env!("CARGO_PKG_VERSION")),
    };
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(storage)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec(&seed).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, &path)
    };
    let err = write().err();
    (seed.uid, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("ferroalloy-seed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (a, err) = get_or_create(&dir);
        assert!(err.is_none());
        assert_eq!(a.len(), 36);
        let (b, _) = get_or_create(&dir);
        assert_eq!(a, b);
        let text = std::fs::read_to_string(dir.join(SEED_FILE)).unwrap();
        assert!(text.contains("\"UID\""), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_storage_path_is_found_above_nested_ids() {
        assert_eq!(
            storage_path_of(
                Path::new("/d/module.x/prometheus.remote_write.y"),
                "module.x/prometheus.remote_write.y"
            ),
            Path::new("/d")
        );
        assert_eq!(
            storage_path_of(
                Path::new("/d/prometheus.remote_write.y"),
                "prometheus.remote_write.y"
            ),
            Path::new("/d")
        );
    }
}
