//! The web UI (CLI-AND-HTTP.md §6): one HTML shell for every page path, and a small
//! script and style sheet compiled into the binary, so the UI works offline and
//! needs no CDN. The script routes on the path, fetches the JSON of [`super::api`]
//! and refreshes it periodically without reloading the page.

use super::Shared;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(page))
        .route("/component/{*id}", get(page))
        .route("/debug/{*id}", get(page))
        .route("/graph", get(page))
        .route("/graph/{*module}", get(page))
        .route("/clustering", get(page))
        .route("/assets/app.js", get(script))
        .route("/assets/app.css", get(style))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}
