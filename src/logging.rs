//! The log line formats, as Prometheus tools write them: logfmt with `ts`, `level` and `msg`
//! first (go-kit's keys), or one flat JSON object a line with `time`, `level`, `msg`, then the
//! event's fields. tracing-subscriber's own formats say `message` (and JSON nests the fields
//! under `fields`), which log pipelines built for Prometheus tools do not find.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// One of the two line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Logfmt,
    Json,
}

/// A field's value: numbers and booleans stay so in JSON.
#[derive(Debug)]
enum Value {
    Text(String),
    Number(String),
}

/// The event's message and fields, in the order they were written.
#[derive(Debug, Default)]
struct Fields {
    msg: String,
    fields: Vec<(&'static str, Value)>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.msg = match value {
                Value::Text(t) | Value::Number(t) => t,
            };
        } else {
            self.fields.push((field.name(), value));
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Text(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::Number(value.to_string()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::Number(value.to_string()));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = if value.is_finite() {
            Value::Number(value.to_string())
        } else {
            Value::Text(value.to_string())
        };
        self.push(field, value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Number(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%display` fields arrive here, wrapped so that Debug prints their Display.
        self.push(field, Value::Text(format!("{value:?}")));
    }
}

/// A logfmt value: bare when it can be, else quoted with `"` and `\` escaped and line breaks
/// written as `\n`, so that one event is one line.
fn logfmt_value(out: &mut String, value: &str) {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=' && c != '\\');
    if bare {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The line of one event (without its line ending).
fn line(format: Format, level: &str, target: &str, fields: &Fields) -> String {
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    match format {
        Format::Logfmt => {
            let mut out = format!("ts={time} level={level} msg=");
            logfmt_value(&mut out, &fields.msg);
            out.push_str(" target=");
            logfmt_value(&mut out, target);
            for (name, value) in &fields.fields {
                let _ = write!(out, " {name}=");
                match value {
                    Value::Text(t) | Value::Number(t) => logfmt_value(&mut out, t),
                }
            }
            out
        }
        Format::Json => {
            let mut object = serde_json::Map::new();
            object.insert("time".into(), time.into());
            object.insert("level".into(), level.into());
            object.insert("msg".into(), fields.msg.clone().into());
            object.insert("target".into(), target.into());
            for (name, value) in &fields.fields {
                let value = match value {
                    Value::Number(n) => {
                        serde_json::from_str(n).unwrap_or_else(|_| n.clone().into())
                    }
                    Value::Text(t) => t.clone().into(),
                };
                object.insert((*name).to_owned(), value);
            }
            serde_json::Value::Object(object).to_string()
        }
    }
}

impl<S, N> FormatEvent<S, N> for Format
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        let level = metadata.level().as_str().to_ascii_lowercase();
        writeln!(
            writer,
            "{}",
            line(*self, &level, metadata.target(), &fields)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(msg: &str, fields: Vec<(&'static str, Value)>) -> Fields {
        Fields {
            msg: msg.into(),
            fields,
        }
    }

    #[test]
    fn logfmt_puts_msg_after_ts_and_level_and_quotes_what_needs_it() {
        let f = fields(
            "webhook delivery refused",
            vec![
                ("outcome", Value::Text("unauthorized".into())),
                ("error", Value::Text("bad \"sig\"\nnext".into())),
                ("unlogged_before", Value::Number("0".into())),
                ("empty", Value::Text(String::new())),
            ],
        );
        let line = line(Format::Logfmt, "warn", "platformsh_exporter::http", &f);
        let (ts, rest) = line.split_once(' ').unwrap();
        assert!(ts.starts_with("ts=") && ts.ends_with('Z'), "{line}");
        assert_eq!(
            rest,
            "level=warn msg=\"webhook delivery refused\" target=platformsh_exporter::http \
             outcome=unauthorized error=\"bad \\\"sig\\\"\\nnext\" unlogged_before=0 empty=\"\""
        );
    }

    #[test]
    fn json_is_flat_with_time_level_and_msg() {
        let f = fields(
            "listening",
            vec![
                ("address", Value::Text("0.0.0.0:9887".into())),
                ("activities", Value::Number("12".into())),
            ],
        );
        let line = line(Format::Json, "info", "platformsh_exporter", &f);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["msg"], "listening");
        assert_eq!(v["level"], "info");
        assert_eq!(v["address"], "0.0.0.0:9887");
        assert_eq!(v["activities"], 12);
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        assert!(v.get("fields").is_none());
    }
}
