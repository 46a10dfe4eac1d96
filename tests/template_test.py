"""Properties of template.yaml that must not regress: checked on the template as SAM translates it
(the CloudFormation that would be deployed), offline. Run by `make test`."""
import copy
import json
import os
import re
import unittest
from pathlib import Path

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parent.parent
# The translator needs a region for pseudo parameters; nothing is called.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


class NoManagedPolicies:
    """SAM asks IAM for managed-policy ARNs only when a template names one; this one names none."""

    def load(self):
        return {}


def translated():
    template, problems = decode_str((ROOT / "template.yaml").read_text())
    assert not problems, problems
    params = {"LogGroupNames": "/aws/apigateway/a,/aws/apigateway/b"}
    packaged = copy.deepcopy(template)
    # As `sam package` would leave it: the code in S3.
    packaged["Resources"]["Function"]["Properties"]["CodeUri"] = "s3://artifacts/apigw-4xx.zip"
    return template, transform(packaged, params, NoManagedPolicies())


TEMPLATE, OUT = translated()
RESOURCES = OUT["Resources"]


def of_type(kind):
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def statements():
    role = RESOURCES["FunctionRole"]["Properties"]
    for policy in role.get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


class FunctionTest(unittest.TestCase):
    def test_runtime_and_build(self):
        fn = RESOURCES["Function"]["Properties"]
        self.assertEqual(fn["Runtime"], "provided.al2023")
        self.assertEqual(fn["Handler"], "bootstrap")
        self.assertEqual(fn["Architectures"], ["arm64"])
        self.assertEqual(TEMPLATE["Resources"]["Function"]["Metadata"]["BuildMethod"], "rust-cargolambda")
        self.assertEqual(fn["LoggingConfig"]["LogFormat"], "JSON")
        self.assertEqual(fn["ReservedConcurrentExecutions"], {"Ref": "ReservedConcurrency"})
        self.assertEqual(TEMPLATE["Parameters"]["ReservedConcurrency"]["Default"], 1)
        # Serial invocations are what the window decisions rest on: no other value deploys.
        self.assertEqual(TEMPLATE["Parameters"]["ReservedConcurrency"]["AllowedValues"], [1])
        self.assertEqual(TEMPLATE["Parameters"]["MemorySize"]["Default"], 128)

    def test_no_managed_policies_only_scoped_statements(self):
        role = RESOURCES["FunctionRole"]["Properties"]
        self.assertEqual(RESOURCES["Function"]["Properties"]["Role"], {"Fn::GetAtt": ["FunctionRole", "Arn"]})
        self.assertEqual(role.get("ManagedPolicyArns", []), [], "AWSLambdaBasicExecutionRole would allow every log group")
        seen = {}
        for st in statements():
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            for action in actions:
                self.assertNotIn("*", action.split(":")[1].replace("GenerateDataKey*", "GenerateDataKey"), st)
                self.assertNotIn(action, seen, "granted twice")
                seen[action] = st
        self.assertEqual(
            set(seen),
            {"cloudwatch:PutMetricData", "cloudwatch:GetMetricData", "sns:Publish", "sqs:SendMessage",
             "kms:Decrypt", "kms:GenerateDataKey*", "logs:CreateLogStream", "logs:PutLogEvents"},
        )
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            self.assertEqual(seen[action]["Resource"], {"Fn::GetAtt": ["FunctionLogGroup", "Arn"]})
        self.assertEqual(RESOURCES["Function"]["Properties"]["LoggingConfig"]["LogGroup"], {"Ref": "FunctionLogGroup"})
        for action in ("kms:Decrypt", "kms:GenerateDataKey*"):
            self.assertEqual(seen[action]["Condition"],
                             {"StringEquals": {"kms:ViaService": {"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"}}})
        put = seen["cloudwatch:PutMetricData"]
        self.assertEqual(put["Condition"], {"StringEquals": {"cloudwatch:namespace": {"Ref": "MetricNamespace"}}})
        self.assertEqual(seen["sns:Publish"]["Resource"], {"Ref": "AlertTopic"})
        self.assertEqual(seen["sqs:SendMessage"]["Resource"], {"Fn::GetAtt": ["FailureQueue", "Arn"]})
        self.assertEqual(seen["kms:Decrypt"]["Resource"], {"Fn::GetAtt": ["AlertKey", "Arn"]})
        wildcard = [st for st in statements() if st["Resource"] == "*"]
        self.assertEqual(sorted(json.dumps(st["Action"]) for st in wildcard),
                         ['"cloudwatch:GetMetricData"', '"cloudwatch:PutMetricData"'])

    def test_api_stage_reads_are_scoped_and_optional(self):
        policy = RESOURCES["ApiStagesReadPolicy"]
        self.assertEqual(policy["Condition"], "LookupDeployments")
        self.assertEqual(policy["Properties"]["Roles"], [{"Ref": "FunctionRole"}])
        [st] = policy["Properties"]["PolicyDocument"]["Statement"]
        self.assertEqual(st["Action"], "apigateway:GET")
        self.assertEqual(
            [r["Fn::Sub"] for r in st["Resource"]],
            ["arn:${AWS::Partition}:apigateway:${AWS::Region}::/" + p for p in ("restapis", "restapis/*", "apis", "apis/*")],
        )
        self.assertEqual(OUT["Conditions"]["LookupDeployments"], {"Fn::Equals": [{"Ref": "DeploymentLookup"}, "true"]})
        env = RESOURCES["Function"]["Properties"]["Environment"]["Variables"]
        for var, param in (("GROUP_RULES", "GroupRules"), ("SPIKE_FACTOR", "SpikeFactor"), ("DEPLOYMENT_LOOKUP", "DeploymentLookup")):
            self.assertEqual(env[var], {"Ref": param})
        self.assertEqual(TEMPLATE["Parameters"]["SpikeFactor"]["Default"], "", "off by default")
        pattern = re.compile(TEMPLATE["Parameters"]["SpikeFactor"]["AllowedPattern"])
        self.assertTrue(all(pattern.match(v) for v in ("", "5", "2.5")))
        self.assertFalse(any(pattern.match(v) for v in ("x", "-1", "1.234")))

    def test_settings_the_function_would_refuse_fail_the_deploy(self):
        def accepts(param, value):
            return re.fullmatch(TEMPLATE["Parameters"][param]["AllowedPattern"], value) is not None

        for ok in ("ApiGateway4xx", "Team/Api.4xx", "a:b#c_d-e", "AWSome", "N" * 255):
            self.assertTrue(accepts("MetricNamespace", ok), ok)
        for bad in ("", "AWS/ApiGateway", ":x", "Api Gateway", "Api<4xx>", "Apié", "N" * 256):
            self.assertFalse(accepts("MetricNamespace", bad), bad)
        self.assertTrue(accepts("MetricNamespace", TEMPLATE["Parameters"]["MetricNamespace"]["Default"]))
        for ok in ("", "401", "401,404", "401, 404"):
            self.assertTrue(accepts("IgnoreStatus", ok), ok)
        for bad in ("500", "abc", "401;404", "4010"):
            self.assertFalse(accepts("IgnoreStatus", bad), bad)

    def test_failed_batches_are_kept(self):
        cfg = next(iter(of_type("AWS::Lambda::EventInvokeConfig").values()))["Properties"]
        self.assertEqual(cfg["MaximumRetryAttempts"], 2)
        self.assertEqual(cfg["DestinationConfig"]["OnFailure"]["Destination"], {"Fn::GetAtt": ["FailureQueue", "Arn"]})
        queue = RESOURCES["FailureQueue"]["Properties"]
        self.assertEqual(queue["MessageRetentionPeriod"], 1209600)
        self.assertTrue(queue["SqsManagedSseEnabled"])


class WatchedGroupsTest(unittest.TestCase):
    def accepts(self, names):
        """Whether CloudFormation takes `names` for LogGroupNames (its AllowedPattern, matched whole)."""
        pattern = TEMPLATE["Parameters"]["LogGroupNames"]["AllowedPattern"]
        return re.fullmatch(pattern, ",".join(names)) is not None

    def test_more_groups_than_slots_fail_the_deploy(self):
        groups = [f"/aws/apigateway/api-{i}_x.y#z" for i in range(11)]
        self.assertTrue(self.accepts(groups[:1]))
        self.assertTrue(self.accepts(groups[:10]))
        self.assertTrue(self.accepts(["a" * 512] * 10))
        self.assertFalse(self.accepts(groups), "an 11th name would be dropped silently")
        self.assertFalse(self.accepts([]))
        self.assertFalse(self.accepts(["/a", ""]), "an empty name")
        self.assertFalse(self.accepts(["/a", " /b"]), "a space would watch a group that does not exist")
        self.assertFalse(self.accepts(["a" * 513]))
        reason = TEMPLATE["Parameters"]["LogGroupNames"]["ConstraintDescription"]
        self.assertIn("1 to 10 log group names", reason)
        self.assertIn("another stack", reason)


    def test_one_filter_and_scoped_permission_per_slot(self):
        filters = of_type("AWS::Logs::SubscriptionFilter")
        permissions = of_type("AWS::Lambda::Permission")
        self.assertEqual(len(filters), 10)
        self.assertEqual(len(permissions), 10)
        for name, p in permissions.items():
            props = p["Properties"]
            self.assertEqual(props["Principal"], "logs.amazonaws.com", name)
            self.assertEqual(props["SourceAccount"], {"Ref": "AWS::AccountId"}, name)
            self.assertIn("log-group:${Group}:*", json.dumps(props["SourceArn"]), name)
            self.assertTrue(p.get("Condition", "").startswith("WatchGroup"), name)
        for name, f in filters.items():
            self.assertEqual(f["Properties"]["FilterPattern"], "", name)
            self.assertEqual(f["Properties"]["DestinationArn"], {"Fn::GetAtt": ["Function", "Arn"]}, name)

    def test_unused_slots_are_conditional(self):
        for i in range(10):
            self.assertIn(f"WatchGroup{i}", OUT["Conditions"])


class AlertsTest(unittest.TestCase):
    def test_topic_encrypted_and_policy_scoped(self):
        topic = RESOURCES["AlertTopic"]["Properties"]
        self.assertEqual(topic["KmsMasterKeyId"], {"Ref": "AlertKey"})
        policy = RESOURCES["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        allow = [s for s in policy if s["Effect"] == "Allow"]
        self.assertTrue(allow, "the topic policy allows someone")
        self.assertTrue(all("aws:SourceAccount" in json.dumps(s.get("Condition")) for s in allow))
        self.assertTrue(RESOURCES["AlertEmailSubscription"]["Condition"] == "HasEmail")

    def test_the_watcher_is_watched(self):
        alarms = of_type("AWS::CloudWatch::Alarm")
        metrics = {a["Properties"].get("MetricName") for a in alarms.values()}
        self.assertTrue({"Errors", "Throttles", "ApproximateNumberOfMessagesVisible"} <= metrics)
        self.assertEqual(len([n for n in alarms if n.startswith("UnparsedAlarm")]), 10)
        for name, a in alarms.items():
            self.assertEqual(a["Properties"]["AlarmActions"], [{"Ref": "AlertTopic"}], name)

    def test_dashboard_rate_and_levels(self):
        body = json.dumps(RESOURCES["Dashboard"]["Properties"]["DashboardBody"])
        self.assertIn("100*SUM(c4)/SUM(req)", body)
        self.assertIn("ELEVATED", body)
        self.assertIn("HIGH", body)
        self.assertIn("StatusCode", body)
        self.assertIn("AlertsPublished", body)


if __name__ == "__main__":
    unittest.main()
