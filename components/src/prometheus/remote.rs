//! Remote-write 1.0 on the wire (COMPONENTS.md §6.4): the protobuf messages, written
//! by hand with `prost` derives so no `protoc` is needed, request encoding (protobuf,
//! then raw-block snappy), and one POST with the outcome classified for retrying.

use super::Labels;
use std::time::Duration;

/// `prometheus.WriteRequest`. Metadata (field 3) is never sent: v1 metadata sending
/// is best-effort upstream and omitted here (COMPONENTS.md §6.4).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels sorted by name, samples in timestamp order.
/// Exemplars (3) and native histograms (4) are not in ferroalloy's data model yet.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `protobuf_message` values.
pub const PROTOBUF_V1: &str = "prometheus.WriteRequest";
pub const PROTOBUF_V2: &str = "io.prometheus.write.v2.Request";

/// Headers a user may not set, as in Prometheus' `reservedHeaders`: they would break
/// the protocol or the authentication we add.
pub const RESERVED_HEADERS: [&str; 12] = [
    "authorization",
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "x-prometheus-remote-write-version",
];

/// `Alloy/v<version> (<os>; ferroalloy)`: upstream's shape (`Alloy/v1.x (linux;
/// binary)`), so receivers that sort clients by user agent see an Alloy.
pub fn user_agent() -> String {
    format!(
        "Alloy/v{} ({}; ferroalloy)",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS
    )
}

/// Builds the request body for samples grouped by series: protobuf, then snappy.
/// `series` must already be in the order to send; samples keep their order.
pub fn encode_request(series: &[(Labels, Vec<(i64, f64)>)]) -> Vec<u8> {
    let mut out = Vec::new();
    RequestEncoder::default().encode(series.iter().map(|(l, s)| (l, s.iter().copied())), &mut out);
    out
}

/// Encodes requests straight from [`Labels`], writing the protobuf by hand: building
/// prost's message structs would copy every label name and value into a `String`
/// per sample sent. Its buffers and snappy encoder are kept between requests.
/// The bytes are those prost writes for [`WriteRequest`] (proto3: fields holding
/// their default value are left out).
pub struct RequestEncoder {
    raw: Vec<u8>,
    snappy: snap::raw::Encoder,
}

impl Default for RequestEncoder {
    fn default() -> Self {
        RequestEncoder {
            raw: Vec::new(),
            snappy: snap::raw::Encoder::new(),
        }
    }
}

/// Protobuf tags: field number << 3 | wire type (0 varint, 1 fixed64, 2 length).
const TAG_TIMESERIES: u8 = (1 << 3) | 2;
const TAG_LABELS: u8 = (1 << 3) | 2;
const TAG_SAMPLES: u8 = (2 << 3) | 2;
const TAG_NAME: u8 = (1 << 3) | 2;
const TAG_VALUE: u8 = (2 << 3) | 2;
const TAG_SAMPLE_VALUE: u8 = (1 << 3) | 1;
const TAG_SAMPLE_TIMESTAMP: u8 = 2 << 3;

fn varint_len(v: u64) -> usize {
    // 7 bits per byte; zero takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A string field's encoded length (tag, length, bytes); empty strings are omitted.
fn string_field_len(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        1 + varint_len(s.len() as u64) + s.len()
    }
}

fn put_string_field(out: &mut Vec<u8>, tag: u8, s: &str) {
    if !s.is_empty() {
        out.push(tag);
        put_varint(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
}

fn sample_len(timestamp: i64, value: f64) -> usize {
    let mut n = 0;
    if value != 0.0 {
        n += 9;
    }
    if timestamp != 0 {
        n += 1 + varint_len(timestamp as u64);
    }
    n
}

impl RequestEncoder {
    /// Encodes series (each with its samples, in order) into `out` (cleared first):
    /// protobuf, then raw-block snappy.
    pub fn encode<'a, S>(
        &mut self,
        series: impl IntoIterator<Item = (&'a Labels, S)>,
        out: &mut Vec<u8>,
    ) where
        S: Iterator<Item = (i64, f64)> + Clone,
    {
        let raw = &mut self.raw;
        raw.clear();
        for (labels, samples) in series {
            let mut body = 0usize;
            for l in labels.iter() {
                let n = string_field_len(&l.name) + string_field_len(&l.value);
                body += 1 + varint_len(n as u64) + n;
            }
            for (ts, v) in samples.clone() {
                let n = sample_len(ts, v);
                body += 1 + varint_len(n as u64) + n;
            }
            raw.push(TAG_TIMESERIES);
            put_varint(raw, body as u64);
            for l in labels.iter() {
                let n = string_field_len(&l.name) + string_field_len(&l.value);
                raw.push(TAG_LABELS);
                put_varint(raw, n as u64);
                put_string_field(raw, TAG_NAME, &l.name);
                put_string_field(raw, TAG_VALUE, &l.value);
            }
            for (ts, v) in samples {
                raw.push(TAG_SAMPLES);
                put_varint(raw, sample_len(ts, v) as u64);
                if v != 0.0 {
                    raw.push(TAG_SAMPLE_VALUE);
                    raw.extend_from_slice(&v.to_le_bytes());
                }
                if ts != 0 {
                    raw.push(TAG_SAMPLE_TIMESTAMP);
                    put_varint(raw, ts as u64);
                }
            }
        }
        out.clear();
        out.resize(snap::raw::max_compress_len(raw.len()), 0);
        let n = self
            .snappy
            .compress(raw, out)
            .expect("snappy compresses any request below 4 GiB");
        out.truncate(n);
    }
}

/// Decodes a request body (for tests and test receivers).
pub fn decode_request(body: &[u8]) -> Result<WriteRequest, String> {
    use prost::Message;
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("bad snappy body: {e}"))?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| format!("bad protobuf body: {e}"))
}

/// What became of one POST.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Sent,
    /// Try again, after at least this long when the server said so (`Retry-After`).
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// The server refused the data for good: drop the batch.
    Drop(String),
}

/// Classifies a response status, as Prometheus' client does.
pub fn classify(status: u16, retry_after: Option<&str>, retry_on_429: bool, body: &str) -> Outcome {
    let reason = format!("server returned HTTP status {status}: {}", body.trim());
    match status {
        200..=299 => Outcome::Sent,
        429 if retry_on_429 => Outcome::Retry {
            after: retry_after.and_then(parse_retry_after),
            reason,
        },
        500..=599 => Outcome::Retry {
            after: retry_after.and_then(parse_retry_after),
            reason,
        },
        _ => Outcome::Drop(reason),
    }
}

/// `Retry-After` in seconds. The HTTP-date form is ignored (the backoff applies).
fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// How far the response body is read for error messages.
const MAX_ERROR_BODY: usize = 512;

/// Everything a POST needs besides the body.
pub struct Target {
    pub client: reqwest::Client,
    pub url: String,
    pub timeout: Duration,
    pub headers: Vec<(String, String)>,
    pub auth: crate::http_client::HttpClientArgs,
    pub retry_on_429: bool,
}

/// One POST of an encoded request (shared bytes: a retry resends them uncopied).
pub async fn post(target: &Target, body: bytes::Bytes) -> Outcome {
    let mut req = target
        .client
        .post(&target.url)
        .timeout(target.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
        .header(reqwest::header::CONTENT_ENCODING, "snappy")
        .header(reqwest::header::USER_AGENT, user_agent())
        .header("X-Prometheus-Remote-Write-Version", "0.1.0");
    for (name, value) in &target.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let req = match target.auth.apply(req) {
        Ok(req) => req,
        // A credentials file that cannot be read may be fixed in a moment.
        Err(reason) => {
            return Outcome::Retry {
                after: None,
                reason,
            }
        }
    };
    let resp = match req.body(body).send().await {
        Ok(resp) => resp,
        Err(err) => {
            return Outcome::Retry {
                after: None,
                reason: err.to_string(),
            }
        }
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = if (200..300).contains(&status) {
        String::new()
    } else {
        let bytes = resp.bytes().await.unwrap_or_default();
        String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_ERROR_BODY)]).into_owned()
    };
    classify(status, retry_after.as_deref(), target.retry_on_429, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_through_snappy_and_protobuf() {
        let labels = Labels::from_pairs([("job", "x"), ("__name__", "up")]);
        let body = encode_request(&[(labels, vec![(1000, 1.0), (2000, f64::NAN)])]);
        let req = decode_request(&body).unwrap();
        assert_eq!(req.timeseries.len(), 1);
        let ts = &req.timeseries[0];
        let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "job"]);
        assert_eq!(ts.samples[0].timestamp, 1000);
        assert!(ts.samples[1].value.is_nan());
        assert!(decode_request(b"garbage").is_err());
    }

    /// The hand-written encoder writes what prost writes for the same message,
    /// default-valued fields (zero timestamps and values, empty strings) included.
    #[test]
    fn hand_encoding_matches_prost() {
        use prost::Message;
        let series = vec![
            (
                Labels::from_pairs([("__name__", "up"), ("job", "x"), ("instance", "a:1")]),
                vec![
                    (1_700_000_000_000, 1.0),
                    (0, 0.0),
                    (-5, -0.0),
                    (7, f64::NAN),
                ],
            ),
            (Labels::default(), vec![(i64::MIN, f64::INFINITY)]),
            (Labels::from_pairs([("__name__", "x".repeat(300))]), vec![]),
        ];
        let want = WriteRequest {
            timeseries: series
                .iter()
                .map(|(labels, samples)| TimeSeries {
                    labels: labels
                        .iter()
                        .map(|l| Label {
                            name: l.name.to_string(),
                            value: l.value.to_string(),
                        })
                        .collect(),
                    samples: samples
                        .iter()
                        .map(|&(timestamp, value)| Sample { value, timestamp })
                        .collect(),
                })
                .collect(),
        }
        .encode_to_vec();
        let body = encode_request(&series);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        assert_eq!(raw, want);
    }

    #[test]
    fn statuses_are_classified_as_prometheus_does() {
        let cases = [
            (200, None, true, "sent"),
            (204, None, true, "sent"),
            (500, None, true, "retry"),
            (503, Some("2"), true, "retry after 2s"),
            (429, Some("1"), true, "retry after 1s"),
            (429, None, false, "drop"),
            (400, None, true, "drop"),
            (404, Some("3"), true, "drop"),
        ];
        for (status, retry_after, on_429, want) in cases {
            let got = match classify(status, retry_after, on_429, "") {
                Outcome::Sent => "sent".to_string(),
                Outcome::Retry { after: None, .. } => "retry".to_string(),
                Outcome::Retry { after: Some(d), .. } => format!("retry after {}s", d.as_secs()),
                Outcome::Drop(_) => "drop".to_string(),
            };
            assert_eq!(got, want, "status {status}");
        }
    }
}
