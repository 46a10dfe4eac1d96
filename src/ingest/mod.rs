//! Layer 2: bytes → log events. Subscription, Kinesis and Firehose envelopes, capped gunzip and the
//! streaming JSON reader ([`decode`]); files, directories and their formats ([`input`], [`walk`]);
//! time ranges and log-group reads through FilterLogEvents ([`time_range`], `log_group`). Every
//! reader hands events to a [`decode::EventSink`], one at a time.

pub mod decode;
pub mod input;
#[cfg(feature = "aws")]
pub mod log_group;
pub mod time_range;
pub mod walk;
