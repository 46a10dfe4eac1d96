//! `analyze --rules FILE` (a finding per log group under its own levels) and `--api-id/--stage`
//! (the stage's current deployment, as alerts name it).

use anyhow::{Context, Result};
use apigw_4xx::count::tally::Tally;
use apigw_4xx::judge::finding::Rules;
use apigw_4xx::judge::group_rules::GroupRules;
use apigw_4xx::render::report::{by_group, GroupFinding};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Options of `analyze` that put the finding in context.
#[derive(clap::Args)]
pub struct ContextArgs {
    /// Levels per log group (the GROUP_RULES JSON: names or prefixes ending in `*`, each with any of
    /// elevated_percent, high_percent, min_requests, ignore_status). Inputs that name log groups
    /// (events, payloads, filter-log-events) then get a finding per group.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// With --stage: name the stage's current deployment (needs AWS credentials and region; the
    /// line is left out, with a warning, when the lookup fails).
    #[arg(long, value_name = "ID", requires = "stage")]
    pub api_id: Option<String>,
    /// The stage of --api-id.
    #[arg(long, value_name = "NAME", requires = "api_id")]
    pub stage: Option<String>,
}

impl ContextArgs {
    /// The levels per log group: --rules over `base`, or `base` for every group.
    pub fn group_rules(&self, base: &Rules) -> Result<GroupRules> {
        match &self.rules {
            None => Ok(GroupRules::new(base.clone())),
            Some(f) => {
                let text = std::fs::read_to_string(f).with_context(|| format!("--rules {}", f.display()))?;
                GroupRules::parse(&text, base.clone()).with_context(|| format!("--rules {}", f.display()))
            }
        }
    }

    /// The findings per log group under `rules` (from [`Self::group_rules`]): with --rules, or when
    /// the input names several groups.
    pub fn groups(&self, rules: &GroupRules, tallies: &BTreeMap<String, Tally>) -> Option<Vec<GroupFinding>> {
        let named = tallies.keys().filter(|g| !g.is_empty()).count();
        (named > 0 && (self.rules.is_some() || named > 1)).then(|| by_group(tallies, rules))
    }

    /// The deployment line, when asked for and found.
    #[cfg(feature = "aws")]
    pub fn deployment(&self) -> Option<String> {
        use apigw_4xx::context::apigateway::{ApiGateway, DeploymentFinder};
        let (api, stage) = (self.api_id.as_deref()?, self.stage.as_deref()?);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let found = runtime.block_on(async {
            let clients = apigw_4xx::aws::client::Clients::from_env().await?;
            DeploymentFinder::new(ApiGateway::new(&clients)).find("", Some((api, stage)), now).await
        });
        match found {
            Ok(Some(d)) => Some(d.line(None)),
            Ok(None) => {
                eprintln!("warning: no stage {stage} of API {api} in this account and region: no deployment line");
                None
            }
            Err(e) => {
                eprintln!("warning: deployment lookup failed ({e}): no deployment line");
                None
            }
        }
    }

    /// Without the AWS SDKs there is no lookup.
    #[cfg(not(feature = "aws"))]
    pub fn deployment(&self) -> Option<String> {
        if self.api_id.is_some() {
            eprintln!("warning: built without the aws feature: no deployment line");
        }
        None
    }
}
