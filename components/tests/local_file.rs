//! `local.file` in a real controller: first read, change detection by filesystem
//! events and by polling, secrets, failures keeping the last content, and a second
//! component that follows the first one's export.

mod support;

use std::path::PathBuf;
use support::{content, controller, eventually, load};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferroalloy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn quote(path: &std::path::Path) -> String {
    alloy_syntax::parser::go_quote(&path.display().to_string())
}

#[tokio::test]
async fn follows_file_changes_and_feeds_dependants() {
    let dir = temp_dir("lf-follow");
    let pointer = dir.join("pointer.txt");
    let target = dir.join("target.txt");
    let other = dir.join("other.txt");
    std::fs::write(&target, "first\n").unwrap();
    std::fs::write(&other, "second").unwrap();
    std::fs::write(&pointer, format!("{}\n", target.display())).unwrap();
    let c = controller();
    let src = format!(
        "local.file \"pointer\" {{ filename = {} }}\nlocal.file \"data\" {{ filename = string.trim_space(local.file.pointer.content) }}\n",
        quote(&pointer)
    );
    load(&c, &src).await.unwrap();
    // Content is exported untrimmed.
    assert_eq!(content(&c, "local.file.data").as_deref(), Some("first\n"));

    // An fsnotify event re-reads the file.
    std::fs::write(&target, "changed").unwrap();
    eventually("the edit to be seen", || {
        content(&c, "local.file.data").as_deref() == Some("changed")
    })
    .await;

    // Atomic replace (write elsewhere, rename over) of the pointer: the dependant
    // follows to the new file.
    let tmp = dir.join("pointer.tmp");
    std::fs::write(&tmp, other.display().to_string()).unwrap();
    std::fs::rename(&tmp, &pointer).unwrap();
    eventually("the dependant to follow the new pointer", || {
        content(&c, "local.file.data").as_deref() == Some("second")
    })
    .await;
    c.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn polling_detects_changes_and_failures_keep_last_content() {
    let dir = temp_dir("lf-poll");
    let file = dir.join("f.txt");
    std::fs::write(&file, "one").unwrap();
    let c = controller();
    let src = format!(
        "local.file \"p\" {{\n  filename = {}\n  detector = \"poll\"\n  poll_frequency = \"50ms\"\n}}\n",
        quote(&file)
    );
    load(&c, &src).await.unwrap();
    std::fs::write(&file, "two").unwrap();
    eventually("the poll to see the change", || {
        content(&c, "local.file.p").as_deref() == Some("two")
    })
    .await;
    std::fs::remove_file(&file).unwrap();
    let node = c.node("local.file.p").unwrap();
    eventually("the failure to show in health", || {
        node.health().state.as_str() == "unhealthy"
    })
    .await;
    assert!(node.health().message.starts_with("failed to read file"));
    assert_eq!(content(&c, "local.file.p").as_deref(), Some("two"));
    c.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn secrets_missing_files_and_bad_arguments() {
    let dir = temp_dir("lf-errors");
    let file = dir.join("s.txt");
    std::fs::write(&file, "hunter2").unwrap();
    let c = controller();
    let src = format!(
        "local.file \"s\" {{\n  filename = {}\n  is_secret = true\n}}\n",
        quote(&file)
    );
    load(&c, &src).await.unwrap();
    let exports = c.node("local.file.s").unwrap().exports();
    let rendered = alloy_syntax::value::render(&exports);
    assert!(!rendered.contains("hunter2"), "{rendered}");
    assert!(rendered.contains("(secret)"), "{rendered}");

    let missing = format!(
        "local.file \"m\" {{ filename = {} }}\n",
        quote(&dir.join("nope"))
    );
    let errors = load(&c, &missing).await.unwrap_err();
    assert!(
        errors[0].starts_with("Failed to build component: failed to read file"),
        "{errors:?}"
    );

    let bad = format!(
        "local.file \"b\" {{\n  filename = {}\n  poll_frequency = \"0s\"\n}}\n",
        quote(&file)
    );
    let errors = load(&c, &bad).await.unwrap_err();
    assert_eq!(errors, ["poll_frequency must be greater than 0"]);
    c.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Run time applies the stdlib's stability gate as `validate` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experimental_functions_need_the_stability_level() {
    let src = "local.file \"x\" {\n  filename  = \"/dev/null\"\n  is_secret = string.format(\"%v\", array.combine_maps([], [], [\"a\"])) != \"[]\"\n}\n";
    let c = controller();
    assert_eq!(
        load(&c, src).await.unwrap_err(),
        ["array.combine_maps is at stability level \"experimental\", which is below the minimum allowed stability level \"generally-available\". Use --stability.level command-line flag to enable \"experimental\" features"]
    );
    c.shutdown();
    let c = alloy_runtime::controller::Controller::new(
        alloy_components::registry(),
        std::sync::Arc::new(alloy_stdlib::Stdlib::new()),
        alloy_runtime::controller::ControllerOptions {
            min_stability: alloy_runtime::component::Stability::Experimental,
            ..Default::default()
        },
    );
    load(&c, src).await.unwrap();
    assert_eq!(content(&c, "local.file.x").as_deref(), Some(""));
    c.shutdown();
}
