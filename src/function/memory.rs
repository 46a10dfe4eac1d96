//! In-memory stand-ins for CloudWatch and SNS, for hermetic tests and examples: the same traits,
//! the same sums (and minimum, maximum and sample count), EMF documents applied the way CloudWatch
//! extracts them, and a latency per publish. Faults are injected by the emulator (tests/emulator),
//! where the real SDK clients meet them.

use crate::aws::error::AwsError;
use crate::base::time::{window_start, EpochMillis};
use crate::function::stores::{AlertSink, MetricsStore};
use crate::metrics::contract::{Datum, Query, Results};
use crate::render::alert::AlertMessage;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// A metric's identity: name and `(dimension, value)` pairs in written order.
type Series = (String, Vec<(String, String)>);

/// One minute of a series: the sum, the minimum, the maximum and the number of the values put.
#[derive(Debug, Clone, Copy)]
struct Point {
    sum: f64,
    min: f64,
    max: f64,
    count: f64,
}

impl Point {
    fn add(point: Option<Point>, v: f64) -> Point {
        match point {
            None => Point { sum: v, min: v, max: v, count: 1.0 },
            Some(p) => Point { sum: p.sum + v, min: p.min.min(v), max: p.max.max(v), count: p.count + 1.0 },
        }
    }

    fn stat(&self, stat: &str) -> f64 {
        match stat {
            "Minimum" => self.min,
            "Maximum" => self.max,
            "SampleCount" => self.count,
            _ => self.sum,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    data: BTreeMap<Series, BTreeMap<EpochMillis, Point>>,
}

/// CloudWatch metrics of one namespace, in memory.
#[derive(Debug, Default)]
pub struct MemoryMetrics {
    inner: Mutex<Inner>,
    calls: AtomicU64,
    reads: AtomicU64,
    queries: AtomicU64,
    puts: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryMetrics {
    /// GetMetricData calls so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Metrics requested by GetMetricData so far (what it bills).
    pub fn metrics_requested(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// PutMetricData calls so far.
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::Relaxed)
    }

    /// Applies EMF documents as CloudWatch extracts them: every line that is a JSON object with
    /// `_aws.CloudWatchMetrics` adds its values at its timestamp's minute; other lines are ignored.
    /// Returns the documents applied, or why one is invalid.
    pub fn apply_emf<S: AsRef<str>>(&self, lines: &[S]) -> Result<usize, String> {
        let mut applied = 0;
        let mut inner = lock(&self.inner);
        for line in lines {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line.as_ref()) else { continue };
            let Some(directives) = v["_aws"]["CloudWatchMetrics"].as_array() else { continue };
            let t = v["_aws"]["Timestamp"].as_i64().ok_or("no _aws.Timestamp")?;
            for d in directives {
                let metrics = d["Metrics"].as_array().ok_or("no Metrics")?;
                if metrics.len() > crate::metrics::emf::MAX_METRICS_PER_DIRECTIVE {
                    return Err("too many metrics".into());
                }
                for set in d["Dimensions"].as_array().ok_or("no Dimensions")? {
                    let names = set.as_array().ok_or("a dimension set is not an array")?;
                    if names.len() > crate::metrics::emf::MAX_DIMENSIONS_PER_SET {
                        return Err("too many dimensions".into());
                    }
                    let mut dims = Vec::new();
                    for n in names {
                        let n = n.as_str().ok_or("a dimension name is not a string")?;
                        let value = v[n].as_str().ok_or_else(|| format!("dimension {n} has no string value"))?;
                        dims.push((n.to_string(), value.to_string()));
                    }
                    for m in metrics {
                        let name = m["Name"].as_str().ok_or("a metric has no Name")?;
                        let value = v[name].as_f64().ok_or_else(|| format!("metric {name} has no number"))?;
                        inner.add((name.to_string(), dims.clone()), t, value);
                    }
                }
            }
            applied += 1;
        }
        Ok(applied)
    }

    /// Metric series (name and dimensions) stored so far: all, and those with a `dimension` (what
    /// CloudWatch bills as custom metrics).
    pub fn series(&self, dimension: &str) -> (usize, usize) {
        let inner = lock(&self.inner);
        let with = inner.data.keys().filter(|(_, dims)| dims.iter().any(|(n, _)| n == dimension)).count();
        (inner.data.len(), with)
    }

    /// The sum of a metric over `[start, end)`.
    pub fn sum(&self, name: &str, dimensions: &[(&str, &str)], start: EpochMillis, end: EpochMillis) -> f64 {
        let key: Series = (name.to_string(), dimensions.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect());
        lock(&self.inner).data.get(&key).map_or(0.0, |points| points.range(start..end).map(|(_, p)| p.sum).sum())
    }
}

impl Inner {
    fn add(&mut self, series: Series, t: EpochMillis, value: f64) {
        let minutes = self.data.entry(series).or_default();
        let minute = window_start(t, 1);
        let point = Point::add(minutes.get(&minute).copied(), value);
        minutes.insert(minute, point);
    }
}

impl MetricsStore for MemoryMetrics {
    async fn read(&self, queries: &[Query], start: EpochMillis, end: EpochMillis) -> Result<Results, AwsError> {
        let mut out = Results::new();
        for chunk in queries.chunks(crate::metrics::cloudwatch::MAX_QUERIES_PER_GET) {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.queries.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            self.calls.fetch_add(1, Ordering::Relaxed);
            let inner = lock(&self.inner);
            for q in chunk {
                let key: Series =
                    (q.name.to_string(), q.dimensions.iter().map(|(n, v)| (n.to_string(), v.clone())).collect());
                if let Some(points) = inner.data.get(&key) {
                    out.insert(q.id.clone(), points.range(start..end).map(|(t, p)| (*t, p.stat(q.stat))).collect());
                }
            }
        }
        Ok(out)
    }

    async fn put(&self, datums: &[Datum]) -> Result<(), AwsError> {
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut inner = lock(&self.inner);
        for d in datums {
            let key: Series =
                (d.name.to_string(), d.dimensions.iter().map(|(n, v)| (n.to_string(), v.clone())).collect());
            inner.add(key, d.timestamp, d.value);
        }
        Ok(())
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

/// An SNS topic, in memory.
#[derive(Debug, Default)]
pub struct MemoryAlerts {
    sent: Mutex<Vec<AlertMessage>>,
    latency: Mutex<Duration>,
    calls: AtomicU64,
}

impl MemoryAlerts {
    /// Makes every publish take `latency`.
    pub fn latency(&self, latency: Duration) {
        *lock(&self.latency) = latency;
    }

    /// Messages accepted so far.
    pub fn sent(&self) -> Vec<AlertMessage> {
        lock(&self.sent).clone()
    }
}

impl AlertSink for MemoryAlerts {
    async fn publish(&self, message: &AlertMessage) -> Result<(), AwsError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let latency = *lock(&self.latency);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        lock(&self.sent).push(message.clone());
        Ok(())
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl<T: MetricsStore + Sync> MetricsStore for std::sync::Arc<T> {
    fn read(
        &self,
        queries: &[Query],
        start: EpochMillis,
        end: EpochMillis,
    ) -> impl std::future::Future<Output = Result<Results, AwsError>> + Send {
        (**self).read(queries, start, end)
    }

    fn put(&self, datums: &[Datum]) -> impl std::future::Future<Output = Result<(), AwsError>> + Send {
        (**self).put(datums)
    }

    fn calls(&self) -> u64 {
        (**self).calls()
    }
}

impl<T: AlertSink + Sync> AlertSink for std::sync::Arc<T> {
    fn publish(&self, message: &AlertMessage) -> impl std::future::Future<Output = Result<(), AwsError>> + Send {
        (**self).publish(message)
    }

    fn calls(&self) -> u64 {
        (**self).calls()
    }
}
