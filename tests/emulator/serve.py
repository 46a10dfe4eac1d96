#!/usr/bin/env python3
"""Local AWS for tests and the demo: moto server plus a CBOR<->JSON translating proxy.

The current aws-sdk-cloudwatch speaks Smithy RPC v2 CBOR; moto answers CloudWatch in awsJson1.0.
The proxy turns each CBOR request into the JSON request moto understands, and moto's JSON answer
back into CBOR, using botocore's service model to find timestamps (CBOR tag 1 on the wire, epoch
numbers in JSON). Every other request (SNS, SQS, Logs, API Gateway) passes through untouched,
except that gzip'd bodies (`Content-Encoding: gzip`, which the SDK uses for puts of 10 KB and more)
are gunzipped first.

Control endpoints on the proxy's port (test infrastructure; see tests/support/emulator.rs):
- `GET /_calls`, `POST /_calls/reset`: requests seen, per `service:Operation` (SDK retries count);
  `GET /_calls/log`: each request since the reset as `[seconds, "service:Operation"]`, in order.
- `POST /_faults` `{"operation", "fault", "times", "hang_seconds", "match", "every"}`, `POST /_latency`
  `{"ms"}`, `DELETE /_faults`: faults a real service shows and moto cannot (see FAULTS).
- `POST /_emf`, `POST /_emf/config` `{"delay_seconds"}`, `POST /_emf/flush`: stands in for
  CloudWatch's extraction of Embedded Metric Format documents from a function's log lines.
- `POST /_clock` `{"now_ms"}`, `DELETE /_clock`: the time the EMF collector and the late store go by
  (a test's clock, moved by the test; documents that become due as it moves are written before the
  answer), or the real clock again.
- `POST /_late` `{"delay_seconds"}`: data points 3 hours old or older, put with PutMetricData or
  extracted from EMF, become readable only this long after they are written (PutMetricData API
  reference: "data points with time stamps from 3 to 24 hours ago can take as much as 2 hours to
  become available"); 0, the default, makes every point readable at once.
- `POST /_lambda` `{"name"}`: a Lambda function in moto (role and code made up), so that
  PutSubscriptionFilter accepts it as a destination; answers `{"arn"}`.
- `GET /_deliveries`: what CloudWatch Logs delivered to Lambda destinations since the last call
  (taken): `[{"function", "filter", "logGroup", "event"}]`, `event` being the Lambda payload
  (`{"awslogs": {"data": …}}`). moto cannot run the Rust function: it would start a container; the
  delivery is caught here instead, and the test hands it to the function.
- `GET /_sns?topic=<arn>`: the messages SNS accepted for a topic, as moto keeps them.
- `PUT /_cfn/<id>`, `GET /_cfn`: stands in for the pre-signed S3 URL CloudFormation gives a custom
  resource to answer on; `GET` returns the bodies received, in order.

What it does not do: metric math and SEARCH expressions, Metrics Insights queries, extended
statistics, or a lag that differs between the documents of one batch (every document accepted in
one call waits the same delay); run Lambda functions (see `/_deliveries`), enforce IAM, or limit
calls by rate (inject `throttle`/`too_many_requests` faults instead).

Logs Insights (moto accepts StartQuery but does not evaluate `stats`): StartQuery, GetQueryResults
and StopQuery are answered here, evaluating the query over the events moto stores (see INSIGHTS):
statuses `Scheduled`, `Running`, then `Complete` (or `Failed`, `Timeout`, `Cancelled`);
`statistics` with `recordsMatched`, `recordsScanned`, `bytesScanned`; results as lists of
`{field, value}`. `GET /_insights` (queries started, stopped, the most running at once, rows),
`POST /_insights/config` `{"polls", "max_concurrent"}`, `POST /_insights/reset`; faults
`limit_exceeded` and `access_denied` (StartQuery refused), `query_failed`, `query_timeout` (the query ends so) and
`query_hold` (it runs until stopped).

Prints one JSON line {"endpoint": <proxy URL>, "moto": <moto URL>} when ready, then serves until
its standard input closes (the parent exited) or it gets SIGTERM. Test infrastructure only.
"""
import base64
import datetime
import gzip
import heapq
import json
import logging
import math
import re
import signal
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
import cbor2
from moto.server import ThreadedMotoServer

CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
SESSION = botocore.session.get_session()
MODEL = SESSION.get_service_model("cloudwatch")
UTC = datetime.timezone.utc
# Signing names that differ from the names tests use for a service.
SERVICE_NAMES = {"monitoring": "cloudwatch", "execute-api": "apigateway"}
FAULTS = ("apply_then_500", "apply_then_drop", "hang", "throttle", "too_many_requests", "access_denied", "500",
          "invalid_parameter", "limit_exceeded", "query_failed", "query_timeout", "query_hold")
# Faults that StartQuery applies: the query starts, and ends so (or runs until stopped).
QUERY_FATES = {"query_failed": "Failed", "query_timeout": "Timeout", "query_hold": "hold"}


def to_json(value):
    """CBOR-decoded request values -> JSON-able values (datetimes to epoch seconds, bytes to base64)."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=value.tzinfo or UTC).timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


def from_json(value, shape):
    """JSON response values -> CBOR-ready values, guided by the output shape."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: from_json(v, shape.members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [from_json(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: from_json(v, shape.value) for k, v in value.items()}
    if kind == "timestamp" and isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, UTC)
    if kind == "timestamp" and isinstance(value, str):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


# ---------------------------------------------------------------------------------------------
# Which call is this: `service:Operation`, from whatever the protocol puts where.

class RestRoutes:
    """REST-JSON operations (API Gateway v1 and v2) by method and path, from botocore's models."""

    def __init__(self):
        self.routes = None
        self.lock = threading.Lock()

    def _load(self):
        routes = []
        for service in ("apigateway", "apigatewayv2"):
            model = SESSION.get_service_model(service)
            for name in model.operation_names:
                http = model.operation_model(name).http
                uri, _, query = http["requestUri"].partition("?")
                # `/restapis?mode=import` is ImportRestApi, `/restapis` CreateRestApi.
                required = {k for k, _ in urllib.parse.parse_qsl(query, keep_blank_values=True)}
                pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.sub(r"\\\{[^}+]+\\\}", "[^/]+", re.escape(uri)))
                literal = len(re.sub(r"\{[^}]+\}", "", uri))
                routes.append((http["method"], re.compile(pattern + "$"), required, literal, service, name))
        return routes

    def name(self, method, path):
        with self.lock:
            if self.routes is None:
                self.routes = self._load()
        path, _, query = path.partition("?")
        path = urllib.parse.unquote(path)
        given = {k for k, _ in urllib.parse.parse_qsl(query, keep_blank_values=True)}
        found = [(len(required), literal, service, name) for m, rx, required, literal, service, name in self.routes
                 if m == method and rx.match(path) and required <= given]
        if not found:
            return None
        _, _, service, name = max(found)
        return f"{service}:{name}"


REST = RestRoutes()


def signing_service(headers):
    """The service named in the SigV4 credential scope (`Credential=AKID/date/region/service/...`)."""
    m = re.search(r"Credential=[^/]*/[^/]*/[^/]*/([^/]+)/", headers.get("Authorization", ""))
    service = m.group(1) if m else "unknown"
    return SERVICE_NAMES.get(service, service)


def call_name(method, path, headers, body):
    """`service:Operation` of one proxied request."""
    if path.startswith(CBOR_PREFIX):
        return "cloudwatch:" + path[len(CBOR_PREFIX):].split("?")[0]
    service = signing_service(headers)
    target = headers.get("X-Amz-Target")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    query = urllib.parse.urlsplit(path).query
    form = urllib.parse.parse_qs(query)
    if "form-urlencoded" in headers.get("Content-Type", ""):
        form.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
    if "Action" in form:
        return f"{service}:{form['Action'][0]}"
    rest = REST.name(method, path) if service in ("apigateway", "unknown") else None
    if rest:
        return rest
    return f"{service}:{method} {path.split('?')[0]}"


# ---------------------------------------------------------------------------------------------
# Faults and latency.

class Faults:
    """Faults to inject, in the order they were added, each for `times` matching calls."""

    def __init__(self):
        self.lock = threading.Lock()
        self.faults = []
        self.latency_ms = 0
        self.cleared = threading.Event()
        self.calls = Counter()
        self.log = []

    def add(self, spec):
        fault = spec.get("fault")
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}, not {fault!r}")
        if not spec.get("operation"):
            raise ValueError("operation is required (e.g. PutMetricData, Publish, FilterLogEvents)")
        times = int(spec.get("times", 1))
        if times < 1:
            raise ValueError("times must be at least 1")
        every = int(spec.get("every", 1))
        if every < 1:
            raise ValueError("every must be at least 1")
        with self.lock:
            self.faults.append({"operation": spec["operation"], "fault": fault, "times": times,
                                "hang_seconds": float(spec.get("hang_seconds", 30)),
                                "match": spec.get("match"), "every": every, "seen": 0})

    def clear(self):
        with self.lock:
            self.faults = []
            self.latency_ms = 0
            # Wakes calls that hang now, so a test's cleanup does not leave them sleeping.
            self.cleared.set()
            self.cleared = threading.Event()

    def take(self, name, body):
        """Counts the call and returns the fault to apply to it (or None), and the latency."""
        op = name.split(":", 1)[1]
        with self.lock:
            self.calls[name] += 1
            self.log.append([time.time(), name])
            for f in self.faults:
                if f["operation"] not in (op, name):
                    continue
                if f["match"] and not matches(f["match"], body):
                    continue
                # Intermittent faults: only every n-th matching call meets it, the others pass.
                f["seen"] += 1
                if f["seen"] % f["every"]:
                    continue
                f["times"] -= 1
                if f["times"] <= 0:
                    self.faults.remove(f)
                return dict(f, cleared=self.cleared), self.latency_ms
            return None, self.latency_ms


def matches(needle, body):
    """True when the request body holds `needle` (raw, as CBOR and JSON carry strings, or form-decoded)."""
    raw = needle.encode()
    return raw in body or needle in urllib.parse.unquote_plus(body.decode("utf-8", "replace"))


FAULT_STATE = Faults()


# ---------------------------------------------------------------------------------------------
# EMF collector: CloudWatch's extraction of Embedded Metric Format documents, stood in for.
# The rules are those of the CloudWatch user guide, "Specification: Embedded metric format"
# (structure and JSON schema) and the PutMetricData/Dimension API reference (what CloudWatch
# stores); each rule raises EmfError with the reason a test can read.

UNITS = {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
         "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
         "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
         "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
         "Count/Second", "None"}
MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_METRICS_PER_DIRECTIVE = 100
MAX_DIMENSIONS_PER_SET = 30
MAX_VALUES_PER_METRIC = 100
MAX_DIMENSION_VALUE = 1024
MAX_DIMENSION_KEY = 250
MAX_NAME = 1024
# PutMetricData's accepted range: two weeks back, two hours ahead.
MAX_AGE_MS = 14 * 24 * 3600 * 1000
MAX_AHEAD_MS = 2 * 3600 * 1000
# Data points this old or older become readable late (see `_late`).
LATE_AGE_MS = 3 * 3600 * 1000


class EmfError(ValueError):
    pass


def is_emf(doc):
    return isinstance(doc, dict) and isinstance(doc.get("_aws"), dict) and "CloudWatchMetrics" in doc["_aws"]


def check_string(value, what, longest):
    if not isinstance(value, str) or not value:
        raise EmfError(f"{what} must be a non-empty string, not {json.dumps(value)[:80]}")
    if len(value) > longest:
        raise EmfError(f"{what} is {len(value)} characters; at most {longest}")


def check_dimension_value(key, value):
    """What CloudWatch takes as a dimension value (API reference, Dimension)."""
    if not isinstance(value, str):
        raise EmfError(f"dimension {key!r} must have a string value, not {json.dumps(value)[:80]}")
    if not value.strip():
        raise EmfError(f"dimension {key!r} is empty or only whitespace")
    if len(value) > MAX_DIMENSION_VALUE:
        raise EmfError(f"dimension {key!r} value is {len(value)} characters; at most {MAX_DIMENSION_VALUE}")
    bad = [c for c in value if ord(c) < 32 or ord(c) > 126]
    if bad:
        raise EmfError(f"dimension {key!r} value holds {bad[0]!r}: only printable ASCII is accepted")


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def extract(doc, now_ms):
    """One EMF document -> `(namespace, [MetricDatum as JSON])` per directive; EmfError when invalid."""
    meta = doc["_aws"]
    stamp = meta.get("Timestamp")
    if not isinstance(stamp, int) or isinstance(stamp, bool):
        raise EmfError("_aws.Timestamp is required: an integer, milliseconds since the epoch")
    if not now_ms - MAX_AGE_MS <= stamp <= now_ms + MAX_AHEAD_MS:
        raise EmfError(f"_aws.Timestamp {stamp} is outside CloudWatch's range (two weeks back, two hours ahead)")
    directives = meta["CloudWatchMetrics"]
    if not isinstance(directives, list):
        raise EmfError("_aws.CloudWatchMetrics must be an array of MetricDirective objects")
    out = []
    for d, directive in enumerate(directives):
        where = f"CloudWatchMetrics[{d}]"
        if not isinstance(directive, dict):
            raise EmfError(f"{where} must be an object")
        for member in ("Namespace", "Dimensions", "Metrics"):
            if member not in directive:
                raise EmfError(f"{where}.{member} is required")
        namespace = directive["Namespace"]
        check_string(namespace, f"{where}.Namespace", 255)
        if namespace.startswith("AWS/"):
            raise EmfError(f"{where}.Namespace {namespace!r}: namespaces starting with AWS/ are reserved")
        sets = directive["Dimensions"]
        if not isinstance(sets, list) or not sets:
            raise EmfError(f"{where}.Dimensions must be a non-empty array of DimensionSet arrays")
        dimension_sets = []
        for s, keys in enumerate(sets):
            if not isinstance(keys, list):
                raise EmfError(f"{where}.Dimensions[{s}] must be an array of dimension keys")
            if len(keys) > MAX_DIMENSIONS_PER_SET:
                raise EmfError(f"{where}.Dimensions[{s}] has {len(keys)} keys; at most {MAX_DIMENSIONS_PER_SET}")
            dims = []
            for key in keys:
                check_string(key, f"{where}.Dimensions[{s}] key", MAX_DIMENSION_KEY)
                if key not in doc:
                    raise EmfError(f"dimension {key!r} has no top-level member")
                check_dimension_value(key, doc[key])
                dims.append({"Name": key, "Value": doc[key]})
            dimension_sets.append(dims)
        metrics = directive["Metrics"]
        if not isinstance(metrics, list):
            raise EmfError(f"{where}.Metrics must be an array of MetricDefinition objects")
        if len(metrics) > MAX_METRICS_PER_DIRECTIVE:
            raise EmfError(f"{where}.Metrics has {len(metrics)} definitions; at most {MAX_METRICS_PER_DIRECTIVE}")
        data = []
        for m, definition in enumerate(metrics):
            if not isinstance(definition, dict):
                raise EmfError(f"{where}.Metrics[{m}] must be an object")
            name = definition.get("Name")
            check_string(name, f"{where}.Metrics[{m}].Name", MAX_NAME)
            unit = definition.get("Unit", "None")
            if unit not in UNITS:
                raise EmfError(f"metric {name!r}: Unit {unit!r} is not a CloudWatch unit")
            resolution = definition.get("StorageResolution", 60)
            if resolution not in (1, 60) or isinstance(resolution, bool):
                raise EmfError(f"metric {name!r}: StorageResolution must be 1 or 60, not {resolution!r}")
            if name not in doc:
                raise EmfError(f"metric {name!r} has no top-level member")
            value = doc[name]
            values = value if isinstance(value, list) else [value]
            if isinstance(value, list) and not 1 <= len(value) <= MAX_VALUES_PER_METRIC:
                raise EmfError(f"metric {name!r} has {len(value)} values; 1 to {MAX_VALUES_PER_METRIC}")
            if not all(is_number(v) for v in values):
                raise EmfError(f"metric {name!r} must be a number or an array of numbers, "
                               f"not {json.dumps(value)[:80]}")
            for dims in dimension_sets:
                data.append({"MetricName": name, "Dimensions": dims, "Values": values, "Unit": unit,
                             "StorageResolution": resolution, "Timestamp": stamp / 1000})
        out.append((namespace, data))
    return out


class EmfCollector:
    """Documents accepted and waiting for their delay to pass, then written to moto; and data points
    too old to be readable at once (the late store), written to moto when their delay has passed."""

    def __init__(self):
        self.lock = threading.Lock()
        # Held while documents are written, so a flush returns only after every due write is done.
        self.write_lock = threading.Lock()
        self.delay = 0.0
        self.late = 0.0
        self.clock = None  # a test's clock (seconds), or None for the real one
        self.pending = []  # heap of (due, sequence, [(namespace, data) per directive of one document])
        self.seq = 0
        self.wake = threading.Event()

    def now(self):
        """Seconds since the epoch, by the test's clock when one is set."""
        with self.lock:
            return time.time() if self.clock is None else self.clock

    def set_clock(self, now_ms):
        """Moves the test's clock (None: the real one again), then writes what became due."""
        with self.lock:
            self.clock = None if now_ms is None else now_ms / 1000
        self.write(everything=False)
        self.wake.set()

    def split_late(self, data, now):
        """`(readable at once, late)`: the data points 3 hours old or older are late when a late
        delay is set."""
        if not self.late:
            return data, []
        cut = now - LATE_AGE_MS / 1000
        return [d for d in data if d["Timestamp"] > cut], [d for d in data if d["Timestamp"] <= cut]

    def hold(self, extracted, due):
        """Queues `[(namespace, data)]` (one document's, or one put's) to be written at `due`."""
        with self.lock:
            self.seq += 1
            heapq.heappush(self.pending, (due, self.seq, extracted))
        self.wake.set()

    def put(self, namespace, data):
        """A PutMetricData through the proxy: late points are held; returns the rest."""
        now = self.now()
        ready, late = self.split_late(data, now)
        if late:
            self.hold([(namespace, late)], now + self.late)
        return ready

    def accept(self, text):
        """Parses and validates every line; queues the valid documents. Returns the answer."""
        now = self.now()
        now_ms = int(now * 1000)
        metrics, rejected, accepted = 0, [], []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if not is_emf(doc):
                continue
            try:
                if len(line.encode()) > MAX_DOCUMENT_BYTES:
                    raise EmfError(f"document is {len(line.encode())} bytes; at most {MAX_DOCUMENT_BYTES}")
                extracted = extract(doc, now_ms)
            except EmfError as e:
                rejected.append({"line": number, "reason": str(e)})
                continue
            metrics += sum(len(data) for _, data in extracted)
            accepted.append(extracted)
        for extracted in accepted:
            parts = [(namespace, self.split_late(data, now)) for namespace, data in extracted]
            late = [(namespace, old) for namespace, (_, old) in parts if old]
            if late:
                self.hold(late, now + self.delay + self.late)
            if not late or any(ready for _, (ready, _) in parts):
                self.hold([(namespace, ready) for namespace, (ready, _) in parts if ready], now + self.delay)
        with self.lock:
            immediate = self.delay == 0
        if immediate:
            # No delay: readable as soon as the answer arrives, as tests expect.
            self.write(everything=False)
        else:
            self.wake.set()
        answer = {"documents": len(accepted), "metrics": metrics}
        if rejected:
            answer["rejected"] = rejected
        return answer

    def due(self, everything=False):
        now = self.now()
        with self.lock:
            ready = []
            while self.pending and (everything or self.pending[0][0] <= now):
                ready.append(heapq.heappop(self.pending))
            return ready

    def apply(self, ready):
        """Writes what is due; returns `(writes, data points)`."""
        documents = metrics = 0
        for _, _, extracted in ready:
            for namespace, data in extracted:
                for i in range(0, len(data), 1000):
                    put_metric_data(namespace, data[i:i + 1000])
                metrics += len(data)
            documents += 1
        return documents, metrics

    def write(self, everything):
        with self.write_lock:
            return self.apply(self.due(everything))

    def flush(self):
        documents, metrics = self.write(everything=True)
        return {"documents": documents, "metrics": metrics}

    def run(self):
        """Background writer: applies documents once their delay has passed."""
        while True:
            with self.lock:
                # Under a test's clock only its moves write (set_clock); otherwise the first due time.
                wait = (self.pending[0][0] - time.time()) if self.pending and self.clock is None else None
            self.wake.wait(None if wait is None else max(wait, 0))
            self.wake.clear()
            try:
                self.write(everything=False)
            except Exception:
                traceback.print_exc()


EMF = EmfCollector()


def put_metric_data(namespace, data):
    """Writes datums straight into moto with its JSON protocol (not through the proxy: not a call)."""
    req = urllib.request.Request(Proxy.moto + "/", method="POST",
                                 data=json.dumps({"Namespace": namespace, "MetricData": data}).encode())
    req.add_header("Content-Type", "application/x-amz-json-1.0")
    req.add_header("X-Amz-Target", "GraniteServiceVersion20100801.PutMetricData")
    req.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/monitoring/aws4_request")
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()


# ---------------------------------------------------------------------------------------------
# Logs Insights, stood in for: the query shapes apigw-4xx issues, evaluated over moto's events.
#
# What it evaluates (one command per line, `| ` in front of every line but the first):
# - `fields` of field names, `@timestamp`, `coalesce(a, b, …)`, each optionally `as name`;
# - `parse <field> /regex/` (named groups `(?<name>…)` become fields when they take part);
# - `filter` of comparisons (`=`, `!=`, `<`, `<=`, `>`, `>=` against a number) of a field or of
#   `toMillis(@timestamp)`, and `ispresent(field)`, joined by `and`/`or` (and before or, no
#   parentheses);
# - `stats count(*) as name by …` of fields, `@log` and `bin(<n>m|h|s) as name` (epoch-aligned);
# - `sort <field> asc|desc` and `limit <n>`.
# JSON messages' keys are discovered (nested objects flattened with dots); no other log type is.
# What it does not do: any other command, function or aggregation (refused as
# MalformedQueryException), glob `parse`, parentheses in `filter`, field indexes, the
# `logGroupIdentifiers` parameter, query history (DescribeQueries), or AWS's own byte accounting
# (`bytesScanned` here is the UTF-8 size of the messages in the time range). `startTime`/`endTime`
# are whole seconds, both inclusive (the end to the last millisecond of its second).

DEFAULT_ACCOUNT = "123456789012"
MAX_LIMIT = 10_000
MAX_GROUPS = 50


class QueryError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def split_top(text, sep=","):
    """Splits at `sep` outside parentheses."""
    out, depth, cur = [], 0, ""
    for c in text:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == sep and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
    if cur.strip():
        out.append(cur.strip())
    return out


def alias(expr):
    m = re.match(r"^(.*?)\s+as\s+([\w@.]+)$", expr.strip())
    return (m.group(1).strip(), m.group(2)) if m else (expr.strip(), expr.strip())


def value_of(expr, rec):
    expr = expr.strip()
    m = re.match(r"^coalesce\((.*)\)$", expr)
    if m:
        for name in split_top(m.group(1)):
            if rec.get(name) is not None:
                return rec[name]
        return None
    if expr == "toMillis(@timestamp)":
        return rec["@timestamp"]
    if not re.match(r"^[\w@.]+$", expr):
        raise QueryError("MalformedQueryException", f"unsupported expression: {expr}")
    return rec.get(expr)


def compile_filter(cond):
    """A predicate over a record, from `a and b or c` (no parentheses)."""
    disjuncts = []
    for part in re.split(r"\s+or\s+", cond.strip()):
        atoms = []
        for atom in re.split(r"\s+and\s+", part):
            atom = atom.strip()
            m = re.match(r"^ispresent\(([\w@.]+)\)$", atom)
            if m:
                atoms.append(lambda r, f=m.group(1): r.get(f) is not None)
                continue
            m = re.match(r"^(toMillis\(@timestamp\)|[\w@.]+)\s*(>=|<=|!=|=|<|>)\s*(-?\d+(?:\.\d+)?)$", atom)
            if not m:
                raise QueryError("MalformedQueryException", f"unsupported filter: {atom}")
            lhs, op, number = m.group(1), m.group(2), float(m.group(3))

            def test(r, lhs=lhs, op=op, number=number):
                v = value_of(lhs, r)
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    return False
                return {">=": v >= number, "<=": v <= number, ">": v > number, "<": v < number,
                        "=": v == number, "!=": v != number}[op]
            atoms.append(test)
        disjuncts.append(atoms)
    return lambda r: any(all(a(r) for a in atoms) for atoms in disjuncts)


def period_ms(text):
    m = re.match(r"^(\d+)(ms|s|m|h|d)$", text)
    if not m:
        raise QueryError("MalformedQueryException", f"unsupported bin period: {text}")
    return int(m.group(1)) * {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[m.group(2)]


def insights_time(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000, UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"


def compile_query(text):
    """The query as a list of steps (each a function over the list of records); QueryError when it
    uses anything this evaluator does not do."""
    steps = []
    for line in text.split("\n"):
        command = line.strip()
        if command.startswith("|"):
            command = command[1:].strip()
        if not command:
            continue
        verb, _, rest = command.partition(" ")
        if verb == "fields":
            items = [alias(e) for e in split_top(rest)]
            for expr, _ in items:
                value_of(expr, {"@timestamp": 0})

            def fields(records, items=items):
                for r in records:
                    for expr, name in items:
                        r[name] = value_of(expr, r)
                return records
            steps.append(fields)
        elif verb == "parse":
            m = re.match(r"^([\w@.]+)\s+/(.*)/$", rest)
            if not m:
                raise QueryError("MalformedQueryException", f"unsupported parse: {rest}")
            source, pattern = m.group(1), m.group(2).replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!")
            try:
                regex = re.compile(pattern)
            except re.error as e:
                raise QueryError("MalformedQueryException", f"bad regex {pattern}: {e}")

            def parse(records, source=source, regex=regex):
                for r in records:
                    text = r.get(source)
                    found = regex.search(str(text)) if text is not None else None
                    if found:
                        for name, v in found.groupdict().items():
                            if v is not None:
                                r[name] = v
                return records
            steps.append(parse)
        elif verb == "filter":
            predicate = compile_filter(rest)
            steps.append(lambda records, p=predicate: [r for r in records if p(r)])
        elif verb == "stats":
            m = re.match(r"^count\(\*\)\s+as\s+(\w+)(?:\s+by\s+(.*))?$", rest)
            if not m:
                raise QueryError("MalformedQueryException", f"unsupported stats: {rest}")
            count_name, by = m.group(1), [alias(e) for e in split_top(m.group(2) or "")]
            keys = []
            for expr, name in by:
                b = re.match(r"^bin\((\w+)\)$", expr)
                if b:
                    keys.append((name, period_ms(b.group(1))))
                elif re.match(r"^[\w@.]+$", expr):
                    keys.append((name, expr))
                else:
                    raise QueryError("MalformedQueryException", f"unsupported group: {expr}")

            def stats(records, keys=keys, count_name=count_name):
                groups = {}
                for r in records:
                    key = tuple(insights_time(r["@timestamp"] // k * k) if isinstance(k, int) else
                                (None if r.get(k) is None else str(r.get(k))) for _, k in keys)
                    groups[key] = groups.get(key, 0) + 1
                return [dict([(name, v) for (name, _), v in zip(keys, key) if v is not None] + [(count_name, str(n))])
                        for key, n in groups.items()]
            steps.append(stats)
        elif verb == "sort":
            m = re.match(r"^([\w@.]+)(?:\s+(asc|desc))?$", rest)
            if not m:
                raise QueryError("MalformedQueryException", f"unsupported sort: {rest}")

            def sort(records, field=m.group(1), desc=m.group(2) != "asc"):
                def k(r):
                    v = r.get(field)
                    try:
                        return (0, float(v))
                    except (TypeError, ValueError):
                        return (1, str(v))
                return sorted(records, key=k, reverse=desc)
            steps.append(sort)
        elif verb == "limit":
            n = int(rest)
            steps.append(lambda records, n=n: records[:n])
        else:
            raise QueryError("MalformedQueryException", f"unsupported command: {verb}")
    return steps


def discovered(message):
    """The fields Logs Insights discovers in a JSON message (nested keys joined with dots)."""
    out = {}
    if not message.lstrip().startswith("{"):
        return out
    try:
        doc = json.loads(message)
    except ValueError:
        return out

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}{k}.", v)
        elif value is not None:
            out[prefix[:-1]] = value if isinstance(value, str) else json.dumps(value)
    if isinstance(doc, dict):
        walk("", doc)
    return out


def logs_backend(region):
    from moto.logs.models import logs_backends
    return logs_backends[DEFAULT_ACCOUNT][region]


class InsightsQuery:
    def __init__(self, qid, groups, start, end, text, limit, region, fate):
        self.id, self.groups, self.start, self.end, self.text = qid, groups, start, end, text
        self.limit, self.region, self.fate = limit, region, fate
        self.steps = compile_query(text)
        self.polls = 0
        self.status = "Scheduled"
        self.finished = False  # a final status was delivered (or it was stopped)
        self.results, self.statistics = None, None

    def evaluate(self):
        backend = logs_backend(self.region)
        records, scanned, size = [], 0, 0
        lo, hi = self.start * 1000, self.end * 1000 + 999
        for name in self.groups:
            group = backend.groups.get(name)
            if group is None:
                continue
            for stream_name, stream in group.streams.items():
                for e in stream.events:
                    if lo <= e.timestamp <= hi:
                        scanned += 1
                        size += len(e.message.encode())
                        r = discovered(e.message)
                        r.update({"@timestamp": e.timestamp, "@message": e.message,
                                  "@log": f"{DEFAULT_ACCOUNT}:{name}", "@logStream": stream_name})
                        records.append(r)
        for step in self.steps:
            records = step(records)
        matched = len(records)
        rows = [[{"field": k, "value": str(v)} for k, v in r.items() if not k.startswith("@") or k == "@log"]
                if isinstance(r, dict) else r for r in records[:self.limit]]
        self.results = rows
        self.statistics = {"recordsMatched": float(matched), "recordsScanned": float(scanned),
                           "bytesScanned": float(size)}


class Insights:
    """Queries started, in order; the settings tests change."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.queries = {}
        self.order = []
        self.stopped = []
        self.max_running = 0
        self.polls = 0  # GetQueryResults calls answered Scheduled/Running before the end
        self.max_concurrent = 30

    def running(self):
        return [q for q in self.queries.values() if not q.finished]

    def summary(self):
        return {"started": len(self.order), "stopped": list(self.stopped), "max_running": self.max_running,
                "running": [q.id for q in self.running()],
                "queries": [{"id": q.id, "groups": q.groups, "start": q.start, "end": q.end, "status": q.status,
                             "query": q.text, "rows": len(q.results or [])}
                            for q in (self.queries[i] for i in self.order)]}

    def start(self, request, region, fate):
        groups = list(request.get("logGroupNames") or ([request["logGroupName"]] if request.get("logGroupName") else []))
        if not groups or len(groups) > MAX_GROUPS:
            raise QueryError("InvalidParameterException", f"a query names 1 to {MAX_GROUPS} log groups")
        backend = logs_backend(region)
        for g in groups:
            if g not in backend.groups:
                raise QueryError("ResourceNotFoundException", f"Log group {g} does not exist")
        limit = int(request.get("limit", MAX_LIMIT))
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError("InvalidParameterException", f"limit must be 1 to {MAX_LIMIT}")
        start, end = int(request["startTime"]), int(request["endTime"])
        if end < start:
            raise QueryError("InvalidParameterException", "endTime is before startTime")
        with self.lock:
            if len(self.running()) >= self.max_concurrent:
                raise QueryError("LimitExceededException", "too many concurrent queries")
            qid = f"q-{len(self.order) + 1:06d}"
            query = InsightsQuery(qid, groups, start, end, request.get("queryString", ""), limit, region, fate)
            # Evaluated at once (the events are in moto already); revealed as the polls go.
            query.evaluate()
            self.queries[qid] = query
            self.order.append(qid)
            self.max_running = max(self.max_running, len(self.running()))
        return {"queryId": qid}

    def results(self, request):
        with self.lock:
            q = self.queries.get(request.get("queryId"))
            if q is None:
                raise QueryError("ResourceNotFoundException", "no such query")
            q.polls += 1
            if not q.finished and (q.fate == "hold" or q.polls <= self.polls):
                q.status = "Scheduled" if q.polls == 1 and self.polls > 1 else "Running"
                # Statistics grow while it runs, as AWS reports them: a share of the final ones.
                share = q.polls / (q.polls + 1) if q.fate == "hold" else q.polls / (self.polls + 1)
                return {"status": q.status, "results": [],
                        "statistics": {k: v * share for k, v in q.statistics.items()}}
            if not q.finished:
                q.finished = True
                if q.fate in ("Failed", "Timeout"):
                    q.status, q.results = q.fate, []
                else:
                    q.status = "Complete"
            return {"status": q.status, "results": q.results or [], "statistics": q.statistics}

    def stop(self, request):
        with self.lock:
            q = self.queries.get(request.get("queryId"))
            if q is None:
                raise QueryError("ResourceNotFoundException", "no such query")
            if q.finished:
                return {"success": False}
            q.finished, q.status, q.results = True, "Cancelled", []
            self.stopped.append(q.id)
            return {"success": True}


INSIGHTS = Insights()
INSIGHTS_OPERATIONS = ("logs:StartQuery", "logs:GetQueryResults", "logs:StopQuery")


def region_of(headers):
    m = re.search(r"Credential=[^/]*/[^/]*/([^/]+)/", headers.get("Authorization", ""))
    return m.group(1) if m else "us-east-1"


# ---------------------------------------------------------------------------------------------
# Lambda destinations: made in moto, their deliveries caught.

DELIVERIES = []
CFN_RESPONSES = []
DELIVERIES_LOCK = threading.Lock()


def create_function(name):
    """A function in moto that PutSubscriptionFilter accepts as a destination; its ARN."""
    import boto3
    import io
    import zipfile
    kw = dict(endpoint_url=Proxy.moto, region_name="us-east-1", aws_access_key_id="testing",
              aws_secret_access_key="testing")
    iam = boto3.client("iam", **kw)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    try:
        role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=f"{name}-role")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    client = boto3.client("lambda", **kw)
    try:
        return client.create_function(FunctionName=name, Runtime="provided.al2023", Role=role, Handler="bootstrap",
                                      Code={"ZipFile": code.getvalue()})["FunctionArn"]
    except client.exceptions.ResourceConflictException:
        return client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def catch_deliveries():
    """moto hands a subscription's events to its Lambda backend, which would run the function in a
    container: record the payload it builds instead."""
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.send_log_event

    def send_log_event(self, function_arn, filter_name, log_group_name, log_stream_name, log_events):
        captured = {}

        class Catch:
            def invoke(self, body, *_):
                captured["event"] = json.loads(body)

        lambdas = self._lambdas
        get_arn = lambdas.get_arn
        lambdas.get_arn = lambda arn: Catch()
        try:
            original(self, function_arn, filter_name, log_group_name, log_stream_name, log_events)
        finally:
            lambdas.get_arn = get_arn
        with DELIVERIES_LOCK:
            DELIVERIES.append({"function": function_arn, "filter": filter_name, "logGroup": log_group_name,
                               "event": captured.get("event")})

    LambdaBackend.send_log_event = send_log_event


# ---------------------------------------------------------------------------------------------
# The proxy.

def error_reply(path, headers, status, code, message):
    """An error answer in the protocol of the call."""
    if path.startswith(CBOR_PREFIX):
        return status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")], \
            cbor2.dumps({"__type": code, "message": message})
    if headers.get("X-Amz-Target"):
        return status, [("Content-Type", headers.get("Content-Type", "application/x-amz-json-1.1"))], \
            json.dumps({"__type": code, "message": message}).encode()
    if "form-urlencoded" in headers.get("Content-Type", ""):
        kind = "Sender" if status < 500 else "Receiver"
        xml = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
               f"</Error><RequestId>emulated-fault</RequestId></ErrorResponse>")
        return status, [("Content-Type", "text/xml")], xml.encode()
    return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)], \
        json.dumps({"message": message}).encode()


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    moto = ""

    def log_message(self, *args):
        pass

    def _body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
        encoding = self.headers.get("Content-Encoding", "").lower()
        if "gzip" in encoding:
            body = gzip.decompress(body)
        elif "deflate" in encoding:
            body = zlib.decompress(body)
        return body

    def _headers(self):
        """Request headers to pass on: the body is sent decoded, with its own length."""
        return [(k, v) for k, v in self.headers.items()
                if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")]

    def _send(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status, value):
        self._send(status, [("Content-Type", "application/json")], json.dumps(value).encode())

    def _forward(self, method, path, headers, body):
        # No body, no data: urllib would otherwise add a form Content-Type, and moto would read the
        # call (a REST DeleteStage, say) as a query-protocol one.
        req = urllib.request.Request(self.moto + path, data=body if body and method not in ("GET", "HEAD") else None,
                                     method=method)
        for k, v in headers:
            if k.lower() not in ("host", "content-length", "connection", "expect"):
                req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, list(r.headers.items()), r.read()
        except urllib.error.HTTPError as e:
            return e.code, list(e.headers.items()), e.read()

    def _handle(self):
        try:
            body = self._body()
        except (OSError, EOFError, zlib.error, ValueError) as e:
            return self._json(400, {"error": f"unreadable request body: {e}"})
        try:
            if self.path.startswith("/_"):
                return self._control(self.path.split("?")[0], body)
            return self._proxy(body)
        except Exception as e:
            # A translator bug answers 500 with the reason instead of dropping the connection.
            traceback.print_exc()
            self._json(500, {"__type": "InternalFailure", "message": f"emulator: {e}"})

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _proxy(self, body):
        if self.path.startswith("/moto-api"):
            return self._send(*self._forward(self.command, self.path, self._headers(), body))
        name = call_name(self.command, self.path, self.headers, body)
        fault, latency_ms = FAULT_STATE.take(name, body)
        if latency_ms:
            time.sleep(latency_ms / 1000)
        kind = fault["fault"] if fault else None
        if kind == "hang":
            fault["cleared"].wait(fault["hang_seconds"])
            return self._drop()
        if kind in ("throttle", "too_many_requests", "access_denied", "500", "limit_exceeded", "invalid_parameter"):
            status, code = {"throttle": (400, "Throttling"), "too_many_requests": (429, "TooManyRequestsException"),
                            "access_denied": (400, "AccessDeniedException"), "500": (500, "InternalFailure"),
                            "limit_exceeded": (400, "LimitExceededException"),
                            "invalid_parameter": (400, "InvalidParameterException")}[kind]
            return self._send(*error_reply(self.path, self.headers, status, code, f"emulated fault: {kind}"))
        if name in INSIGHTS_OPERATIONS:
            return self._send(*self._insights(name, body, QUERY_FATES.get(kind)))
        if self.path.startswith(CBOR_PREFIX):
            reply = self._cbor(self.path[len(CBOR_PREFIX):], body)
        else:
            reply = self._forward(self.command, self.path, self._headers(), body)
        if kind == "apply_then_drop":
            return self._drop()
        if kind == "apply_then_500":
            return self._send(*error_reply(self.path, self.headers, 500, "InternalFailure",
                                           "emulated fault: applied, then answered 500"))
        self._send(*reply)

    def _insights(self, name, body, fate):
        """StartQuery, GetQueryResults and StopQuery, answered by INSIGHTS (awsJson1.1)."""
        try:
            request = json.loads(body) if body.strip() else {}
            if name == "logs:StartQuery":
                answer = INSIGHTS.start(request, region_of(self.headers), fate)
            elif name == "logs:GetQueryResults":
                answer = INSIGHTS.results(request)
            else:
                answer = INSIGHTS.stop(request)
        except QueryError as e:
            return error_reply(self.path, self.headers, 400, e.code, str(e))
        return 200, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(answer).encode()

    def _cbor(self, operation, body):
        request = to_json(cbor2.loads(body)) if body else {}
        if operation == "PutMetricData" and request.get("MetricData"):
            request["MetricData"] = EMF.put(request.get("Namespace", ""), request["MetricData"])
            if not request["MetricData"]:
                # Every point held for later: answered as the service answers an accepted put.
                return 200, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")], cbor2.dumps({})
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", f"GraniteServiceVersion20100801.{operation}"),
            ("Authorization", self.headers.get("Authorization", "")),
        ]
        status, resp_headers, resp = self._forward("POST", "/", headers, json.dumps(request).encode())
        try:
            parsed = json.loads(resp) if resp.strip() else {}
        except ValueError:
            parsed = {"__type": "InternalFailure", "message": resp.decode(errors="replace")[:500]}
        if status < 300:
            parsed = from_json(parsed, MODEL.operation_model(operation).output_shape)
        elif "__type" not in parsed:
            parsed = {"__type": parsed.get("code", "InternalFailure"), "message": parsed.get("message", "")}
        out = cbor2.dumps(parsed, datetime_as_timestamp=True, timezone=UTC)
        request_id = dict((k.lower(), v) for k, v in resp_headers).get("x-amzn-requestid", "emulated")
        return status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                        ("x-amzn-requestid", request_id)], out

    def _control(self, path, body):
        method = self.command
        if (method, path) == ("POST", "/_emf"):
            answer = EMF.accept(body.decode("utf-8", "replace"))
            return self._json(400 if "rejected" in answer else 200, answer)
        try:
            spec = json.loads(body) if body.strip() else {}
        except ValueError as e:
            return self._json(400, {"error": f"body is not JSON: {e}"})
        if (method, path) == ("GET", "/_calls"):
            with FAULT_STATE.lock:
                return self._json(200, dict(sorted(FAULT_STATE.calls.items())))
        if (method, path) == ("POST", "/_calls/reset"):
            with FAULT_STATE.lock:
                FAULT_STATE.calls.clear()
                FAULT_STATE.log.clear()
            return self._json(200, {})
        if (method, path) == ("GET", "/_calls/log"):
            with FAULT_STATE.lock:
                return self._json(200, list(FAULT_STATE.log))
        if (method, path) == ("POST", "/_lambda"):
            return self._json(200, {"arn": create_function(spec.get("name", "apigw-4xx"))})
        if (method, path) == ("GET", "/_sns"):
            # moto's data.json breaks once a Lambda function exists (a property of the function
            # wants Docker): the topic's messages are read from the backend itself.
            from moto.sns import sns_backends
            topic = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("topic", [""])[0]
            region = topic.split(":")[3] if topic.count(":") >= 5 else "us-east-1"
            account = topic.split(":")[4] if topic.count(":") >= 5 else "123456789012"
            found = sns_backends[account][region].topics.get(topic)
            sent = [list(n) for n in found.sent_notifications] if found else []
            return self._json(200, sent)
        if (method, path) == ("GET", "/_deliveries"):
            with DELIVERIES_LOCK:
                taken = list(DELIVERIES)
                DELIVERIES.clear()
            return self._json(200, taken)
        if method == "PUT" and path.startswith("/_cfn/"):
            with DELIVERIES_LOCK:
                CFN_RESPONSES.append(json.loads(body) if body.strip() else None)
            return self._json(200, {})
        if (method, path) == ("GET", "/_cfn"):
            with DELIVERIES_LOCK:
                return self._json(200, list(CFN_RESPONSES))
        if (method, path) == ("POST", "/_faults"):
            try:
                FAULT_STATE.add(spec)
            except (ValueError, TypeError) as e:
                return self._json(400, {"error": str(e)})
            return self._json(200, {})
        if (method, path) == ("DELETE", "/_faults"):
            FAULT_STATE.clear()
            return self._json(200, {})
        # Settings: the member of the request that holds a number >= 0, and where it goes.
        settings = {"/_latency": ("ms", FAULT_STATE, "latency_ms"), "/_emf/config": ("delay_seconds", EMF, "delay"),
                    "/_late": ("delay_seconds", EMF, "late")}
        if method == "POST" and path in settings:
            key, target, attr = settings[path]
            value = spec.get(key)
            if not is_number(value) or value < 0:
                return self._json(400, {"error": f"{key} must be a number >= 0"})
            with target.lock:
                setattr(target, attr, float(value))
            return self._json(200, {})
        if (method, path) == ("GET", "/_insights"):
            with INSIGHTS.lock:
                return self._json(200, INSIGHTS.summary())
        if (method, path) == ("POST", "/_insights/reset"):
            with INSIGHTS.lock:
                INSIGHTS.reset()
            return self._json(200, {})
        if (method, path) == ("POST", "/_insights/config"):
            with INSIGHTS.lock:
                if "polls" in spec:
                    INSIGHTS.polls = int(spec["polls"])
                if "max_concurrent" in spec:
                    INSIGHTS.max_concurrent = int(spec["max_concurrent"])
            return self._json(200, {})
        if (method, path) == ("POST", "/_emf/flush"):
            return self._json(200, EMF.flush())
        if (method, path) == ("POST", "/_clock"):
            now_ms = spec.get("now_ms")
            if not is_number(now_ms) or now_ms < 0:
                return self._json(400, {"error": "now_ms must be a number >= 0"})
            EMF.set_clock(now_ms)
            return self._json(200, {})
        if (method, path) == ("DELETE", "/_clock"):
            EMF.set_clock(None)
            return self._json(200, {})
        self._json(404, {"error": f"no control endpoint {method} {path}"})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (its deadline passed) closes the connection under a slow answer:
        # expected in tests, not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def main():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    catch_deliveries()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    Proxy.moto = f"http://{host}:{port}"
    proxy = Server(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    threading.Thread(target=EMF.run, daemon=True).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print(json.dumps({"endpoint": f"http://127.0.0.1:{proxy.server_address[1]}", "moto": Proxy.moto}), flush=True)
    if "--no-stdin" not in sys.argv:
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    proxy.shutdown()
    moto.stop()


if __name__ == "__main__":
    main()
