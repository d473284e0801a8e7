//! `remote.http` against a real HTTP server on 127.0.0.1: first poll, changes within a
//! poll, failures that keep the last content, authentication and argument checks.

mod support;

use std::sync::{Arc, Mutex};
use support::{content, controller, eventually, load, server, Served};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_follows_changes_and_keeps_last_good_content() {
    let served = Arc::new(Mutex::new(Served {
        status: 200,
        body: "  first\n".into(),
        ..Default::default()
    }));
    let url = server(served.clone()).await;
    let c = controller();
    let src = format!(
        "remote.http \"r\" {{\n  url = \"{url}/config\"\n  poll_frequency = \"100ms\"\n  poll_timeout = \"50ms\"\n  headers = {{ \"X-Test\" = \"yes\" }}\n  client {{\n    basic_auth {{\n      username = \"u\"\n      password = \"p\"\n    }}\n  }}\n}}\n"
    );
    load(&c, &src).await.unwrap();
    // The body is trimmed; auth and headers are sent.
    assert_eq!(content(&c, "remote.http.r").as_deref(), Some("first"));
    {
        let s = served.lock().unwrap();
        let req = s.requests[0].to_ascii_lowercase();
        assert!(req.starts_with("get /config "), "{req}");
        assert!(req.contains("authorization: basic dtpw"), "{req}");
        assert!(req.contains("x-test: yes"), "{req}");
    }

    served.lock().unwrap().body = "second".into();
    eventually("the next poll to see the change", || {
        content(&c, "remote.http.r").as_deref() == Some("second")
    })
    .await;

    // Only 200 counts: the last good content stays and health says why.
    served.lock().unwrap().status = 503;
    served.lock().unwrap().body = "down".into();
    let node = c.node("remote.http.r").unwrap();
    eventually("the failure to show in health", || {
        node.health().state.as_str() == "unhealthy"
    })
    .await;
    assert!(
        node.health()
            .message
            .starts_with("polling failed: unexpected status code 503"),
        "{}",
        node.health().message
    );
    assert_eq!(content(&c, "remote.http.r").as_deref(), Some("second"));

    served.lock().unwrap().status = 200;
    eventually("recovery", || node.health().state.as_str() == "healthy").await;
    assert_eq!(content(&c, "remote.http.r").as_deref(), Some("down"));
    c.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_poll_failure_and_bad_arguments_fail_the_load() {
    let served = Arc::new(Mutex::new(Served {
        status: 404,
        ..Default::default()
    }));
    let url = server(served).await;
    let c = controller();
    let errors = load(&c, &format!("remote.http \"r\" {{ url = \"{url}\" }}\n"))
        .await
        .unwrap_err();
    assert_eq!(
        errors,
        ["Failed to build component: polling failed: unexpected status code 404 Not Found"]
    );
    let errors = load(
        &c,
        &format!("remote.http \"r\" {{\n  url = \"{url}\"\n  poll_timeout = \"2m\"\n}}\n"),
    )
    .await
    .unwrap_err();
    assert_eq!(errors, ["poll_timeout must be less than poll_frequency"]);
    let errors = load(
        &c,
        &format!("remote.http \"r\" {{\n  url = \"{url}\"\n  client {{\n    bearer_token = \"t\"\n    basic_auth {{ username = \"u\" }}\n  }}\n}}\n"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        errors,
        ["at most one of basic_auth, authorization, oauth2, bearer_token & bearer_token_file must be configured"]
    );
    c.shutdown();
}
