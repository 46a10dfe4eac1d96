//! The event decoder on arbitrary bytes: as a document (CLI input detection included: runs of
//! objects, concatenated documents, gzip members), as `awslogs.data` (base64 text), and wrapped in
//! each envelope (subscription, Kinesis, Firehose records), with small caps so that the line and
//! payload caps are crossed. Must never panic or grow unbounded.
#![no_main]

use apigw_4xx::access_log::LineParser;
use apigw_4xx::count::analysis::Analyzer;
use apigw_4xx::ingest::decode::{decode_data, encode_data, read_document, Limits};
use apigw_4xx::ingest::input::read_input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_inner_bytes: 1 << 20, max_line_bytes: 4096 };
    let mut sink = Analyzer::new(LineParser::Auto, Some(5));
    let _ = read_input(data, limits, &mut sink);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode_data(text, limits, &mut sink);
    }
    // Gzip'd input reaches the streaming inflater and the JSON stream.
    let gz = encode_data(data);
    let _ = decode_data(&gz, limits, &mut sink);
    for envelope in [
        format!(r#"{{"awslogs":{{"data":"{gz}"}}}}"#),
        format!(r#"{{"Records":[{{"kinesis":{{"data":"{gz}"}}}}]}}"#),
        format!(r#"{{"invocationId":"i","records":[{{"recordId":"r","data":"{gz}"}}]}}{{"records":[]}}"#),
    ] {
        let _ = read_document(envelope.as_bytes(), limits, &mut sink);
    }
});
