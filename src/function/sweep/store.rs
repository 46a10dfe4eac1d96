//! Where the sweep keeps its state between runs ([`SweepState`]): one DynamoDB item, read once per
//! run and written only when something changed, or memory (tests).

use crate::aws::client::{CallCounter, Clients};
use crate::aws::error::{classify, AwsError};
use crate::watch::state::SweepState;
use aws_sdk_dynamodb::types::AttributeValue;
use std::future::Future;
use std::sync::Mutex;

/// The key of the state's item (attribute `id`).
pub const ITEM_ID: &str = "sweep";
/// DynamoDB's item limit is 400 KB; the state stops short of it (about 4,000 watched groups of
/// typical names, with their reports and a pass under way).
pub const MAX_STATE_BYTES: usize = 380 * 1024;

/// Why the state could not be read or kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The DynamoDB call failed.
    #[error("{0}")]
    Aws(#[from] AwsError),
    /// The stored document does not read (nothing is done on a state that cannot be trusted).
    #[error("stored state does not read: {0}")]
    Corrupt(String),
    /// The state outgrew one item.
    #[error("state of {0} bytes is over {MAX_STATE_BYTES}: too many groups for one stack")]
    TooLarge(usize),
}

/// The sweep's memory.
pub trait StateStore {
    /// The state (the default when none was ever kept).
    fn load(&self) -> impl Future<Output = Result<SweepState, StoreError>> + Send;
    /// Keeps `state`.
    fn save(&self, state: &SweepState) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Requests sent so far.
    fn calls(&self) -> u64;
}

/// One item of a DynamoDB table (key `id`, the document in `state`).
#[derive(Debug, Clone)]
pub struct DynamoState {
    client: aws_sdk_dynamodb::Client,
    table: String,
    calls: CallCounter,
}

impl DynamoState {
    /// The state in `table`, over a client from `clients`.
    pub fn new(clients: &Clients, table: impl Into<String>) -> Self {
        DynamoState { client: clients.dynamodb(), table: table.into(), calls: clients.calls().clone() }
    }
}

fn encode(state: &SweepState) -> Result<String, StoreError> {
    let json = serde_json::to_string(state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if json.len() > MAX_STATE_BYTES {
        return Err(StoreError::TooLarge(json.len()));
    }
    Ok(json)
}

fn decode(json: &str) -> Result<SweepState, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl StateStore for DynamoState {
    async fn load(&self) -> Result<SweepState, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(ITEM_ID.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        match out.item().and_then(|i| i.get("state")) {
            None => Ok(SweepState::default()),
            Some(AttributeValue::S(json)) => decode(json),
            Some(other) => Err(StoreError::Corrupt(format!("state is not a string: {other:?}"))),
        }
    }

    async fn save(&self, state: &SweepState) -> Result<(), StoreError> {
        let json = encode(state)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", AttributeValue::S(ITEM_ID.into()))
            .item("state", AttributeValue::S(json))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    fn calls(&self) -> u64 {
        self.calls.get()
    }
}

/// The state in memory, kept as the JSON DynamoDB would hold (so it round-trips the same way);
/// counts its loads and saves.
#[derive(Debug, Default)]
pub struct MemoryState {
    json: Mutex<Option<String>>,
    calls: std::sync::atomic::AtomicU64,
}

impl MemoryState {
    /// The state kept now.
    pub fn get(&self) -> SweepState {
        self.json.lock().ok().and_then(|j| j.as_deref().map(decode)).and_then(Result::ok).unwrap_or_default()
    }

    /// Saves so far.
    pub fn saves(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl StateStore for MemoryState {
    async fn load(&self) -> Result<SweepState, StoreError> {
        let json = self.json.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))?.clone();
        json.as_deref().map_or(Ok(SweepState::default()), decode)
    }

    async fn save(&self, state: &SweepState) -> Result<(), StoreError> {
        let json = encode(state)?;
        *self.json.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))? = Some(json);
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    fn calls(&self) -> u64 {
        0
    }
}
