//! Watching a file or a directory of configuration files for changes. The parent
//! directory is watched rather than the file, so atomic renames (write elsewhere, then
//! rename over) and Kubernetes ConfigMap symlink swaps are seen; events are only a
//! hint, and callers re-read what they watch when one arrives.

use notify::Watcher;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Watches `path` (a file, or a directory whose entries matter when `relevant` says
/// so) and sends `()` on every event that may concern it. Returns `None` when the
/// watch cannot be set up; callers fall back to polling. Dropping the watcher stops it.
pub fn watch(
    path: &Path,
    relevant: impl Fn(&Path) -> bool + Send + 'static,
    tx: mpsc::UnboundedSender<()>,
) -> Option<notify::RecommendedWatcher> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        if event.kind.is_access() {
            return;
        }
        // Symlink swaps (Kubernetes ConfigMaps) touch other names in the folder.
        if event.paths.iter().any(|p| relevant(p) || p.is_symlink()) {
            let _ = tx.send(());
        }
    })
    .ok()?;
    watcher
        .watch(&dir, notify::RecursiveMode::NonRecursive)
        .ok()?;
    Some(watcher)
}

/// A filter for [`watch`] that matches one file by name.
pub fn same_name(file: &Path) -> impl Fn(&Path) -> bool + Send + 'static {
    let name = file.file_name().map(|n| n.to_os_string());
    move |p: &Path| p.file_name().map(|n| n.to_os_string()) == name
}
