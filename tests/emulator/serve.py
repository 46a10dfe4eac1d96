#!/usr/bin/env python3
"""Local AWS for tests and the demo: moto server plus a CBOR<->JSON translating proxy.

The current aws-sdk-cloudwatch speaks Smithy RPC v2 CBOR; moto answers CloudWatch in awsJson1.0.
The proxy turns each CBOR request into the JSON request moto understands, and moto's JSON answer
back into CBOR, using botocore's service model to find timestamps (CBOR tag 1 on the wire, epoch
numbers in JSON). Every other request (SNS, SQS, /moto-api) passes through untouched.

Prints one JSON line {"endpoint": <proxy URL>, "moto": <moto URL>} when ready, then serves until
its standard input closes (the parent exited) or it gets SIGTERM. Test infrastructure only.
"""
import base64
import datetime
import json
import logging
import signal
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
import cbor2
from moto.server import ThreadedMotoServer

CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
MODEL = botocore.session.get_session().get_service_model("cloudwatch")
UTC = datetime.timezone.utc


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


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    moto = ""

    def log_message(self, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self, method, path, headers, body):
        req = urllib.request.Request(self.moto + path, data=body if method != "GET" else None, method=method)
        for k, v in headers:
            if k.lower() not in ("host", "content-length", "connection", "expect"):
                req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, list(r.headers.items()), r.read()
        except urllib.error.HTTPError as e:
            return e.code, list(e.headers.items()), e.read()

    def _handle(self):
        body = self._body()
        if self.path.startswith(CBOR_PREFIX):
            return self._cbor(self.path[len(CBOR_PREFIX):], body)
        self._send(*self._forward(self.command, self.path, list(self.headers.items()), body))

    def _cbor(self, operation, body):
        request = to_json(cbor2.loads(body)) if body else {}
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
        self._send(status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                            ("x-amzn-requestid", request_id)], out)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


def main():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    Proxy.moto = f"http://{host}:{port}"
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
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
