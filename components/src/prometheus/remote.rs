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
    use prost::Message;
    let req = WriteRequest {
        timeseries: series
            .iter()
            .map(|(labels, samples)| TimeSeries {
                // `Labels` is sorted by name already, as the protocol requires.
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
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy compresses any request below 4 GiB")
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

/// One POST of an encoded request.
pub async fn post(target: &Target, body: Vec<u8>) -> Outcome {
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
