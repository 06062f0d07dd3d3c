//! The `/metrics` endpoint: the recorder's families (the bulk: megabytes at the caps, written
//! once and shared by the scrapes of one generation: [`super::scrapes`]), then the process's
//! own, written per scrape (kilobytes, changing at every scrape), in the format and encoding
//! the scraper asks for.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};

use super::scrapes::{Busy, Rendering, Written, gzip};
use super::state::AppState;
use crate::exposition::Format;

/// The OpenMetrics content type, as Prometheus asks for it.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET` handler for the telemetry path.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or_default()
    };
    let format = if prefers_openmetrics(header(header::ACCEPT)) {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    let gzip = accepts_gzip(header(header::ACCEPT_ENCODING));
    match answer(&state, format, gzip).await {
        Ok(response) => response,
        Err(Busy) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "Too many scrape answers are waiting to be read (--web.scrape-memory-bytes); \
             try again\n",
        )
            .into_response(),
    }
}

async fn answer(state: &AppState, format: Format, gzipped: bool) -> Result<Response, Busy> {
    let Written {
        rendering,
        head,
        deflated,
    } = state
        .scrapes
        .written(&state.recorder, format, gzipped)
        .await?;
    let mut tail = String::new();
    crate::exposition::write(&*state.telemetry, format, &mut tail);
    if format == Format::OpenMetrics {
        tail.push_str("# EOF\n");
    }
    let content_type = match format {
        Format::Text => prometheus::TEXT_FORMAT,
        Format::OpenMetrics => OPENMETRICS,
    };
    let (parts, encoding) = match deflated {
        Some(deflated) => (gzip(&deflated, tail.as_bytes()), Some("gzip")),
        None => (vec![head, Bytes::from(tail)], None),
    };
    let body = Body::new(Chunks {
        parts: parts.into(),
        _rendering: rendering,
    });
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    Ok(response)
}

/// A body of a few shared pieces, which keeps its rendering (and its room in the budget)
/// until it is sent or dropped.
#[derive(Debug)]
struct Chunks {
    parts: VecDeque<Bytes>,
    _rendering: Arc<Rendering>,
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.parts.pop_front().map(|part| Ok(Frame::data(part))))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.parts.iter().map(|p| p.len() as u64).sum())
    }
}

/// Whether `Accept-Encoding` admits gzip (`gzip`, `x-gzip` or `*`, with a q-value above 0).
fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f64>().ok())
            .unwrap_or(1.0);
        matches!(name.as_str(), "gzip" | "x-gzip" | "*") && q > 0.0
    })
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
    use super::*;

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

    #[test]
    fn gzip_is_sent_when_the_scraper_admits_it() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("gzip;q=0"));
    }
}
