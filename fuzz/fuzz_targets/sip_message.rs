#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hotline::fuzzing::sip_message(data));
