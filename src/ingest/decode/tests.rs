use super::*;
use std::io;

type Events = Vec<(Option<EpochMillis>, String)>;

#[derive(Debug, Default)]
struct Collect {
    batches: Vec<(BatchInfo, Events)>,
    current: Events,
}

impl EventSink for Collect {
    fn begin_batch(&mut self) {
        self.current.clear();
    }
    fn event(&mut self, timestamp: Option<EpochMillis>, message: &str) {
        self.current.push((timestamp, message.to_string()));
    }
    fn end_batch(&mut self, batch: &BatchInfo) {
        self.batches.push((batch.clone(), std::mem::take(&mut self.current)));
    }
}

const PAYLOAD: &str = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/apigateway/prod","logStream":"s","subscriptionFilters":["f"],"policyLevel":"ACCOUNT_LEVEL_POLICY","logEvents":[{"id":"1","timestamp":1764000000000,"message":"{\"status\":\"403\"}"},{"id":"2","timestamp":1764000000020,"message":"line two"}]}"#;

fn event_json(payload: &str) -> String {
    format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, encode_data(payload.as_bytes()))
}

fn decode_doc(doc: &str, limits: Limits) -> Result<Collect, DecodeError> {
    let mut c = Collect::default();
    read_document(doc.as_bytes(), limits, &mut c).map(|()| c)
}

#[test]
fn subscription_event_streams_events_with_unknown_fields() {
    let c = decode_doc(&event_json(PAYLOAD), Limits::default()).unwrap();
    assert_eq!(c.batches.len(), 1);
    let (info, events) = &c.batches[0];
    assert_eq!(info, &BatchInfo { kind: BatchKind::Data, log_group: Some("/aws/apigateway/prod".into()) });
    assert_eq!(events[0], (Some(1_764_000_000_000), r#"{"status":"403"}"#.to_string()));
    assert_eq!(events[1].1, "line two");
}

#[test]
fn decoded_payload_array_and_export_shapes() {
    assert_eq!(decode_doc(PAYLOAD, Limits::default()).unwrap().batches[0].1.len(), 2);
    let arr = format!("[{},{}]", event_json(PAYLOAD), event_json(PAYLOAD));
    assert_eq!(decode_doc(&arr, Limits::default()).unwrap().batches.len(), 2);
    let export = r#"{"events":[{"logStreamName":"s","timestamp":5,"message":"m","ingestionTime":6,"eventId":"e"}],"searchedLogStreams":[]}"#;
    let c = decode_doc(export, Limits::default()).unwrap();
    assert_eq!(c.batches[0].0.kind, BatchKind::Export);
    assert_eq!(c.batches[0].1, vec![(Some(5), "m".to_string())]);
}

#[test]
fn control_message_is_reported_as_control_whatever_the_key_order() {
    let ctl = r#"{"logEvents":[{"id":"1","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}],"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[]}"#;
    let c = decode_doc(&event_json(ctl), Limits::default()).unwrap();
    assert_eq!(c.batches[0].0.kind, BatchKind::Control);
}

#[test]
fn unpadded_base64_is_accepted() {
    let data = encode_data(PAYLOAD.as_bytes());
    let mut c = Collect::default();
    decode_data(data.trim_end_matches('='), Limits::default(), &mut c).unwrap();
    assert_eq!(c.batches.len(), 1);
}

#[test]
fn each_stage_fails_with_its_own_error() {
    let mut c = Collect::default();
    assert!(matches!(decode_data("not base64!", Limits::default(), &mut c), Err(DecodeError::Base64(_))));
    let full = BASE64.decode(encode_data(PAYLOAD.as_bytes())).unwrap();
    let truncated = BASE64.encode(&full[..full.len() / 2]);
    assert!(matches!(decode_data(&truncated, Limits::default(), &mut c), Err(DecodeError::Gzip(_))), "truncated gzip");
    let not_json = encode_data(b"hello, I am not JSON");
    assert!(matches!(decode_data(&not_json, Limits::default(), &mut c), Err(DecodeError::Json(_))));
    let wrong = encode_data(br#"{"hello":"world"}"#);
    assert!(matches!(decode_data(&wrong, Limits::default(), &mut c), Err(DecodeError::Shape(_))));
    let wrong_type = encode_data(br#"{"logEvents":{"a":1}}"#);
    assert!(matches!(decode_data(&wrong_type, Limits::default(), &mut c), Err(DecodeError::Shape(_))));
    assert!(matches!(decode_doc(r#"{"awslogs":{}}"#, Limits::default()), Err(DecodeError::Shape(_))));
    assert!(matches!(decode_doc(r#"{"awslogs":{"data":"%%%"}}"#, Limits::default()), Err(DecodeError::Base64(_))));
}

#[test]
fn gzip_bomb_hits_the_cap() {
    let zeros = vec![b' '; 8 * 1024 * 1024];
    let bomb = encode_data(&zeros);
    assert!(bomb.len() < 64 * 1024, "a bomb is small: {}", bomb.len());
    let mut c = Collect::default();
    let err = decode_data(&bomb, Limits { max_inner_bytes: 1024 * 1024, ..Limits::default() }, &mut c).unwrap_err();
    assert!(matches!(err, DecodeError::TooLarge { limit: 1_048_576, .. }), "{err}");
}

#[test]
fn nested_arrays_are_bounded() {
    let deep = format!("{}{}", "[".repeat(50), "]".repeat(50));
    assert!(matches!(decode_doc(&deep, Limits::default()), Err(DecodeError::Shape(_))));
}

/// Yields one byte per read: every value straddles a chunk edge.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn chunk_edges_anywhere_give_the_same_events() {
    let tricky = r#"{"logGroup":"g","skip":{"a":[1,{"b":"}]\"["}],"c":null},"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","message":"esc \\ \" \u00e9 }]","timestamp":7},{"timestamp":-1,"message":""}]}"#;
    let mut whole = Collect::default();
    read_document(tricky.as_bytes(), Limits::default(), &mut whole).unwrap();
    let mut trickled = Collect::default();
    read_document(Trickle(tricky.as_bytes()), Limits::default(), &mut trickled).unwrap();
    assert_eq!(whole.batches, trickled.batches);
    assert_eq!(whole.batches[0].1[0], (Some(7), "esc \\ \" é }]".to_string()));
    let big = PAYLOAD.replace("line two", &"x\\\"".repeat(100_000));
    let mut c = Collect::default();
    read_document(Trickle(big.as_bytes()), Limits::default(), &mut c).unwrap();
    assert_eq!(c.batches[0].1[1].1.len(), 200_000);
}

#[test]
fn broken_json_is_a_json_error_with_an_offset() {
    for (doc, what) in [
        (r#"{"logEvents":[{"message":"x"}"#, "end of input"),
        (r#"{"logEvents":[{"message":"x"}] "#, "end of input"),
        (r#"{"logEvents":[]}}"#, "trailing"),
        (r#"{"logEvents" [] }"#, "expected ':'"),
    ] {
        let err = decode_doc(doc, Limits::default()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains(what) && err.contains("at byte"), "{doc}: {err}");
    }
}

#[test]
fn unicode_escapes_and_surrogates_across_edges() {
    let doc = r#"{"logEvents":[{"message":"\u00e9\ud83d\ude00\ud83d!\/\t","timestamp":1}]}"#;
    let mut c = Collect::default();
    read_document(Trickle(doc.as_bytes()), Limits::default(), &mut c).unwrap();
    assert_eq!(c.batches[0].1[0].1, "é😀\u{FFFD}!/\t");
    for bad in [r#"{"logEvents":[{"message":"\x"}]}"#, r#"{"logEvents":[{"message":"\u12"}]}"#] {
        assert!(matches!(decode_doc(bad, Limits::default()), Err(DecodeError::Json(_))), "{bad}");
    }
    assert!(matches!(decode_doc(r#"{"logEvents":[{"message":5}]}"#, Limits::default()), Err(DecodeError::Shape(_))));
    assert!(matches!(decode_doc(r#"{"logEvents":[7]}"#, Limits::default()), Err(DecodeError::Shape(_))));
}

#[test]
fn documents_back_to_back_are_each_read() {
    for sep in ["", "\n", " \r\n"] {
        let doc = [PAYLOAD, PAYLOAD, &event_json(PAYLOAD)].join(sep);
        assert_eq!(decode_doc(&doc, Limits::default()).unwrap().batches.len(), 3, "{sep:?}");
    }
    let err = decode_doc(&format!("{PAYLOAD} 7"), Limits::default()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("trailing characters"), "{err}");
}

#[test]
fn firehose_records_and_foreign_records() {
    let firehose = format!(
        r#"{{"invocationId":"i","deliveryStreamArn":"a","region":"r","records":[{{"recordId":"1","data":"{d}"}},{{"data":"{d}","approximateArrivalTimestamp":1}}]}}"#,
        d = encode_data(PAYLOAD.as_bytes())
    );
    assert_eq!(decode_doc(&firehose, Limits::default()).unwrap().batches.len(), 2);
    for (doc, keys) in [
        (r#"{"Records":[{"foo":1}]}"#, "with top-level keys Records:"),
        (r#"{"records":[{"recordId":"1"}],"x":{}}"#, "with top-level keys records, x:"),
        (r#"{}"#, "with no top-level keys:"),
    ] {
        let err = decode_doc(doc, Limits::default()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("unrecognised JSON document") && err.contains(keys), "{doc}: {err}");
    }
    let many: String = (0..20).map(|i| format!(r#""k{i}":1,"#)).collect();
    let err = decode_doc(&format!("{{{many}\"z\":\"\u{7}\"}}"), Limits::default()).unwrap_err().to_string();
    assert!(err.contains("k11, …:") && !err.contains("k12"), "at most {KEYS_NAMED} keys: {err}");
    // Inside a payload, the same refusal names what a payload must be.
    let mut c = Collect::default();
    let err = decode_data(&encode_data(br#"{"hello":"world"}"#), Limits::default(), &mut c).unwrap_err().to_string();
    assert!(err.contains("top-level keys hello: expected a decoded subscription payload"), "{err}");
}

#[test]
fn gzip_members_all_count_and_untrusted_trailers_stream() {
    // Two identical members: the trailer's size matches the first; both must be read.
    let gz = BASE64.decode(encode_data(PAYLOAD.as_bytes())).unwrap();
    let two = BASE64.encode([gz.clone(), gz.clone()].concat());
    let mut c = Collect::default();
    decode_data(&two, Limits::default(), &mut c).unwrap();
    assert_eq!(c.batches.len(), 2);
    // A trailer that lies about the size (larger than the cap, or wrong): streamed, and the
    // checksum or the cap names the fault.
    for isize in [u32::MAX, 3] {
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 4..].copy_from_slice(&isize.to_le_bytes());
        let err = decode_data(&BASE64.encode(&bad), Limits::default(), &mut c).unwrap_err();
        assert!(matches!(err, DecodeError::Gzip(_)), "{isize}: {err}");
    }
}

#[test]
fn long_messages_and_skipped_values_are_never_held() {
    let limits = Limits { max_line_bytes: 1000, ..Limits::default() };
    let long = "m".repeat(300_000);
    let doc = format!(
        r#"{{"skip":"{long}","logEvents":[{{"message":"{long}","timestamp":3}},{{"message":"short","extra":["{long}"]}}]}}"#
    );
    let mut c = Collect::default();
    read_document(Trickle(doc.as_bytes()), limits, &mut c).unwrap();
    let events = &c.batches[0].1;
    assert_eq!(events[0], (Some(3), OVERSIZED_LINE.to_string()));
    assert_eq!(events[1].1, "short");
    // The stream's buffer stays at its first size: nothing long was held.
    let mut s = JsonStream::new(Trickle(doc.as_bytes()));
    s.expect(b'{').unwrap();
    s.key(&[], false).unwrap();
    s.skip().unwrap();
    assert_eq!(s.capacity(), 64 * 1024);
    let mut c = Collect::default();
    let mut d =
        Document { s: JsonStream::new(doc.as_bytes()), sink: &mut c, limits, allow_envelope: true, rows: false };
    d.value(0).unwrap();
    assert_eq!(d.s.capacity(), 64 * 1024, "a pinned message and a long field after it");
    // A key or field that must be held, past the cap: an error naming it.
    let doc = format!(r#"{{"logGroup":"{long}","logEvents":[]}}"#);
    let err = decode_doc(&doc, limits).unwrap_err();
    assert!(matches!(err, DecodeError::TooLarge { limit: 1000, .. }), "{err}");
}
