//! Modules end to end with the real components: declares and custom components
//! (arguments, defaults, exports, nesting, in-place updates), import.string/file/http
//! (changes followed, bad content refused with the old module kept, the last good
//! module persisted for a restart while the server is down) and classic modules
//! (`import.http` + `arguments` + `output`, `module.string`).

mod support;

use alloy_runtime::controller::Controller;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use support::{controller_in, eventually, load, server, Served};

/// A fresh directory for one test's files and storage.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferroalloy-mod-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Field `field` of node `id`'s exports, as a string.
fn export(c: &Controller, id: &str, field: &str) -> Option<String> {
    let exports = c.node(id)?.exports();
    let value = exports.as_object()?.get(field)?.clone();
    value.as_str().map(str::to_string)
}

/// `exports.<field>` of a classic module node.
fn classic_export(c: &Controller, id: &str, field: &str) -> Option<String> {
    let exports = c.node(id)?.exports();
    let inner = exports.as_object()?.get("exports")?.as_object()?.clone();
    inner.get(field)?.as_str().map(str::to_string)
}

const READER: &str = r#"
declare "reader" {
  argument "path" {
    comment = "the file to read"
  }
  argument "suffix" {
    optional = true
    default  = "!"
  }

  local.file "f" {
    filename       = argument.path.value
    poll_frequency = "50ms"
    detector       = "poll"
  }

  export "text" {
    value = local.file.f.content + argument.suffix.value
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_components_take_arguments_and_propagate_exports() {
    let dir = scratch("declare");
    let (a, b, c_file) = (dir.join("a.txt"), dir.join("b.txt"), dir.join("c.txt"));
    std::fs::write(&a, b.display().to_string()).unwrap();
    std::fs::write(&b, "bee").unwrap();
    std::fs::write(&c_file, "sea").unwrap();
    let c = controller_in(&dir.join("data"));
    let src = format!(
        "{READER}\nreader \"a\" {{\n  path   = {:?}\n  suffix = \"\"\n}}\n\nreader \"b\" {{\n  path = reader.a.text\n}}\n",
        a.display().to_string()
    );
    load(&c, &src).await.unwrap();
    assert_eq!(
        export(&c, "reader.a", "text").as_deref(),
        Some(b.to_str().unwrap())
    );
    // The optional argument's default applies to b.
    assert_eq!(export(&c, "reader.b", "text").as_deref(), Some("bee!"));
    // Components inside a module have global IDs under the instance.
    let inner = c.node("reader.b/local.file.f").expect("nested node");
    assert_eq!(inner.global_id, "reader.b/local.file.f");
    assert!(c.node("reader.b").unwrap().is_component());

    // A change inside module a flows out through its export into module b.
    std::fs::write(&a, c_file.display().to_string()).unwrap();
    eventually("b to follow a's export", || {
        export(&c, "reader.b", "text").as_deref() == Some("sea!")
    })
    .await;

    // A reload that changes an argument updates the nested component in place.
    let src2 = src.replace(
        "path = reader.a.text",
        "path = reader.a.text\n  suffix = \"?\"",
    );
    load(&c, &src2).await.unwrap();
    assert_eq!(export(&c, "reader.b", "text").as_deref(), Some("sea?"));
    assert!(
        Arc::ptr_eq(&inner, &c.node("reader.b/local.file.f").unwrap()),
        "nested component was replaced instead of updated"
    );
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_argument_and_definition_errors_are_reported() {
    let dir = scratch("errors");
    let c = controller_in(&dir);
    let missing = format!("{READER}\nreader \"a\" {{ }}\n");
    // Dependants of the failed argument fail too (every node is evaluated, as
    // upstream); the first error is the cause.
    assert_eq!(
        load(&c, &missing).await.unwrap_err()[0],
        "missing required argument \"path\" to module"
    );
    let unknown = format!("{READER}\nreader \"a\" {{\n  path = \"x\"\n  nope = 1\n}}\n");
    assert_eq!(
        load(&c, &unknown).await.unwrap_err(),
        ["Provided argument \"nope\" is not defined in the module"]
    );
    assert_eq!(
        load(&c, "argument \"x\" { }\nexport \"y\" { value = 1 }\n")
            .await
            .unwrap_err(),
        [
            "argument blocks only allowed inside a module",
            "export blocks only allowed inside a module"
        ]
    );
    assert_eq!(
        load(
            &c,
            "declare \"loop\" {\n  loop \"again\" { }\n}\nloop \"x\" { }\n"
        )
        .await
        .unwrap_err(),
        ["cannot reference self"]
    );
    assert_eq!(
        load(&c, "nothing.here \"x\" { }\n").await.unwrap_err(),
        ["cannot find the definition of component name \"nothing.here\""]
    );
    // A module sees only its own nodes, not its parent's.
    let leak = "local.file \"outer\" { filename = \"/dev/null\" }\ndeclare \"d\" {\n  export \"x\" { value = local.file.outer.content }\n}\nd \"i\" { }\n";
    assert_eq!(
        load(&c, leak).await.unwrap_err(),
        ["component \"local.file.outer.content\" does not exist or is out of scope"]
    );
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declares_nest_and_import_string_follows_its_content() {
    let dir = scratch("string");
    let module = dir.join("module.alloy");
    std::fs::write(
        &module,
        "declare \"greet\" {\n  argument \"who\" { }\n  export \"text\" { value = \"hello \" + argument.who.value }\n}\n",
    )
    .unwrap();
    let c = controller_in(&dir.join("data"));
    let src = format!(
        r#"
local.file "module" {{
  filename       = {:?}
  detector       = "poll"
  poll_frequency = "50ms"
}}

import.string "lib" {{
  content = local.file.module.content
}}

declare "twice" {{
  argument "who" {{ }}
  lib.greet "inner" {{
    who = argument.who.value
  }}
  export "text" {{
    value = lib.greet.inner.text + "; " + lib.greet.inner.text
  }}
}}

twice "x" {{
  who = "world"
}}
"#,
        module.display().to_string()
    );
    load(&c, &src).await.unwrap();
    assert_eq!(
        export(&c, "twice.x", "text").as_deref(),
        Some("hello world; hello world")
    );
    assert!(c.node("twice.x/lib.greet.inner").is_some());

    std::fs::write(
        &module,
        "declare \"greet\" {\n  argument \"who\" { }\n  export \"text\" { value = \"bye \" + argument.who.value }\n}\n",
    )
    .unwrap();
    eventually("the new module to reach the nested instance", || {
        export(&c, "twice.x", "text").as_deref() == Some("bye world; bye world")
    })
    .await;
    c.shutdown();
}

/// The module a fleet's HTTP server hands out.
fn served_module(word: &str) -> String {
    format!(
        "declare \"word\" {{\n  argument \"n\" {{ optional = true\n default = 1 }}\n  export \"text\" {{ value = \"{word}\" + string.format(\"%d\", argument.n.value) }}\n}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_http_follows_the_server_keeps_the_last_good_module_and_survives_restart() {
    let dir = scratch("http");
    let storage = dir.join("data");
    let served = Arc::new(Mutex::new(Served {
        status: 200,
        body: served_module("one"),
        ..Default::default()
    }));
    let url = server(served.clone()).await;
    let src = format!(
        "import.http \"fleet\" {{\n  url            = \"{url}/modules/fleet.alloy\"\n  poll_frequency = \"100ms\"\n  poll_timeout   = \"50ms\"\n}}\n\nfleet.word \"w\" {{\n  n = 2\n}}\n"
    );
    let c = controller_in(&storage);
    load(&c, &src).await.unwrap();
    assert_eq!(export(&c, "fleet.word.w", "text").as_deref(), Some("one2"));

    // A new body is followed within a poll.
    served.lock().unwrap().body = served_module("two");
    eventually("the new module", || {
        export(&c, "fleet.word.w", "text").as_deref() == Some("two2")
    })
    .await;

    // Garbage: the running module stays, the import says why.
    served.lock().unwrap().body = "this is { not a module".into();
    let import = c.node("import.http.fleet").unwrap();
    eventually("the import to turn unhealthy", || {
        import.health().state.as_str() == "unhealthy"
    })
    .await;
    assert!(
        import.health().message.contains("is invalid"),
        "{}",
        import.health().message
    );
    // Valid syntax but not a module is refused the same way.
    served.lock().unwrap().body = "local.file \"x\" { filename = \"/dev/null\" }".into();
    eventually("the non-module to be refused", || {
        import
            .health()
            .message
            .contains("only declare and import blocks are allowed in a module, got local.file")
    })
    .await;
    // A fetched module may not read the local disk.
    served.lock().unwrap().body = "import.file \"x\" { filename = \"/etc/hostname\" }".into();
    eventually("import.file in a fetched module to be refused", || {
        import
            .health()
            .message
            .contains("import.file is not supported inside a module fetched by import.http")
    })
    .await;
    assert_eq!(export(&c, "fleet.word.w", "text").as_deref(), Some("two2"));

    // A server failure keeps the module too.
    served.lock().unwrap().status = 503;
    eventually("the poll failure to show", || {
        import
            .health()
            .message
            .contains("unexpected status code 503")
    })
    .await;
    assert_eq!(export(&c, "fleet.word.w", "text").as_deref(), Some("two2"));
    c.shutdown();

    // Restart while the server is still down: the persisted module runs.
    let c = controller_in(&storage);
    load(&c, &src).await.unwrap();
    assert_eq!(export(&c, "fleet.word.w", "text").as_deref(), Some("two2"));
    let import = c.node("import.http.fleet").unwrap();
    assert_eq!(import.health().state.as_str(), "unhealthy");
    assert!(
        import.health().message.contains("last good module"),
        "{}",
        import.health().message
    );
    // And it recovers when the server does.
    {
        let mut s = served.lock().unwrap();
        s.status = 200;
        s.body = served_module("three");
    }
    eventually("recovery after the restart", || {
        export(&c, "fleet.word.w", "text").as_deref() == Some("three2")
    })
    .await;
    c.shutdown();

    // Without a persisted copy, a first fetch failure fails the load, as upstream.
    let fresh = controller_in(&dir.join("fresh"));
    served.lock().unwrap().status = 404;
    let errors = load(&fresh, &src).await.unwrap_err();
    assert_eq!(
        errors,
        [
            "Failed to build component: polling failed: unexpected status code 404 Not Found",
            "module \"fleet\" has not been loaded"
        ]
    );
    fresh.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_modules_bind_arguments_and_export_outputs() {
    let dir = scratch("classic");
    // The Grafana blog's seed config shape: import.http with arguments, a served body
    // with top-level argument blocks and an output block.
    let served = Arc::new(Mutex::new(Served {
        status: 200,
        body: "argument \"api_url_base\" { }\nargument \"tenant\" {\n  optional = true\n  default = \"anonymous\"\n}\n\noutput \"url\" {\n  value = argument.api_url_base.value + \"/\" + argument.tenant.value\n}\n".into(),
        ..Default::default()
    }));
    let url = server(served.clone()).await;
    let c = controller_in(&dir.join("data"));
    let src = format!(
        "import.http \"seed\" {{\n  url            = \"{url}/seed.alloy\"\n  poll_frequency = \"100ms\"\n  poll_timeout   = \"50ms\"\n\n  arguments {{\n    api_url_base = \"https://example.com\"\n  }}\n}}\n\nmodule.string \"inline\" {{\n  content = \"argument \\\"in\\\" {{ }}\\nexport \\\"out\\\" {{ value = argument.in.value + \\\"!\\\" }}\\n\"\n\n  arguments {{\n    in = import.http.seed.exports.url\n  }}\n}}\n"
    );
    load(&c, &src).await.unwrap();
    assert_eq!(
        classic_export(&c, "import.http.seed", "url").as_deref(),
        Some("https://example.com/anonymous")
    );
    assert_eq!(
        classic_export(&c, "module.string.inline", "out").as_deref(),
        Some("https://example.com/anonymous!")
    );

    // The served body changes; the module reloads and dependants follow.
    served.lock().unwrap().body = "argument \"api_url_base\" { }\nexport \"url\" { value = argument.api_url_base.value + \"/v2\" }\n".into();
    eventually("the classic module to reload", || {
        classic_export(&c, "module.string.inline", "out").as_deref()
            == Some("https://example.com/v2!")
    })
    .await;

    // Arguments the served module does not declare are refused.
    let bad = src.replace("api_url_base = ", "unknown_arg = 1\n    api_url_base = ");
    assert_eq!(
        load(&c, &bad).await.unwrap_err(),
        ["Provided argument \"unknown_arg\" is not defined in the module"]
    );
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_modules_example_runs() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/examples/modules")
        .canonicalize()
        .unwrap();
    let storage = scratch("example");
    let c = Controller::new(
        alloy_components::registry(),
        Arc::new(alloy_stdlib::Stdlib::new()),
        alloy_runtime::controller::ControllerOptions {
            storage_path: storage,
            module_path: example.display().to_string(),
            ..Default::default()
        },
    );
    let (files, diags) = alloy_runtime::source::load(&example.join("main.alloy")).unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    let report = c.load(files).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        report
            .warnings
            .iter()
            .map(|w| w.message.as_str())
            .collect::<Vec<_>>(),
        Vec::<&str>::new(),
        "the root has no deprecated blocks; the module's output warning is logged"
    );
    assert_eq!(
        export(&c, "lib.greeting.hello", "text").as_deref(),
        Some("hello, ferroalloy!")
    );
    assert_eq!(
        classic_export(&c, "module.file.seed", "message").as_deref(),
        Some("HELLO, FERROALLOY! (x2)")
    );
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_file_takes_a_directory_as_one_module() {
    let dir = scratch("dir");
    let lib = dir.join("lib");
    std::fs::create_dir_all(lib.join("nested")).unwrap();
    // outer uses inner, declared in a sibling file; nested/ and other files are ignored.
    std::fs::write(
        lib.join("a.alloy"),
        "declare \"outer\" {\n  inner \"i\" { }\n  export \"text\" { value = \"outer(\" + inner.i.text + \")\" }\n}\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("b.alloy"),
        "declare \"inner\" {\n  export \"text\" { value = \"one\" }\n}\n",
    )
    .unwrap();
    std::fs::write(lib.join("nested/c.alloy"), "garbage {").unwrap();
    std::fs::write(lib.join("notes.txt"), "not a module").unwrap();
    let c = controller_in(&dir.join("data"));
    let src = format!(
        "import.file \"lib\" {{\n  filename       = {:?}\n  detector       = \"poll\"\n  poll_frequency = \"50ms\"\n}}\n\nlib.outer \"x\" {{ }}\n",
        lib.display().to_string()
    );
    load(&c, &src).await.unwrap();
    assert_eq!(
        export(&c, "lib.outer.x", "text").as_deref(),
        Some("outer(one)")
    );

    std::fs::write(
        lib.join("b.alloy"),
        "declare \"inner\" {\n  export \"text\" { value = \"two\" }\n}\n",
    )
    .unwrap();
    eventually("the edited sibling file to be followed", || {
        export(&c, "lib.outer.x", "text").as_deref() == Some("outer(two)")
    })
    .await;
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_modules_may_import_modules() {
    let dir = scratch("nested-import");
    let lib = dir.join("lib.alloy");
    let leaf = dir.join("leaf.alloy");
    // lib imports leaf relative to its own module_path and wraps leaf's declare.
    std::fs::write(
        &lib,
        "import.file \"leaf\" {\n  filename       = module_path + \"/leaf.alloy\"\n  detector       = \"poll\"\n  poll_frequency = \"50ms\"\n}\n\ndeclare \"wrap\" {\n  leaf.value \"v\" { }\n  export \"text\" { value = \"wrapped \" + leaf.value.v.text }\n}\n",
    )
    .unwrap();
    std::fs::write(
        &leaf,
        "declare \"value\" {\n  export \"text\" { value = \"one\" }\n}\n",
    )
    .unwrap();
    let c = controller_in(&dir.join("data"));
    let src = format!(
        "import.file \"lib\" {{\n  filename = {:?}\n}}\n\nlib.wrap \"w\" {{ }}\n",
        lib.display().to_string()
    );
    load(&c, &src).await.unwrap();
    assert_eq!(
        export(&c, "lib.wrap.w", "text").as_deref(),
        Some("wrapped one")
    );

    // A change two imports down reaches the instance in the root.
    std::fs::write(
        &leaf,
        "declare \"value\" {\n  export \"text\" { value = \"two\" }\n}\n",
    )
    .unwrap();
    eventually("the nested import's change to reach the root", || {
        export(&c, "lib.wrap.w", "text").as_deref() == Some("wrapped two")
    })
    .await;
    c.shutdown();
}
