//! apigw-4xx: tells, within minutes, when an unusual share of API Gateway traffic is rejected with
//! 4xx errors, and why.
//!
//! # The pipeline
//!
//! bytes → log events ([`ingest`]) → access records ([`access_log`]) → counts per minute
//! ([`count`]) → a verdict ([`judge`]) → windows and their markers ([`window`]) → CloudWatch
//! metrics ([`metrics`]) → words for people ([`render`]). The Lambda function ([`function`]) and the
//! `apigw-4xx` CLI (`src/bin/apigw-4xx/`) are thin shells over it: they do the I/O, the layers below
//! compute.
//!
//! # Layers
//!
//! The folder tree is the pipeline. A module uses only its own layer and the layers above it in this
//! table (lower numbers); `tests/architecture.rs` reads `src/` and fails on an import that goes the
//! other way, on any import cycle between files, and on a use of `function` outside
//! `src/bin/bootstrap.rs`.
//!
//! | layer | folder | owns |
//! |---|---|---|
//! | 0 | `base` | epoch milliseconds and windows, status classes, access-log field names, numbers as people read them |
//! | 1 | `aws` | SDK plumbing: one client constructor (timeouts, call counter), typed errors |
//! | 2 | `ingest` | envelopes, capped gunzip, streaming JSON, files and directories, log-group reads |
//! | 3 | `access_log` | one line → one record: every format, the template compiler, execution logs, redaction |
//! | 4 | `count` | records → counts: tallies, bounded value counts, consumers, the parallel merge |
//! | 5 | `judge` | counts → a verdict: levels, per-group rules, baseline, finding, recommendation |
//! | 6 | `window` | window keys, state and markers, the decision on a window, the ledger |
//! | 7 | `metrics` | the metric contract, EMF documents, metric queries and reads |
//! | 8 | `context` | the stage behind a log group and its last deployment |
//! | 9 | `watch` | which log groups are watched: selection, the sweep's passes, plans, state and pace |
//! | 10 | `render` | alert messages, notices, CLI reports, the `history` table, Logs Insights queries |
//! | 11 | `function` | the Lambda: run, events, errors, config, stores, alert context, the sweep |
//!
//! # Where each README behaviour lives
//!
//! | README section | modules |
//! |---|---|
//! | Try it / Deploy | `function`, `src/bin/bootstrap.rs`, `template.yaml` |
//! | Configuration | [`function::config`], [`judge::group_rules`] |
//! | Alerts | [`window::decide`], [`window::ledger`], [`render::alert`], [`render::withheld`], [`count::values::shown`] |
//! | Why it happened, and whether it is unusual | [`judge::finding`], [`judge::recommendation`], [`count::consumers`], [`judge::baseline`], [`context`] |
//! | Levels per API / Tune before you change | [`judge::group_rules`], [`render::history`] |
//! | Metrics (a public contract) | [`metrics::contract`], [`metrics::emf`] |
//! | Which log groups are watched | [`watch`], [`function::sweep`], [`render::notice`], [`window::format_watch`] |
//! | The CLI | [`ingest`], [`count::parallel`], [`render::report`], `src/bin/apigw-4xx/` |
//! | The CLI: the Logs Insights engine | [`ingest::insights`], [`count::insights`], [`render::insights`], [`judge::finding::evidence_spans`] |

#![warn(missing_docs)]

pub mod access_log;
#[cfg(feature = "aws")]
pub mod aws;
pub mod base;
pub mod context;
pub mod count;
#[cfg(feature = "aws")]
pub mod function;
pub mod ingest;
pub mod judge;
pub mod metrics;
pub mod render;
pub mod watch;
pub mod window;
