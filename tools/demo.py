#!/usr/bin/env python3
"""`make demo`: the function, locally, against a local AWS emulator; no AWS account, no Docker.

Starts moto + the CBOR translator (tests/emulator/serve.py), creates the alert topic, runs the
`bootstrap` function under `cargo lambda watch` with its environment pointing at the emulator,
invokes it with each sample event in events/, then prints the alerts SNS received and the window
metrics CloudWatch holds. Everything stops at the end.

The function writes its counts as Embedded Metric Format lines on stdout, which CloudWatch Logs
extracts into metrics. Here the emulator's EMF collector (`POST /_emf`) stands in for that: after
each invocation the function's new output lines are forwarded to it, so the window metrics printed
at the end are what the function logged, extracted as CloudWatch would.
"""
import base64
import gzip
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
DEFAULT_EVENTS = ["ok", "elevated", "high", "recovered", "control", "http-api", "kinesis"]
EVENTS = os.environ.get("DEMO_EVENTS", "").split() or [f"events/{name}.json" for name in DEFAULT_EVENTS]
NAMESPACE = "ApiGateway4xx"
# 2025-11-24T16:00:00Z: where the sample events start (examples/gen_events.rs).
SAMPLE_START_MS = 1_764_000_000_000


def refreshed(path):
    """The event with its timestamps moved to the last half hour (spacing kept): CloudWatch, and so
    the function, accepts metrics only up to two weeks back. Sample events carry fixed dates."""
    event = json.load(open(path))
    datas = ([event["awslogs"]] if "awslogs" in event else
             [r["kinesis"] for r in event.get("Records", []) if "kinesis" in r])
    payloads = [json.loads(gzip.decompress(base64.b64decode(d["data"]))) for d in datas]
    stamps = [e["timestamp"] for p in payloads for e in p.get("logEvents", [])]
    if stamps:
        shift = (int(time.time() * 1000) - 30 * 60_000) // 300_000 * 300_000 - SAMPLE_START_MS
        for d, p in zip(datas, payloads):
            for e in p.get("logEvents", []):
                e["timestamp"] += shift
            d["data"] = base64.b64encode(gzip.compress(json.dumps(p).encode())).decode()
    out = os.path.join(ROOT, "target", "demo-" + os.path.basename(path))
    with open(out, "w") as f:
        json.dump(event, f)
    return out


class EmfForwarder:
    """Hands the function's output, as it grows, to the emulator's EMF collector."""

    def __init__(self, log_path, endpoint):
        self.log_path, self.endpoint = log_path, endpoint
        self.offset = 0
        self.documents = self.metrics = 0
        self.rejected = []

    def forward(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.offset)
            text = f.read()
        text = text[:text.rfind(b"\n") + 1]  # whole lines only; the rest comes next time
        self.offset += len(text)
        if not text:
            return
        req = urllib.request.Request(self.endpoint + "/_emf", data=text, method="POST")
        try:
            with urllib.request.urlopen(req) as r:
                answer = json.load(r)
        except urllib.error.HTTPError as e:
            # 400: some documents were invalid (the valid ones were still extracted).
            answer = json.load(e)
        self.documents += answer.get("documents", 0)
        self.metrics += answer.get("metrics", 0)
        self.rejected += answer.get("rejected", [])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"nothing listening on port {port} after {seconds}s")


def main():
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    emulator = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/emulator/serve.py")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    urls = json.loads(emulator.stdout.readline())
    print(f"emulator: moto at {urls['moto']}, translator at {urls['endpoint']}")
    creds = dict(region_name="us-east-1", aws_access_key_id="demo", aws_secret_access_key="demo")
    sns = boto3.client("sns", endpoint_url=urls["moto"], **creds)
    topic = sns.create_topic(Name="apigw-4xx-alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="oncall@example.com")
    port = free_port()
    fn_env = {
        "AWS_ENDPOINT_URL": urls["endpoint"], "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
        "ALERT_TOPIC_ARN": topic, "METRIC_NAMESPACE": NAMESPACE, "WINDOW_MINUTES": "5",
        "RUST_LOG": "info", "AWS_LAMBDA_LOG_FORMAT": "JSON",
    }
    log_path = os.path.join(ROOT, "target", "demo-function.log")
    log = open(log_path, "w")
    emf = EmfForwarder(log_path, urls["endpoint"])
    watch = subprocess.Popen(
        ["cargo", "lambda", "watch", "--bin", "bootstrap", "--ignore-changes", "--invoke-address", "127.0.0.1",
         "--invoke-port", str(port), "--env-var", ",".join(f"{k}={v}" for k, v in fn_env.items())],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 600)
        print(f"function: cargo lambda watch on 127.0.0.1:{port} (log: target/demo-function.log)\n")
        for name in EVENTS:
            path = refreshed(os.path.join(ROOT, name))
            out = subprocess.run(
                ["cargo", "lambda", "invoke", "bootstrap", "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
                 "--data-file", path, "--output-format", "json"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            try:
                result = json.dumps(json.loads(out.stdout), separators=(",", ":"))
            except ValueError:
                result = (out.stdout + out.stderr).strip()
            print(f"invoke {name} -> {result}")
            emf.forward()
        print(f"\nEMF: {emf.documents} documents in the function's output, {emf.metrics} metric data extracted")
        for r in emf.rejected:
            print(f"  EMF document rejected (log line {r['line']} of a batch): {r['reason']}")
        data = json.load(urllib.request.urlopen(urls["moto"] + "/moto-api/data.json"))
        sent = [n for t in data["sns"]["Topic"] if t["arn"] == topic for n in t["sent_notifications"]]
        print(f"\n=== {len(sent)} alerts published to {topic} ===")
        for _, message, subject, attrs, _ in sent:
            print(f"\nSubject: {subject}\nAttributes: " +
                  ", ".join(f"{k}={v['Value']}" for k, v in attrs.items()) + f"\n\n{message}\n" + "-" * 72)
        cw = boto3.client("cloudwatch", endpoint_url=urls["moto"], **creds)
        print("\n=== window metrics (namespace %s, Sum per 5 min) ===" % NAMESPACE)
        for group in ["/aws/apigateway/demo-api-access", "/aws/apigateway/demo-http-api-access",
                      "/aws/apigateway/demo-kinesis-access"]:
            queries = [{"Id": f"m{i}", "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": m,
                        "Dimensions": [{"Name": "LogGroup", "Value": group}]}, "Period": 300, "Stat": "Sum"}}
                       for i, m in enumerate(["Requests", "ClientErrors", "UnparsedLines"])]
            now = datetime.fromtimestamp(time.time() // 300 * 300, timezone.utc)
            r = cw.get_metric_data(MetricDataQueries=queries, StartTime=now - timedelta(hours=1),
                                   EndTime=now + timedelta(minutes=10))
            rows = {}
            for res, name in zip(r["MetricDataResults"], ["Requests", "ClientErrors", "UnparsedLines"]):
                for t, v in zip(res["Timestamps"], res["Values"]):
                    rows.setdefault(t, {})[name] = int(v)
            print(f"\n{group}")
            print(f"  {'window (UTC)':<22}{'Requests':>10}{'4xx':>8}{'rate':>8}{'unparsed':>10}")
            for t in sorted(rows):
                v = rows[t]
                rate = 100 * v.get("ClientErrors", 0) / v["Requests"] if v.get("Requests") else 0
                print(f"  {t.astimezone(timezone.utc):%Y-%m-%d %H:%M}      {v.get('Requests', 0):>10,}"
                      f"{v.get('ClientErrors', 0):>8,}{rate:>7.1f}%{v.get('UnparsedLines', 0):>10,}")
    finally:
        watch.terminate()
        try:
            watch.wait(10)
        except subprocess.TimeoutExpired:
            watch.kill()
        emulator.stdin.close()
        emulator.wait(10)


if __name__ == "__main__":
    main()
