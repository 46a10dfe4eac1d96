//! The API Gateway control plane, read-only, behind small traits: list the APIs and their stages a
//! page at a time ([`StageLister`]: REST `GetRestApis` + `GetStages`, HTTP and WebSocket `GetApis` +
//! `GetStages`, tags included), every stage at once ([`ControlPlane`]), and read a stage's current deployment
//! (REST `GetStage` + `GetDeployment`; HTTP `GetStage`, whose deployment fields and
//! `lastUpdatedDate` say it). [`DeploymentFinder`] puts it together for an alert: cached mapping,
//! short timeout, and a failure that only drops the line (the reason is logged).

use crate::aws::client::Clients;
use crate::aws::error::{classify, AwsError};
use crate::base::time::EpochMillis;
use crate::context::deployment::{stage_for, ApiKind, ApiRef, Deployment, Page, StageCache, StageInfo};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;
use tokio::sync::Mutex;

/// How long one alert may wait for its deployment line.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a deployment could not be looked up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// A control-plane call failed (its kind kept: throttled, refused, timed out…).
    #[error("{0}")]
    Aws(#[from] AwsError),
    /// API Gateway answered without what the line needs.
    #[error("{0}")]
    Incomplete(String),
    /// No answer within the lookup's time.
    #[error("no answer within {0} ms")]
    Timeout(u128),
}

fn lookup_error<E, R>(e: aws_sdk_apigateway::error::SdkError<E, R>) -> LookupError
where
    E: aws_sdk_apigateway::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    LookupError::Aws(classify(e))
}

/// What the deployment line needs from API Gateway.
pub trait ControlPlane {
    /// Every stage of every REST and HTTP API in the region.
    fn stages(&self) -> impl Future<Output = Result<Vec<StageInfo>, LookupError>> + Send;
    /// The stage's current deployment.
    fn deployment(&self, stage: &StageInfo) -> impl Future<Output = Result<Deployment, LookupError>> + Send;
}

/// The SDK clients of both API Gateway APIs.
#[derive(Debug, Clone)]
pub struct ApiGateway {
    rest: aws_sdk_apigateway::Client,
    http: aws_sdk_apigatewayv2::Client,
}

impl ApiGateway {
    /// Both clients, from `clients`.
    pub fn new(clients: &Clients) -> Self {
        ApiGateway { rest: clients.apigateway(), http: clients.apigatewayv2() }
    }
}

fn millis(t: Option<&aws_sdk_apigateway::primitives::DateTime>) -> Option<EpochMillis> {
    t.and_then(|t| t.to_millis().ok())
}

/// The control plane's listings one page per call, for a caller that paces its calls (the sweep).
pub trait StageLister {
    /// One page of the APIs of `kind` (REST, or HTTP and WebSocket), with their tags.
    fn api_page(
        &self,
        kind: ApiKind,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<ApiRef>, LookupError>> + Send;
    /// One page of `api`'s stages, with their access-log destination and tags (over the API's).
    fn stage_page(
        &self,
        api: &ApiRef,
        token: Option<String>,
    ) -> impl Future<Output = Result<Page<StageInfo>, LookupError>> + Send;
}

/// An API's tags under a stage's own (the stage's value wins).
fn merged<'a>(
    api: &BTreeMap<String, String>,
    stage: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> BTreeMap<String, String> {
    let mut tags = api.clone();
    tags.extend(stage.into_iter().map(|(k, v)| (k.clone(), v.clone())));
    tags
}

/// A page token, when there is a next page.
fn next(token: Option<&str>) -> Option<String> {
    token.filter(|t| !t.is_empty()).map(str::to_string)
}

impl StageLister for ApiGateway {
    async fn api_page(&self, kind: ApiKind, token: Option<String>) -> Result<Page<ApiRef>, LookupError> {
        let api = |id: Option<&str>, name: Option<&str>, tags: Option<&std::collections::HashMap<String, String>>| {
            let id = id?;
            Some(ApiRef {
                kind,
                id: id.to_string(),
                name: name.unwrap_or(id).to_string(),
                tags: tags.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
            })
        };
        match kind {
            ApiKind::Rest => {
                let page =
                    self.rest.get_rest_apis().limit(API_PAGE).set_position(token).send().await.map_err(lookup_error)?;
                let items = page.items().iter().filter_map(|a| api(a.id(), a.name(), a.tags())).collect();
                Ok(Page { items, next: next(page.position()) })
            }
            ApiKind::Http => {
                let page = self
                    .http
                    .get_apis()
                    .max_results(API_PAGE.to_string())
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(lookup_error)?;
                let items = page.items().iter().filter_map(|a| api(a.api_id(), a.name(), a.tags())).collect();
                Ok(Page { items, next: next(page.next_token()) })
            }
        }
    }

    async fn stage_page(&self, api: &ApiRef, token: Option<String>) -> Result<Page<StageInfo>, LookupError> {
        let stage = |name: Option<&str>, arn: Option<&str>, tags: BTreeMap<String, String>| StageInfo {
            kind: api.kind,
            api_id: api.id.clone(),
            api_name: api.name.clone(),
            stage: name.unwrap_or_default().to_string(),
            destination_arn: arn.map(str::to_string),
            tags,
        };
        match api.kind {
            // REST GetStages answers every stage at once.
            ApiKind::Rest => {
                let stages = self.rest.get_stages().rest_api_id(&api.id).send().await.map_err(lookup_error)?;
                let items = stages
                    .item()
                    .iter()
                    .map(|s| {
                        let arn = s.access_log_settings().and_then(|a| a.destination_arn());
                        stage(s.stage_name(), arn, merged(&api.tags, s.tags().into_iter().flatten()))
                    })
                    .collect();
                Ok(Page { items, next: None })
            }
            ApiKind::Http => {
                let stages =
                    self.http.get_stages().api_id(&api.id).set_next_token(token).send().await.map_err(lookup_error)?;
                let items = stages
                    .items()
                    .iter()
                    .map(|s| {
                        let arn = s.access_log_settings().and_then(|a| a.destination_arn());
                        stage(s.stage_name(), arn, merged(&api.tags, s.tags().into_iter().flatten()))
                    })
                    .collect();
                Ok(Page { items, next: next(stages.next_token()) })
            }
        }
    }
}

/// APIs asked for per listing page (the most either API answers).
const API_PAGE: i32 = 500;

impl ControlPlane for ApiGateway {
    async fn stages(&self) -> Result<Vec<StageInfo>, LookupError> {
        let mut out = Vec::new();
        for kind in [ApiKind::Rest, ApiKind::Http] {
            let mut token = None;
            loop {
                let page = self.api_page(kind, token).await?;
                for api in &page.items {
                    let mut stage_token = None;
                    loop {
                        let stages = self.stage_page(api, stage_token).await?;
                        out.extend(stages.items);
                        match stages.next {
                            Some(t) => stage_token = Some(t),
                            None => break,
                        }
                    }
                }
                match page.next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    async fn deployment(&self, s: &StageInfo) -> Result<Deployment, LookupError> {
        let target = format!("{}/{}", s.api_name, s.stage);
        match s.kind {
            ApiKind::Rest => {
                let stage = self
                    .rest
                    .get_stage()
                    .rest_api_id(&s.api_id)
                    .stage_name(&s.stage)
                    .send()
                    .await
                    .map_err(lookup_error)?;
                let id = stage
                    .deployment_id()
                    .ok_or_else(|| LookupError::Incomplete(format!("stage {target} has no deployment")))?;
                let d = self
                    .rest
                    .get_deployment()
                    .rest_api_id(&s.api_id)
                    .deployment_id(id)
                    .send()
                    .await
                    .map_err(lookup_error)?;
                Ok(Deployment {
                    id: Some(d.id().unwrap_or(id).to_string()),
                    description: d.description().unwrap_or_default().to_string(),
                    at: millis(d.created_date())
                        .ok_or_else(|| LookupError::Incomplete(format!("deployment {id} has no createdDate")))?,
                    target,
                })
            }
            ApiKind::Http => {
                let stage =
                    self.http.get_stage().api_id(&s.api_id).stage_name(&s.stage).send().await.map_err(lookup_error)?;
                Ok(Deployment {
                    id: stage.deployment_id().map(str::to_string),
                    description: stage
                        .description()
                        .or(stage.last_deployment_status_message())
                        .unwrap_or_default()
                        .to_string(),
                    at: millis(stage.last_updated_date().or(stage.created_date()))
                        .ok_or_else(|| LookupError::Incomplete(format!("stage {target} has no lastUpdatedDate")))?,
                    target,
                })
            }
        }
    }
}

/// Finds the deployment behind a log group for an alert: a cached mapping (about 15 minutes per
/// container), then the stage's current deployment, all within [`LOOKUP_TIMEOUT`].
#[derive(Debug)]
pub struct DeploymentFinder<C> {
    control: C,
    cache: Mutex<StageCache>,
    timeout: Duration,
}

impl<C: ControlPlane> DeploymentFinder<C> {
    /// A finder over `control`.
    pub fn new(control: C) -> Self {
        DeploymentFinder { control, cache: Mutex::default(), timeout: LOOKUP_TIMEOUT }
    }

    /// The same finder with another time limit (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The deployment of the stage that writes `log_group` (or that the lines name), or why not.
    pub async fn find(
        &self,
        log_group: &str,
        named: Option<(&str, &str)>,
        now: EpochMillis,
    ) -> Result<Option<Deployment>, LookupError> {
        let work = async {
            let cached = self.cache.lock().await.get(log_group, now).map(|s| s.cloned());
            let stage = match cached {
                Some(s) if named.is_none() || s.is_some() => s,
                _ => {
                    let stages = self.control.stages().await?;
                    let found = stage_for(log_group, named, &stages).cloned();
                    self.cache.lock().await.put(log_group, found.clone(), now);
                    found
                }
            };
            match stage {
                Some(s) => self.control.deployment(&s).await.map(Some),
                None => Ok(None),
            }
        };
        tokio::time::timeout(self.timeout, work).await.unwrap_or(Err(LookupError::Timeout(self.timeout.as_millis())))
    }

    /// [`find`](Self::find) as the alert line: `None` when there is none, with the reason logged.
    pub async fn line(
        &self,
        log_group: &str,
        named: Option<(&str, &str)>,
        now: EpochMillis,
        window_start: Option<EpochMillis>,
    ) -> Option<String> {
        match self.find(log_group, named, now).await {
            Ok(Some(d)) => Some(d.line(window_start)),
            Ok(None) => {
                tracing::info!(log_group, "deployment line omitted: no API stage logs to this group");
                None
            }
            Err(e) => {
                tracing::warn!(log_group, error = %e, "deployment line omitted: lookup failed");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Fake {
        listings: AtomicUsize,
        hang: bool,
    }

    impl ControlPlane for Fake {
        async fn stages(&self) -> Result<Vec<StageInfo>, LookupError> {
            self.listings.fetch_add(1, Ordering::SeqCst);
            if self.hang {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Ok(vec![StageInfo {
                kind: ApiKind::Rest,
                api_id: "a1".into(),
                api_name: "orders".into(),
                stage: "prod".into(),
                destination_arn: Some("arn:aws:logs:us-east-1:1:log-group:/g:*".into()),
                tags: BTreeMap::new(),
            }])
        }
        async fn deployment(&self, s: &StageInfo) -> Result<Deployment, LookupError> {
            Ok(Deployment {
                id: Some("d1".into()),
                description: "v2".into(),
                target: format!("{}/{}", s.api_name, s.stage),
                at: 0,
            })
        }
    }

    #[tokio::test]
    async fn mapping_is_cached_and_misses_too() {
        let f = DeploymentFinder::new(Fake::default());
        assert_eq!(f.find("/g", None, 0).await.unwrap().unwrap().target, "orders/prod");
        assert_eq!(f.find("/g", None, 60_000).await.unwrap().unwrap().id.as_deref(), Some("d1"));
        assert_eq!(f.find("/none", None, 60_000).await, Ok(None));
        assert_eq!(f.find("/none", None, 120_000).await, Ok(None));
        assert_eq!(f.control.listings.load(Ordering::SeqCst), 2, "one listing per group, misses remembered");
        f.find("/g", None, crate::context::deployment::CACHE_TTL_MS + 1).await.unwrap();
        assert_eq!(f.control.listings.load(Ordering::SeqCst), 3, "expired after 15 min");
    }

    #[tokio::test]
    async fn a_hanging_control_plane_costs_the_timeout_only() {
        let f = DeploymentFinder::new(Fake { hang: true, ..Fake::default() }).with_timeout(Duration::from_millis(50));
        let started = std::time::Instant::now();
        assert_eq!(f.find("/g", None, 0).await.unwrap_err().to_string(), "no answer within 50 ms");
        assert_eq!(f.line("/g", None, 0, Some(0)).await, None);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
