//! The API Gateway control plane, read-only, behind small traits: list the APIs and their stages a
//! page at a time, tags included ([`StageLister`], for the sweep), find a stage the lines name
//! (REST `GetRestApi`, else HTTP `GetApi`), list every stage (REST `GetRestApis` + `GetStages`,
//! HTTP `GetApis` + `GetStages`), and read a stage's current deployment (REST `GetStage` +
//! `GetDeployment`; HTTP `GetStage`, whose deployment fields and `lastUpdatedDate` say it).
//! [`DeploymentFinder`] puts it together for the alerts of an invocation: no listing when the lines
//! name their stage, one shared listing otherwise, every answer (a failed or cut-off listing too)
//! remembered for 15 minutes, all groups looked up side by side under one deadline, and a failure
//! that only drops the line (the reason is logged).

use crate::aws::client::Clients;
use crate::aws::error::{classify, AwsError};
use crate::base::time::EpochMillis;
use crate::context::deployment::{stage_for, ApiKind, ApiRef, Deployment, ListingFailed, Page, StageCache, StageInfo};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long the alerts of one invocation may wait for their deployment lines (all of them, side by
/// side).
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
    /// The listing failed or was cut off less than 15 minutes ago, and is not tried again yet.
    #[error("{0}")]
    Remembered(#[from] ListingFailed),
}

fn lookup_error<E, R>(e: aws_sdk_apigateway::error::SdkError<E, R>) -> LookupError
where
    E: aws_sdk_apigateway::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
{
    LookupError::Aws(classify(e))
}

/// What the deployment line needs from API Gateway.
pub trait ControlPlane {
    /// The stage `stage` of the API `api_id`, REST or HTTP, without listing: `None` when no API
    /// has that id. The stage itself is not checked (reading its deployment does).
    fn named(&self, api_id: &str, stage: &str) -> impl Future<Output = Result<Option<StageInfo>, LookupError>> + Send;
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
        // An API deleted between its listing and this call (a pass over many APIs takes minutes) has
        // no stages: failing here would stop every later run at the same step.
        let gone = || Page { items: Vec::new(), next: None };
        match api.kind {
            // REST GetStages answers every stage at once.
            ApiKind::Rest => {
                let stages = match self.rest.get_stages().rest_api_id(&api.id).send().await {
                    Ok(stages) => stages,
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found_exception()) => return Ok(gone()),
                    Err(e) => return Err(lookup_error(e)),
                };
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
                let stages = match self.http.get_stages().api_id(&api.id).set_next_token(token).send().await {
                    Ok(stages) => stages,
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found_exception()) => return Ok(gone()),
                    Err(e) => return Err(lookup_error(e)),
                };
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
    async fn named(&self, api_id: &str, stage: &str) -> Result<Option<StageInfo>, LookupError> {
        let info = |kind, name: Option<&str>| StageInfo {
            kind,
            api_id: api_id.to_string(),
            api_name: name.unwrap_or(api_id).to_string(),
            stage: stage.to_string(),
            destination_arn: None,
            tags: BTreeMap::new(),
        };
        match self.rest.get_rest_api().rest_api_id(api_id).send().await {
            Ok(api) => return Ok(Some(info(ApiKind::Rest, api.name()))),
            Err(e) if !e.as_service_error().is_some_and(|e| e.is_not_found_exception()) => return Err(lookup_error(e)),
            Err(_) => {}
        }
        match self.http.get_api().api_id(api_id).send().await {
            Ok(api) => Ok(Some(info(ApiKind::Http, api.name()))),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found_exception()) => Ok(None),
            Err(e) => Err(lookup_error(e)),
        }
    }

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

/// One alert's lookup: its log group, the stage its lines name (`$context.apiId`,
/// `$context.stage`) if any, and its window's start (`None` in the CLI: no window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted<'a> {
    /// The log group.
    pub log_group: &'a str,
    /// `(api id, stage)` when the lines carry them.
    pub named: Option<(&'a str, &'a str)>,
    /// The alerted window's start.
    pub window_start: Option<EpochMillis>,
}

/// Finds the deployment behind each alerting log group: the stage the lines name (asked for by
/// id, never listed), else the stage whose access logs go to the group (one listing of every stage,
/// shared by every group, and by concurrent lookups), then that stage's current deployment. Every
/// stage answer is remembered for 15 minutes per container, a failed or cut-off listing too; all
/// groups are looked up side by side within [`LOOKUP_TIMEOUT`].
#[derive(Debug)]
pub struct DeploymentFinder<C> {
    control: C,
    cache: Mutex<StageCache>,
    /// Held while listing, so that lookups that need the listing wait for the one under way.
    listing: Mutex<()>,
    timeout: Duration,
}

impl<C: ControlPlane> DeploymentFinder<C> {
    /// A finder over `control`.
    pub fn new(control: C) -> Self {
        DeploymentFinder { control, cache: Mutex::default(), listing: Mutex::new(()), timeout: LOOKUP_TIMEOUT }
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
        self.find_by(log_group, named, now, Instant::now() + self.timeout).await
    }

    /// [`find`](Self::find) for every alert at once, side by side, under one deadline: the alert
    /// lines by log group. A group without a line is left out, with the reason logged.
    pub async fn lines(&self, wanted: &[Wanted<'_>], now: EpochMillis) -> BTreeMap<String, String> {
        let deadline = Instant::now() + self.timeout;
        let found = futures_util::future::join_all(
            wanted.iter().map(|w| async move { (w, self.find_by(w.log_group, w.named, now, deadline).await) }),
        )
        .await;
        let mut out = BTreeMap::new();
        for (w, result) in found {
            let log_group = w.log_group;
            match result {
                Ok(Some(d)) => {
                    out.insert(log_group.to_string(), d.line(w.window_start));
                }
                Ok(None) => tracing::info!(log_group, "deployment line omitted: no API stage logs to this group"),
                Err(e) => tracing::warn!(log_group, error = %e, "deployment line omitted: lookup failed"),
            }
        }
        out
    }

    async fn find_by(
        &self,
        log_group: &str,
        named: Option<(&str, &str)>,
        now: EpochMillis,
        deadline: Instant,
    ) -> Result<Option<Deployment>, LookupError> {
        let work = async {
            let stage = match named {
                Some((api_id, stage)) => self.named(api_id, stage, now).await?,
                None => self.listed(log_group, now).await?,
            };
            match stage {
                Some(s) => self.control.deployment(&s).await.map(Some),
                None => Ok(None),
            }
        };
        tokio::time::timeout_at(deadline, work).await.unwrap_or(Err(LookupError::Timeout(self.timeout.as_millis())))
    }

    /// The stage the lines name, remembered or asked for by id.
    async fn named(&self, api_id: &str, stage: &str, now: EpochMillis) -> Result<Option<StageInfo>, LookupError> {
        if let Some(known) = self.cache.lock().await.named(api_id, stage, now) {
            return Ok(known.cloned());
        }
        let found = self.control.named(api_id, stage).await?;
        self.cache.lock().await.put_named(api_id, stage, found.clone(), now);
        Ok(found)
    }

    /// The stage that logs to `log_group`, from the remembered listing or a new one. A listing cut
    /// off by the deadline stays marked as begun, and the next lookup reads that as a failure.
    async fn listed(&self, log_group: &str, now: EpochMillis) -> Result<Option<StageInfo>, LookupError> {
        let _one_at_a_time = self.listing.lock().await;
        if let Some(known) = self.cache.lock().await.listing(now) {
            return Ok(stage_for(log_group, known?).cloned());
        }
        self.cache.lock().await.begin_listing(now);
        let listed = self.control.stages().await;
        let found = listed.as_ref().map(|stages| stage_for(log_group, stages).cloned()).map_err(Clone::clone);
        self.cache.lock().await.end_listing(listed.map_err(|e| e.to_string()));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::deployment::CACHE_TTL_MS;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A control plane with one REST API `a1` (`orders`, stage `prod`, logging to `/g`) and one HTTP
    /// API `h1` (`site`, stage `live`, logging to `/h`), counting what it is asked.
    #[derive(Default)]
    struct Fake {
        listings: AtomicUsize,
        named: AtomicUsize,
        deployments: AtomicUsize,
        /// The listing fails.
        fail: bool,
        /// The listing takes this long.
        listing_takes: Duration,
        /// Each deployment read takes this long.
        deployment_takes: Duration,
    }

    fn stage(kind: ApiKind, api: &str, name: &str, stage: &str, group: &str) -> StageInfo {
        StageInfo {
            kind,
            api_id: api.into(),
            api_name: name.into(),
            stage: stage.into(),
            destination_arn: Some(format!("arn:aws:logs:us-east-1:1:log-group:{group}:*")),
            tags: BTreeMap::new(),
        }
    }

    impl ControlPlane for Fake {
        async fn named(&self, api_id: &str, stage_name: &str) -> Result<Option<StageInfo>, LookupError> {
            self.named.fetch_add(1, Ordering::SeqCst);
            let name = match api_id {
                "a1" => "orders",
                "h1" => "site",
                _ => return Ok(None),
            };
            Ok(Some(StageInfo { destination_arn: None, ..stage(ApiKind::Rest, api_id, name, stage_name, "") }))
        }
        async fn stages(&self) -> Result<Vec<StageInfo>, LookupError> {
            self.listings.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.listing_takes).await;
            if self.fail {
                return Err(LookupError::Aws(AwsError::new(
                    crate::aws::error::AwsErrorKind::Throttling,
                    "Rate exceeded",
                )));
            }
            Ok(vec![
                stage(ApiKind::Rest, "a1", "orders", "prod", "/g"),
                stage(ApiKind::Http, "h1", "site", "live", "/h"),
            ])
        }
        async fn deployment(&self, s: &StageInfo) -> Result<Deployment, LookupError> {
            self.deployments.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.deployment_takes).await;
            Ok(Deployment {
                id: Some("d1".into()),
                description: "v2".into(),
                target: format!("{}/{}", s.api_name, s.stage),
                at: 0,
            })
        }
    }

    fn count(c: &AtomicUsize) -> usize {
        c.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_named_stage_is_asked_for_by_id_never_listed() {
        let f = DeploymentFinder::new(Fake::default());
        let d = f.find("/elsewhere", Some(("a1", "prod")), 0).await.unwrap().unwrap();
        assert_eq!(d.target, "orders/prod");
        f.find("/elsewhere", Some(("a1", "prod")), 60_000).await.unwrap().unwrap();
        assert_eq!(f.find("/g", Some(("zz", "prod")), 60_000).await, Ok(None), "no such API");
        assert_eq!(f.find("/g", Some(("zz", "prod")), 120_000).await, Ok(None));
        assert_eq!(count(&f.control.listings), 0, "never listed");
        assert_eq!(count(&f.control.named), 2, "one question per stage, answers and misses remembered");
        assert_eq!(count(&f.control.deployments), 2, "the deployment is read on every alert");
        f.find("/elsewhere", Some(("a1", "prod")), CACHE_TTL_MS + 1).await.unwrap();
        assert_eq!(count(&f.control.named), 3, "asked again after 15 min");
    }

    #[tokio::test]
    async fn one_listing_serves_every_group_for_fifteen_minutes() {
        let f = DeploymentFinder::new(Fake { listing_takes: Duration::from_millis(20), ..Fake::default() });
        let wanted = |g| Wanted { log_group: g, named: None, window_start: None };
        let lines = f.lines(&[wanted("/g"), wanted("/h"), wanted("/none")], 0).await;
        assert_eq!(lines.keys().collect::<Vec<_>>(), ["/g", "/h"], "no stage logs to /none");
        assert!(lines["/h"].starts_with("Deployment: d1 \"v2\" to site/live at "), "{lines:?}");
        assert_eq!(count(&f.control.listings), 1, "three groups side by side, one listing");
        assert_eq!(f.find("/none", None, 60_000).await, Ok(None));
        assert_eq!(count(&f.control.listings), 1, "remembered");
        f.find("/g", None, CACHE_TTL_MS + 1).await.unwrap().unwrap();
        assert_eq!(count(&f.control.listings), 2, "listed again after 15 min");
    }

    #[tokio::test]
    async fn a_failed_listing_is_not_repeated_for_fifteen_minutes() {
        let f = DeploymentFinder::new(Fake { fail: true, ..Fake::default() });
        let first = f.find("/g", None, 0).await.unwrap_err();
        assert_eq!(first.to_string(), "Throttling: Rate exceeded");
        let again = f.find("/h", None, 60_000).await.unwrap_err();
        assert!(matches!(again, LookupError::Remembered(_)), "{again}");
        assert!(again.to_string().contains(" failed: Throttling: Rate exceeded; not tried again before "), "{again}");
        assert_eq!(count(&f.control.listings), 1);
        assert_eq!(
            f.find("/g", Some(("a1", "prod")), 60_000).await.map(|d| d.is_some()),
            Ok(true),
            "named: no listing"
        );
        f.find("/g", None, CACHE_TTL_MS).await.unwrap_err();
        assert_eq!(count(&f.control.listings), 2, "tried again after 15 min");
    }

    #[tokio::test(start_paused = true)]
    async fn a_listing_cut_off_by_the_deadline_is_not_repeated_for_fifteen_minutes() {
        let hanging = Fake { listing_takes: Duration::from_secs(60), ..Fake::default() };
        let f = DeploymentFinder::new(hanging).with_timeout(Duration::from_millis(50));
        let started = Instant::now();
        assert_eq!(f.find("/g", None, 0).await, Err(LookupError::Timeout(50)));
        assert_eq!(started.elapsed(), Duration::from_millis(50), "the deadline, not the hang");
        let again = f.lines(&[Wanted { log_group: "/g", named: None, window_start: Some(0) }], 60_000).await;
        assert!(again.is_empty());
        let e = f.find("/h", None, CACHE_TTL_MS - 1).await.unwrap_err();
        assert!(e.to_string().contains(" did not finish in time; not tried again before "), "{e}");
        assert_eq!(count(&f.control.listings), 1, "not repeated within 15 min");
        assert_eq!(started.elapsed(), Duration::from_millis(50), "a remembered failure costs no wait");
    }

    #[tokio::test(start_paused = true)]
    async fn every_group_is_looked_up_side_by_side_under_one_deadline() {
        let groups: Vec<String> = (0..10).map(|i| format!("/g{i}")).collect();
        let wanted: Vec<Wanted<'_>> =
            groups.iter().map(|g| Wanted { log_group: g, named: Some(("a1", "prod")), window_start: None }).collect();
        let slow = Fake { deployment_takes: Duration::from_secs(1), ..Fake::default() };
        let f = DeploymentFinder::new(slow);
        let started = Instant::now();
        assert_eq!(f.lines(&wanted, 0).await.len(), 10);
        assert_eq!(started.elapsed(), Duration::from_secs(1), "ten 1 s lookups in 1 s");

        let hung = Fake { deployment_takes: Duration::from_secs(60), ..Fake::default() };
        let f = DeploymentFinder::new(hung);
        let started = Instant::now();
        assert!(f.lines(&wanted, 0).await.is_empty());
        assert_eq!(started.elapsed(), LOOKUP_TIMEOUT, "one deadline for all ten, not one each");
        assert_eq!(count(&f.control.deployments), 10);
    }
}
