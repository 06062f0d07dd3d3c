//! The `/metrics` endpoint: it joins sources of text ([`WriteText`]) without knowing their
//! insides, in the format the scraper asks for (gzip, when asked, is a layer of the route).

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;

use super::state::AppState;
use crate::text::WriteText;

/// The OpenMetrics content type, as Prometheus asks for it.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET` handler for the telemetry path: the recorder's families, then the process's.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let sources: [&dyn WriteText; 2] = [&*state.recorder, &*state.telemetry];
    let mut body = String::new();
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if prefers_openmetrics(accept) {
        for source in sources {
            source.write_openmetrics(&mut body);
        }
        body.push_str("# EOF\n");
        ([(header::CONTENT_TYPE, OPENMETRICS)], body)
    } else {
        for source in sources {
            source.write_text(&mut body);
        }
        ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body)
    }
}

/// Whether `Accept` ranks OpenMetrics above the text format (Prometheus sends
/// `application/openmetrics-text;version=1.0.0,…,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`).
fn prefers_openmetrics(accept: &str) -> bool {
    let mut openmetrics = 0.0_f64;
    let mut text = 0.0_f64;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f64>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/openmetrics-text" => openmetrics = openmetrics.max(q),
            "text/plain" | "*/*" => text = text.max(q),
            _ => {}
        }
    }
    openmetrics > 0.0 && openmetrics >= text
}

#[cfg(test)]
mod tests {
    use super::prefers_openmetrics;

    #[test]
    fn the_scraper_s_preference_decides_the_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                          version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(prefers_openmetrics(prometheus));
        assert!(!prefers_openmetrics(""));
        assert!(!prefers_openmetrics("*/*"));
        assert!(!prefers_openmetrics("text/plain;version=0.0.4"));
        assert!(!prefers_openmetrics(
            "text/plain,application/openmetrics-text;q=0.5"
        ));
        assert!(!prefers_openmetrics("application/openmetrics-text;q=0"));
    }
}
