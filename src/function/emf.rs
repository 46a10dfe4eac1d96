//! Where the function's EMF documents go: standard output in production (Lambda ships it to
//! CloudWatch Logs, which extracts the metrics), a buffer in tests and examples.

use std::io::Write;
use std::sync::Mutex;

/// What a write put out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Documents (lines).
    pub documents: u64,
    /// Bytes, newlines included: what log ingestion bills.
    pub bytes: u64,
}

/// Where EMF documents go: the function's standard output in production, a buffer in tests.
pub trait EmfSink: Send + Sync {
    /// Writes each document as one line. Lines are whole: nothing else in the process writes
    /// between the bytes of one line.
    fn write(&self, documents: &mut dyn Iterator<Item = String>) -> std::io::Result<Written>;
}

/// Standard output, locked for the whole write so tracing output never splits a line.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutEmf;

impl EmfSink for StdoutEmf {
    fn write(&self, documents: &mut dyn Iterator<Item = String>) -> std::io::Result<Written> {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
        let mut written = Written::default();
        for d in documents {
            out.write_all(d.as_bytes())?;
            out.write_all(b"\n")?;
            written.documents += 1;
            written.bytes += d.len() as u64 + 1;
        }
        out.flush()?;
        Ok(written)
    }
}

/// Documents kept in memory (tests, examples): lines in the order written.
#[derive(Debug, Default)]
pub struct CapturedEmf {
    lines: Mutex<Vec<String>>,
}

impl CapturedEmf {
    /// Takes the lines written so far.
    pub fn take(&self) -> Vec<String> {
        self.lines.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default()
    }

    /// Lines written so far, not taken.
    pub fn len(&self) -> usize {
        self.lines.lock().map(|l| l.len()).unwrap_or_default()
    }

    /// True when nothing waits to be taken.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl EmfSink for CapturedEmf {
    fn write(&self, documents: &mut dyn Iterator<Item = String>) -> std::io::Result<Written> {
        let mut lines = self.lines.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        let mut written = Written::default();
        for d in documents {
            written.documents += 1;
            written.bytes += d.len() as u64 + 1;
            lines.push(d);
        }
        Ok(written)
    }
}

/// A discarding sink that still counts (benchmarks of everything but the output).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullEmf;

impl EmfSink for NullEmf {
    fn write(&self, documents: &mut dyn Iterator<Item = String>) -> std::io::Result<Written> {
        let mut written = Written::default();
        for d in documents {
            written.documents += 1;
            written.bytes += d.len() as u64 + 1;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::finding::{ClientErrorCode, Totals};
    use crate::metrics::emf::documents;

    fn totals() -> Totals {
        let mut t = Totals { requests: 10, unparsed: 1, ..Totals::default() };
        t.client_errors.insert(ClientErrorCode::Status(403), 2);
        t.client_errors.insert(ClientErrorCode::Other4xx, 1);
        t
    }

    #[test]
    fn captured_lines_count_bytes() {
        let sink = CapturedEmf::default();
        let docs = documents("N", "/g", 0, &totals(), None);
        let bytes: usize = docs.iter().map(|d| d.len() + 1).sum();
        let w = sink.write(&mut docs.clone().into_iter()).unwrap();
        assert_eq!((w.documents, w.bytes), (3, bytes as u64));
        assert_eq!(sink.take(), docs);
        assert!(sink.is_empty());
    }
}
