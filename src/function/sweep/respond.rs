//! The answer to a CloudFormation custom-resource request: a JSON document PUT to the request's
//! pre-signed `ResponseURL`, which CloudFormation waits for (up to the resource's `ServiceTimeout`).
//! Every request is answered, whatever happened: an unanswered one holds the stack for that long.

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// The response document takes at most 4,096 bytes; the reason is cut well short of that.
const MAX_REASON: usize = 1_000;
/// How long one PUT may take.
const PUT_TIMEOUT: Duration = Duration::from_secs(10);
/// PUTs tried before giving up (S3 answers 5xx now and then).
const PUT_ATTEMPTS: u32 = 3;

/// The physical id of the sweep's custom resource when CloudFormation has none yet: stable, so an
/// update never replaces the resource (a replacement's Delete would remove every filter).
pub fn physical_id(request: &CloudFormationCustomResourceRequest, filter_name: &str) -> String {
    match request {
        CloudFormationCustomResourceRequest::Create(_) => filter_name.to_string(),
        CloudFormationCustomResourceRequest::Update(r) => r.physical_resource_id.clone(),
        CloudFormationCustomResourceRequest::Delete(r) => r.physical_resource_id.clone(),
        // The type is non-exhaustive; a kind CloudFormation adds later keeps the name.
        _ => filter_name.to_string(),
    }
}

/// The request's pre-signed URL.
pub fn response_url(request: &CloudFormationCustomResourceRequest) -> &str {
    match request {
        CloudFormationCustomResourceRequest::Create(r) => &r.response_url,
        CloudFormationCustomResourceRequest::Update(r) => &r.response_url,
        CloudFormationCustomResourceRequest::Delete(r) => &r.response_url,
        _ => "",
    }
}

/// The response document: success with `data`, or failure with `reason` (one line, cut short).
pub fn response(
    request: &CloudFormationCustomResourceRequest,
    physical_resource_id: String,
    outcome: Result<HashMap<String, String>, String>,
) -> String {
    let (stack_id, request_id, logical_id) = match request {
        CloudFormationCustomResourceRequest::Create(r) => (&r.stack_id, &r.request_id, &r.logical_resource_id),
        CloudFormationCustomResourceRequest::Update(r) => (&r.stack_id, &r.request_id, &r.logical_resource_id),
        CloudFormationCustomResourceRequest::Delete(r) => (&r.stack_id, &r.request_id, &r.logical_resource_id),
        _ => return String::new(),
    };
    let mut r = CloudFormationCustomResourceResponse::default();
    r.physical_resource_id = physical_resource_id;
    r.stack_id = stack_id.clone();
    r.request_id = request_id.clone();
    r.logical_resource_id = logical_id.clone();
    match outcome {
        Ok(data) => {
            r.status = CloudFormationCustomResourceResponseStatus::Success;
            r.data = data;
        }
        Err(reason) => {
            r.status = CloudFormationCustomResourceResponseStatus::Failed;
            let one_line: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            r.reason = Some(one_line.chars().take(MAX_REASON).collect());
        }
    }
    // A struct of strings and a map of strings always serializes.
    serde_json::to_string(&r).unwrap_or_default()
}

/// Where responses go.
pub trait Responder {
    /// PUTs `body` to `url`.
    fn put(&self, url: &str, body: String) -> impl Future<Output = Result<(), String>> + Send;
}

/// HTTPS (or HTTP, for a local test) with the system's root certificates.
#[derive(Debug, Clone)]
pub struct HttpResponder {
    client: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
}

impl HttpResponder {
    /// A client with the system's roots; `Err` when none can be loaded.
    pub fn new() -> Result<Self, String> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("no root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        Ok(HttpResponder { client })
    }

    async fn put_once(&self, url: &str, body: &str) -> Result<(), String> {
        // No Content-Type: the URL is signed without one.
        let request = hyper::Request::put(url)
            .header("content-length", body.len())
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| format!("request: {e}"))?;
        let answer = tokio::time::timeout(PUT_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("no answer within {} s", PUT_TIMEOUT.as_secs()))?
            .map_err(|e| format!("PUT: {e}"))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let text = answer.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Err(format!("PUT answered {status}: {}", String::from_utf8_lossy(&text).chars().take(300).collect::<String>()))
    }
}

impl Responder for HttpResponder {
    async fn put(&self, url: &str, body: String) -> Result<(), String> {
        let mut last = String::new();
        for attempt in 0..PUT_ATTEMPTS {
            match self.put_once(url, &body).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_answer_the_request() {
        let req: CloudFormationCustomResourceRequest = serde_json::from_str(
            r#"{"RequestType":"Update","ResponseURL":"https://x","StackId":"s","RequestId":"r","LogicalResourceId":"L",
                "PhysicalResourceId":"p-1","ResourceType":"Custom::Sweep","ResourceProperties":{},"OldResourceProperties":{}}"#,
        )
        .unwrap();
        assert_eq!(physical_id(&req, "f"), "p-1", "an update keeps its id");
        let ok: serde_json::Value = serde_json::from_str(&response(
            &req,
            "p-1".into(),
            Ok(HashMap::from([("Watched".to_string(), "3".to_string())])),
        ))
        .unwrap();
        assert_eq!(ok["Status"], "SUCCESS");
        assert_eq!(
            (ok["StackId"].as_str(), ok["RequestId"].as_str(), ok["LogicalResourceId"].as_str()),
            (Some("s"), Some("r"), Some("L"))
        );
        assert_eq!(ok["Data"]["Watched"], "3");
        let failed: serde_json::Value =
            serde_json::from_str(&response(&req, "p-1".into(), Err(format!("bad\n{}", "x".repeat(5000))))).unwrap();
        assert_eq!(failed["Status"], "FAILED");
        let reason = failed["Reason"].as_str().unwrap();
        assert!(reason.starts_with("bad x") && reason.len() == MAX_REASON, "{}", reason.len());
    }
}
