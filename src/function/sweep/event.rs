//! What the sweep function is handed, told apart by shape: a scheduled EventBridge event (sweep),
//! or a CloudFormation custom-resource request (sweep at deploy, close at stack deletion).

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde_json::Value;

/// One invocation of the sweep function.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepEvent {
    /// An EventBridge scheduled event (`"detail-type": "Scheduled Event"`), or any EventBridge event
    /// (`"source"`): sweep.
    Scheduled,
    /// A CloudFormation custom-resource request (`"RequestType"`).
    Resource(Box<CloudFormationCustomResourceRequest>),
}

impl SweepEvent {
    /// Tells the event apart by its shape; `Err` names what was expected.
    pub fn from_value(v: Value) -> Result<SweepEvent, String> {
        if v.get("RequestType").is_some() {
            return serde_json::from_value(v)
                .map(|r| SweepEvent::Resource(Box::new(r)))
                .map_err(|e| format!("a CloudFormation custom-resource request that does not read: {e}"));
        }
        if v.get("detail-type").is_some() || v.get("source").is_some() {
            return Ok(SweepEvent::Scheduled);
        }
        Err("expected a scheduled EventBridge event or a CloudFormation custom-resource request".into())
    }

    /// True for a custom-resource Delete (the stack, or this resource, is going).
    pub fn is_delete(&self) -> bool {
        matches!(self, SweepEvent::Resource(r) if matches!(**r, CloudFormationCustomResourceRequest::Delete(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let scheduled = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
                               "account": "123456789012", "time": "2026-12-06T00:00:00Z", "region": "us-east-1",
                               "resources": ["arn:aws:events:us-east-1:123456789012:rule/r"], "detail": {}});
        assert_eq!(SweepEvent::from_value(scheduled), Ok(SweepEvent::Scheduled));
        let delete = json!({"RequestType": "Delete", "ServiceToken": "arn", "ResponseURL": "https://s3/x",
                            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "RequestId": "r",
                            "LogicalResourceId": "Sweep", "PhysicalResourceId": "p", "ResourceType": "Custom::Sweep",
                            "ResourceProperties": {"ServiceToken": "arn"}});
        assert!(SweepEvent::from_value(delete).is_ok_and(|e| e.is_delete()));
        assert!(SweepEvent::from_value(json!({"RequestType": "Create"})).unwrap_err().contains("does not read"));
        assert!(SweepEvent::from_value(json!({"awslogs": {"data": ""}})).is_err());
    }
}
