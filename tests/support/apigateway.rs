//! API Gateway state on the emulator (moto) for the deployment-line tests: REST APIs with a
//! deployed stage that logs to a log group, and bare APIs in bulk (an account with many APIs).
#![allow(dead_code)]

use aws_sdk_apigateway::types::{IntegrationType, Op, PatchOperation};
use futures_util::future::join_all;

/// The account moto runs as.
pub const ACCOUNT: &str = "123456789012";

/// The ARN a stage's `accessLogSettings.destinationArn` holds for `group`.
pub fn log_group_arn(group: &str) -> String {
    format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:*")
}

/// A REST API named `name` that can be deployed (moto, like API Gateway, deploys only an API with a
/// method: `GET /`, a mock integration): its id.
pub async fn deployable_rest_api(c: &aws_sdk_apigateway::Client, name: &str) -> String {
    let api_id = c.create_rest_api().name(name).send().await.unwrap().id.unwrap();
    let root = c.get_resources().rest_api_id(&api_id).send().await.unwrap().items()[0].id().unwrap().to_string();
    c.put_method()
        .rest_api_id(&api_id)
        .resource_id(&root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    c.put_integration()
        .rest_api_id(&api_id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(IntegrationType::Mock)
        .send()
        .await
        .unwrap();
    api_id
}

/// A REST API whose `prod` stage logs to `group`, deployed with `description`: `(api id,
/// deployment id)`.
pub async fn rest_stage(sdk: &aws_config::SdkConfig, name: &str, group: &str, description: &str) -> (String, String) {
    let c = aws_sdk_apigateway::Client::new(sdk);
    let api_id = deployable_rest_api(&c, name).await;
    let d =
        c.create_deployment().rest_api_id(&api_id).stage_name("prod").description(description).send().await.unwrap();
    c.update_stage()
        .rest_api_id(&api_id)
        .stage_name("prod")
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/accessLogSettings/destinationArn")
                .value(log_group_arn(group))
                .build(),
        )
        .send()
        .await
        .unwrap();
    (api_id, d.id().unwrap().to_string())
}

/// `n` REST APIs with no stage, named `{prefix}-{i}`, created 16 at a time.
pub async fn bare_rest_apis(sdk: &aws_config::SdkConfig, prefix: &str, n: usize) {
    let c = aws_sdk_apigateway::Client::new(sdk);
    for chunk in (0..n).collect::<Vec<_>>().chunks(16) {
        let created = join_all(chunk.iter().map(|i| c.create_rest_api().name(format!("{prefix}-{i}")).send())).await;
        for r in created {
            r.unwrap();
        }
    }
}
