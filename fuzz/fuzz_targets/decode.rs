//! The event decoder on arbitrary bytes: as a document (CLI input detection included), and as
//! `awslogs.data` (base64 text) with a small decompression cap. Must never panic or grow unbounded.
#![no_main]

use apigw_4xx::analysis::Analyzer;
use apigw_4xx::access_log::LineParser;
use apigw_4xx::decode::{decode_data, Limits};
use apigw_4xx::input::read_input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_inner_bytes: 1 << 20 };
    let mut sink = Analyzer::new(LineParser::Auto, Some(5));
    let _ = read_input(data, limits, &mut sink);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode_data(text, limits, &mut sink);
    }
    // Gzip'd input reaches the decompressor and the JSON stream behind it.
    let gz = apigw_4xx::decode::encode_data(data);
    let _ = decode_data(&gz, limits, &mut sink);
});
