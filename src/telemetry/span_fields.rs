//! How a span's fields are kept for the JSON log lines: one JSON object,
//! written by serde_json field by field when the span opens.
//!
//! `tracing`'s own `JsonFields` gathers the fields into a map of
//! `serde_json::Value`s first, on every span at creation, although most
//! spans (a request's, at `info`) end without a line that shows them. This
//! writes the same object (`{"id":"…"}`) straight away. The JSON event
//! formatter reads it back when a line inside the span is written.

use std::fmt;

use serde::Serialize;
use serde::ser::Serializer;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::Writer;

/// The span-field formatter of the JSON log format.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct SpanFieldsJson;

impl<'writer> FormatFields<'writer> for SpanFieldsJson {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut object = Object::default();
        fields.record(&mut object);
        object.finish(&mut writer)
    }

    /// Fields recorded later join the object (the formatter that reads it
    /// back needs one object, not two side by side).
    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut object = Object::default();
        if let Some(open) = current.fields.strip_suffix('}') {
            object.json.extend_from_slice(open.as_bytes());
        }
        fields.record(&mut object);
        current.fields.clear();
        object.finish(&mut current.as_writer())
    }
}

/// An object being written: `{` and the members so far.
struct Object {
    json: Vec<u8>,
    failed: bool,
}

impl Default for Object {
    /// Room for a request span's `{"id":"…"}` without growing.
    fn default() -> Self {
        Self {
            json: Vec::with_capacity(64),
            failed: false,
        }
    }
}

impl Object {
    /// Appends `"name":value`.
    fn member(&mut self, field: &Field, value: impl Serialize) {
        match self.json.last() {
            None => self.json.push(b'{'),
            Some(b'{') => {}
            Some(_) => self.json.push(b','),
        }
        let name = field.name();
        let written = if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            // An identifier (every field name bff uses) needs no escaping.
            self.json.push(b'"');
            self.json.extend_from_slice(name.as_bytes());
            self.json.extend_from_slice(b"\":");
            Ok(())
        } else {
            serde_json::to_writer(&mut self.json, name).map(|()| self.json.push(b':'))
        };
        let written = written.and_then(|()| serde_json::to_writer(&mut self.json, &value));
        self.failed |= written.is_err();
    }

    /// Closes the object and writes it out.
    fn finish(mut self, writer: &mut Writer<'_>) -> fmt::Result {
        if self.failed {
            return Err(fmt::Error);
        }
        if self.json.is_empty() {
            self.json.push(b'{');
        }
        self.json.push(b'}');
        let text = std::str::from_utf8(&self.json).map_err(|_not_utf8| fmt::Error)?;
        writer.write_str(text)
    }
}

/// A `Debug` value as a JSON string.
struct DebugText<'a>(&'a dyn fmt::Debug);

impl Serialize for DebugText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:?}", self.0))
    }
}

impl Visit for Object {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, DebugText(value));
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Formats the fields of one span with `record` applied after it opened.
    fn logged(open: impl FnOnce() -> tracing::Span, later: impl FnOnce(&tracing::Span)) -> String {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = std::sync::Arc::clone(&lines);
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .fmt_fields(SpanFieldsJson)
            .with_writer(move || Sink(std::sync::Arc::clone(&sink)));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = open();
            later(&span);
            span.in_scope(|| tracing::info!("inside"));
        });
        let bytes = lines.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_inside_a_span_carries_its_fields_as_json() {
        let text = logged(
            || tracing::info_span!("request", id = "a\"b", n = 3_u64, ok = true, e = ?[1, 2]),
            |_span| {},
        );
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["message"], "inside");
        let span = &line["span"];
        assert_eq!(span["name"], "request");
        assert_eq!(
            (span["id"].as_str(), span["n"].as_u64()),
            (Some("a\"b"), Some(3))
        );
        assert_eq!(
            (span["ok"].as_bool(), span["e"].as_str()),
            (Some(true), Some("[1, 2]"))
        );
        let odd = logged(
            || tracing::info_span!("request", "a.\"b" = 1_u64),
            |_span| {},
        );
        let line: serde_json::Value = serde_json::from_str(odd.trim()).unwrap();
        assert_eq!(line["span"]["a.\"b"], 1);
    }

    #[test]
    fn fields_recorded_later_join_the_same_object() {
        let text = logged(
            || tracing::info_span!("request", id = "r", user = tracing::field::Empty),
            |span| {
                span.record("user", "u1");
            },
        );
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(
            (line["span"]["id"].as_str(), line["span"]["user"].as_str()),
            (Some("r"), Some("u1"))
        );
        let bare = logged(
            || tracing::info_span!("request", user = tracing::field::Empty),
            |span| {
                span.record("user", 7_u64);
            },
        );
        let line: serde_json::Value = serde_json::from_str(bare.trim()).unwrap();
        assert_eq!(
            (line["span"]["name"].as_str(), line["span"]["user"].as_u64()),
            (Some("request"), Some(7))
        );
    }
}
