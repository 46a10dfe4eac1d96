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
    params = {"LogGroupNames": "/aws/apigateway/a,/aws/apigateway/team-*"}
    packaged = copy.deepcopy(template)
    # As `sam package` would leave it: the code in S3.
    for fn in ("Function", "SweepFunction"):
        packaged["Resources"][fn]["Properties"]["CodeUri"] = "s3://artifacts/apigw-4xx.zip"
    return template, transform(packaged, params, NoManagedPolicies())


TEMPLATE, OUT = translated()
RESOURCES = OUT["Resources"]


def of_type(kind):
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def statements(role="FunctionRole"):
    """The role's statements; one under a condition (`Fn::If`, else nothing) as `(condition, statement)`."""
    props = RESOURCES[role]["Properties"]
    for policy in props.get("Policies", []):
        for st in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in st:
                condition, then, otherwise = st["Fn::If"]
                assert otherwise == {"Ref": "AWS::NoValue"}, st
                yield condition, then
            else:
                yield None, st


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
        for _, st in statements():
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
        wildcard = [st for _, st in statements() if st["Resource"] == "*"]
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
        [cfg] = [c["Properties"] for c in of_type("AWS::Lambda::EventInvokeConfig").values()
                 if c["Properties"]["FunctionName"] == {"Ref": "Function"}]
        self.assertEqual(cfg["MaximumRetryAttempts"], 2)
        self.assertEqual(cfg["DestinationConfig"]["OnFailure"]["Destination"], {"Fn::GetAtt": ["FailureQueue", "Arn"]})
        queue = RESOURCES["FailureQueue"]["Properties"]
        self.assertEqual(queue["MessageRetentionPeriod"], 1209600)
        self.assertTrue(queue["SqsManagedSseEnabled"])


LOG_GROUPS_ARN = {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}


class WatchedGroupsTest(unittest.TestCase):
    def accepts(self, param, value):
        """Whether CloudFormation takes `value` for `param` (its AllowedPattern, matched whole)."""
        return re.fullmatch(TEMPLATE["Parameters"][param]["AllowedPattern"], value) is not None

    def test_any_number_of_names_and_prefixes(self):
        names = [f"/aws/apigateway/api-{i}_x.y#z" for i in range(60)]
        self.assertTrue(self.accepts("LogGroupNames", ""))
        self.assertTrue(self.accepts("LogGroupNames", ",".join(names)))
        self.assertTrue(self.accepts("LogGroupNames", "/aws/apigateway/*, /custom/orders"))
        self.assertTrue(self.accepts("LogGroupNames", "a" * 512))
        for bad in ("*", "/a,*", "/a b", "/a,,/b", "/a*b", "a" * 513):
            self.assertFalse(self.accepts("LogGroupNames", bad), bad)
        # Lambda allows 4 KB of environment variables in all: the list has room, and a bound.
        self.assertEqual(TEMPLATE["Parameters"]["LogGroupNames"]["MaxLength"], 3000)
        self.assertEqual(TEMPLATE["Parameters"]["WatchStages"]["Default"], "all")
        for ok in ("", "orders-*", "orders,billing-*, team=legacy", "apigw-4xx=off"):
            self.assertTrue(self.accepts("StageFilter", ok), ok)
        for bad in ("a*b", "=off", "orders, =off", "**"):
            self.assertFalse(self.accepts("StageFilter", bad), bad)

    def test_no_resource_per_group(self):
        self.assertEqual(of_type("AWS::Logs::SubscriptionFilter"), {})
        self.assertEqual(of_type("AWS::CloudWatch::Alarm").keys() & {n for n in RESOURCES if n[-1].isdigit()}, set())
        self.assertFalse([c for c in OUT["Conditions"] if c.startswith("WatchGroup")])
        # The group names reach only the sweep: its environment and its custom resource.
        users = sorted(name for name, r in RESOURCES.items() if "LogGroupNames" in json.dumps(r))
        self.assertEqual(users, ["Sweep", "SweepFunction"])

    def test_one_scoped_permission_for_every_group(self):
        permissions = of_type("AWS::Lambda::Permission")
        logs = [p["Properties"] for p in permissions.values() if p["Properties"]["Principal"] == "logs.amazonaws.com"]
        self.assertEqual(len(logs), 1)
        self.assertEqual(logs[0]["FunctionName"], {"Fn::GetAtt": ["Function", "Arn"]})
        self.assertEqual(logs[0]["SourceAccount"], {"Ref": "AWS::AccountId"})
        self.assertEqual(logs[0]["SourceArn"], LOG_GROUPS_ARN)
        events = [p["Properties"] for p in permissions.values() if p["Properties"]["Principal"] == "events.amazonaws.com"]
        self.assertEqual([e["SourceArn"] for e in events], [{"Fn::GetAtt": ["SweepSchedule", "Arn"]}])
        self.assertEqual(len(permissions), 2)

    def test_the_sweep_has_least_privilege(self):
        role = RESOURCES["SweepRole"]["Properties"]
        self.assertEqual(role.get("ManagedPolicyArns", []), [])
        self.assertEqual(RESOURCES["SweepFunction"]["Properties"]["Role"], {"Fn::GetAtt": ["SweepRole", "Arn"]})
        seen = {}
        for condition, st in statements("SweepRole"):
            self.assertEqual(st["Effect"], "Allow")
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            for action in actions:
                self.assertNotIn(action, seen, "granted twice")
                seen[action] = (condition, st)
        self.assertEqual(set(seen), {
            "logs:CreateLogStream", "logs:PutLogEvents",
            "logs:DescribeSubscriptionFilters", "logs:PutSubscriptionFilter", "logs:DeleteSubscriptionFilter",
            "logs:DescribeLogGroups", "apigateway:GET", "dynamodb:GetItem", "dynamodb:PutItem",
            "sns:Publish", "kms:Decrypt", "kms:GenerateDataKey*"})
        for action in ("logs:DescribeSubscriptionFilters", "logs:PutSubscriptionFilter",
                       "logs:DeleteSubscriptionFilter", "logs:DescribeLogGroups"):
            self.assertEqual(seen[action][1]["Resource"], LOG_GROUPS_ARN, action)
        self.assertEqual(seen["logs:DescribeLogGroups"][0], "HasGroupPrefixes", "listed only for a prefix")
        condition, api = seen["apigateway:GET"]
        self.assertEqual(condition, "WatchAllStages")
        self.assertEqual(
            [r["Fn::Sub"] for r in api["Resource"]],
            ["arn:${AWS::Partition}:apigateway:${AWS::Region}::/" + p for p in ("restapis", "restapis/*", "apis", "apis/*")],
        )
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            self.assertEqual(seen[action][1]["Resource"], {"Fn::GetAtt": ["SweepLogGroup", "Arn"]})
        for action in ("dynamodb:GetItem", "dynamodb:PutItem"):
            self.assertEqual(seen[action][1]["Resource"], {"Fn::GetAtt": ["SweepState", "Arn"]})
        self.assertEqual(seen["sns:Publish"][1]["Resource"], {"Ref": "AlertTopic"})
        self.assertEqual(seen["kms:Decrypt"][1]["Condition"],
                         {"StringEquals": {"kms:ViaService": {"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"}}})
        self.assertFalse([st for _, st in statements("SweepRole") if st["Resource"] == "*"])
        prefixes = OUT["Conditions"]["HasGroupPrefixes"]
        self.assertIn('"*"', json.dumps(prefixes))

    def test_sweep_runs_on_schedule_at_deploy_and_at_deletion(self):
        fn = RESOURCES["SweepFunction"]["Properties"]
        env = fn["Environment"]["Variables"]
        self.assertEqual(env["SWEEP_STATE_TABLE"], {"Ref": "SweepState"})
        self.assertEqual(env["DESTINATION_ARN"], {"Fn::GetAtt": ["Function", "Arn"]})
        self.assertEqual(env["SUBSCRIPTION_FILTER_NAME"], {"Fn::Sub": "apigw-4xx-${AWS::StackName}"})
        self.assertEqual(env["OWN_LOG_GROUPS"], {"Fn::Sub": "${FunctionLogGroup},${SweepLogGroup}"})
        self.assertEqual(fn["ReservedConcurrentExecutions"], 1, "one sweep at a time")
        rule = RESOURCES["SweepSchedule"]
        self.assertEqual(rule["Properties"]["ScheduleExpression"], {"Fn::Sub": "rate(${SweepMinutes} minutes)"})
        self.assertEqual(TEMPLATE["Parameters"]["SweepMinutes"]["Default"], 15)
        # Deleted first, so no scheduled run follows the custom resource's Delete.
        self.assertEqual(rule["DependsOn"], "Sweep")
        sweep = RESOURCES["Sweep"]
        self.assertEqual(sweep["Properties"]["ServiceToken"], {"Fn::GetAtt": ["SweepFunction", "Arn"]})
        # The Delete runs while the function, its permission and the state still exist.
        self.assertEqual(sweep["Properties"]["Destination"], {"Fn::GetAtt": ["Function", "Arn"]})
        self.assertEqual(set(sweep["DependsOn"]), {"LogsInvokePermission", "SweepState"})
        for p in ("WatchStages", "StageFilter", "LogGroupNames"):
            self.assertEqual(sweep["Properties"][p], {"Ref": p}, "a new selection sweeps at once")
        self.assertEqual(RESOURCES["SweepState"]["Properties"]["BillingMode"], "PAY_PER_REQUEST")


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
        self.assertEqual(alarms["SweepErrorsAlarm"]["Properties"]["Dimensions"],
                         [{"Name": "FunctionName", "Value": {"Ref": "SweepFunction"}}])
        for name, a in alarms.items():
            self.assertEqual(a["Properties"]["AlarmActions"], [{"Ref": "AlertTopic"}], name)

    def test_dashboard_rate_and_levels(self):
        body = json.dumps(RESOURCES["Dashboard"]["Properties"]["DashboardBody"])
        self.assertIn("100*SUM(c4)/SUM(req)", body)
        self.assertIn("ELEVATED", body)
        self.assertIn("HIGH", body)
        self.assertIn("StatusCode", body)
        self.assertIn("AlertsPublished", body)
        self.assertIn("WatchedLogGroups", body)
        self.assertIn("UnwatchableLogGroups", body)


if __name__ == "__main__":
    unittest.main()
