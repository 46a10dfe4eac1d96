//! Every core: inputs read side by side, and the payloads met in them (the elements of a large array
//! of subscription events, a Kinesis event's records) decoded side by side, each into an
//! [`Analyzer`] of its own, merged as they finish. The merge is exact and independent of the order
//! ([`Analyzer::merge`]), so the result is what one thread reading everything in order gives; so is
//! a failure: the first in input order is reported.
//!
//! Memory stays bounded: at most `2 × threads` payloads wait for a thread; past that, the thread
//! that met a payload decodes it itself.

use crate::access_log::LineParser;
use crate::base::time::EpochMillis;
use crate::count::analysis::Analyzer;
use crate::count::tally::Position;
use crate::ingest::decode::{decode_data, BatchInfo, EventSink, Limits};
use crate::ingest::input::{read_input, InputError};
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// How to analyze.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How lines are read.
    pub parser: LineParser,
    /// Tumbling buckets (minutes), if any.
    pub bucket_minutes: Option<u32>,
    /// Decoding limits.
    pub limits: Limits,
    /// Threads to use; 1 reads everything in order on the calling thread.
    pub threads: usize,
}

/// An input that can be opened on any thread: a file, standard input, bytes in memory.
pub trait Source: Sync {
    /// Opens the input for reading (once).
    fn open(&self) -> io::Result<Box<dyn Read + Send + '_>>;
}

/// Bytes in memory are an input (tests, and callers that hold their input already).
impl Source for Vec<u8> {
    fn open(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(&self[..]))
    }
}

/// Why an input could not be analyzed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input could not be opened.
    #[error("{0}")]
    Open(io::Error),
    /// The input could not be read or decoded.
    #[error(transparent)]
    Input(#[from] InputError),
}

/// The first failure, in input order.
#[derive(Debug)]
pub struct Failure {
    /// The index of the input that failed.
    pub input: usize,
    /// What went wrong.
    pub error: RunError,
}

/// Analyzes `inputs` with `settings`; `progress` hears of every chunk of bytes read from them.
pub fn analyze<S: Source>(
    inputs: &[S],
    settings: &Settings,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Analyzer, Failure> {
    if settings.threads > 1 {
        if let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(settings.threads).build() {
            return pool.install(|| side_by_side(inputs, settings, progress));
        }
    }
    in_order(inputs, settings, progress)
}

/// One analyzer reading every input in turn: the reference the parallel run must equal.
fn in_order<S: Source>(
    inputs: &[S],
    settings: &Settings,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Analyzer, Failure> {
    let mut analyzer = Analyzer::new(settings.parser.clone(), settings.bucket_minutes);
    for (i, input) in inputs.iter().enumerate() {
        let fail = |error| Failure { input: i, error };
        analyzer.seek(Position { input: i as u64, unit: 0, batch: 0 });
        let reader = input.open().map_err(|e| fail(RunError::Open(e)))?;
        read_input(Counted { inner: reader, progress }, settings.limits, &mut analyzer).map_err(|e| fail(e.into()))?;
    }
    Ok(analyzer)
}

/// State shared by the threads of one run.
struct Shared<'a> {
    limits: Limits,
    /// Everything finished so far, merged.
    merged: Mutex<Option<Analyzer>>,
    /// The earliest failure so far, by position.
    failure: Mutex<Option<(Position, Failure)>>,
    /// Payloads handed to the pool and not yet done.
    in_flight: AtomicUsize,
    max_in_flight: usize,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl Shared<'_> {
    fn done(&self, part: Analyzer) {
        let mut merged = self.merged.lock().unwrap_or_else(PoisonError::into_inner);
        match merged.as_mut() {
            Some(m) => m.merge(part),
            None => *merged = Some(part),
        }
    }

    fn fail(&self, at: Position, failure: Failure) {
        let mut first = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if first.as_ref().is_none_or(|(p, _)| at < *p) {
            *first = Some((at, failure));
        }
    }

    /// True when something before `at` failed: work at `at` would be thrown away.
    fn failed_before(&self, at: Position) -> bool {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).as_ref().is_some_and(|(p, _)| *p < at)
    }
}

fn side_by_side<S: Source>(
    inputs: &[S],
    settings: &Settings,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Analyzer, Failure> {
    let template = Analyzer::new(settings.parser.clone(), settings.bucket_minutes);
    let shared = Shared {
        limits: settings.limits,
        merged: Mutex::new(None),
        failure: Mutex::new(None),
        in_flight: AtomicUsize::new(0),
        max_in_flight: 2 * settings.threads,
        progress,
    };
    rayon::scope_fifo(|scope| {
        for (i, input) in inputs.iter().enumerate() {
            let (template, shared) = (&template, &shared);
            scope.spawn_fifo(move |scope| read_one(i, input, template, scope, shared));
        }
    });
    if let Some((_, failure)) = shared.failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        return Err(failure);
    }
    Ok(shared.merged.into_inner().unwrap_or_else(PoisonError::into_inner).unwrap_or(template))
}

/// Reads input `i` on this thread, handing its payloads to the pool.
fn read_one<'s, S: Source>(
    i: usize,
    input: &'s S,
    template: &'s Analyzer,
    scope: &rayon::ScopeFifo<'s>,
    shared: &'s Shared<'s>,
) {
    let start = Position { input: i as u64, unit: 0, batch: 0 };
    // A failure of the walk comes after every payload it handed out.
    let end = Position { input: i as u64, unit: u64::MAX, batch: u64::MAX };
    if shared.failed_before(start) {
        return;
    }
    let reader = match input.open() {
        Ok(r) => r,
        Err(e) => return shared.fail(end, Failure { input: i, error: RunError::Open(e) }),
    };
    let mut sink = Spread { analyzer: template.part(start), input: i, scope, shared };
    match read_input(Counted { inner: reader, progress: shared.progress }, shared.limits, &mut sink) {
        Ok(_) => shared.done(sink.analyzer),
        Err(e) => shared.fail(end, Failure { input: i, error: e.into() }),
    }
}

/// The sink of one input's walk: counts what it meets in place, hands payloads to the pool.
struct Spread<'a, 's> {
    analyzer: Analyzer,
    input: usize,
    scope: &'a rayon::ScopeFifo<'s>,
    shared: &'s Shared<'s>,
}

impl EventSink for Spread<'_, '_> {
    fn begin_batch(&mut self) {
        self.analyzer.begin_batch();
    }

    fn event(&mut self, timestamp: Option<EpochMillis>, message: &str) {
        self.analyzer.event(timestamp, message);
    }

    fn reads_escaped(&self) -> bool {
        self.analyzer.reads_escaped()
    }

    fn escaped_event(&mut self, timestamp: Option<EpochMillis>, raw: &str) -> bool {
        self.analyzer.escaped_event(timestamp, raw)
    }

    fn end_batch(&mut self, batch: &BatchInfo) {
        self.analyzer.end_batch(batch);
    }

    fn oversized(&mut self, timestamp: Option<EpochMillis>, limit: usize) {
        self.analyzer.oversized(timestamp, limit);
    }

    fn payload(&mut self, data: String) -> Option<String> {
        let shared = self.shared;
        if shared.in_flight.load(Ordering::Relaxed) >= shared.max_in_flight {
            return Some(data);
        }
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        // The payload takes the next unit; what the walk counts after it, the one after that.
        let here = self.analyzer.position();
        let at = Position { unit: here.unit + 1, batch: 0, ..here };
        self.analyzer.seek(Position { unit: here.unit + 2, batch: 0, ..here });
        let mut part = self.analyzer.part(at);
        let input = self.input;
        self.scope.spawn_fifo(move |_| {
            if !shared.failed_before(at) {
                match decode_data(&data, shared.limits, &mut part) {
                    Ok(()) => shared.done(part),
                    Err(e) => shared.fail(at, Failure { input, error: RunError::Input(InputError::Decode(e)) }),
                }
            }
            shared.in_flight.fetch_sub(1, Ordering::Relaxed);
        });
        None
    }
}

/// A reader that reports how many bytes it read.
struct Counted<'a, R> {
    inner: R,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
