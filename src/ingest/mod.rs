//! Layer 2: bytes → log events. Subscription, Kinesis and Firehose envelopes, capped gunzip and the
//! streaming JSON reader ([`decode`]); files, directories and their formats ([`input`], [`walk`]);
//! time ranges and log-group reads through FilterLogEvents ([`time_range`], `log_group`). Every
//! reader hands events to a [`decode::EventSink`], one at a time, except Logs Insights
//! ([`insights`]), which brings back counts, not events.

pub mod decode;
pub mod input;
pub mod insights;
#[cfg(feature = "aws")]
pub mod log_group;
pub mod time_range;
pub mod walk;
