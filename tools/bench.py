#!/usr/bin/env python3
"""Whole-process benchmarks (`make bench` runs them after criterion). Prints markdown tables.

1. The same subscription event, side by side: apigw-4xx analyze, the yardsticks in ../shared/bench
   (python_peer.py, the floor), and the naive Rust path (examples/naive.rs). Median wall time of
   interleaved runs (`BENCH_PIN=1`: each pinned to one core), peak RSS from GNU time.
2. A generated 1 GB create-export-task file, streamed: MB/s and peak RSS.
3. The function (release `bootstrap`) under a minimal local Lambda Runtime API, against the emulator:
   init time, per-invocation latency, AWS calls and peak RSS, for OK and crossing batches.
4. `memory`: hostile and huge inputs, generated on the fly and piped into `apigw-4xx analyze`
   (nothing written to disk): peak RSS from `/usr/bin/time -v`, against the 64 MB bound.
5. `parallel` (every core): 8 files (and the same 8 payloads as one array of subscription events)
   read pinned to one core (`taskset -c 0`) and on two (`taskset -c 0,1`), alternating runs.
"""
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "bench")
WORK = os.path.join(ROOT, "target", "bench")
RUNS = int(os.environ.get("BENCH_RUNS", "9"))
# `BENCH_PIN=1`: the side-by-side runs each program on one core (`taskset -c 0`), single-core speed.
PIN = [shutil.which("taskset") or "taskset", "-c", "0"] if os.environ.get("BENCH_PIN") == "1" else []


def sh(cmd, **kw):
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def wall(cmd):
    """Wall seconds of one run, output discarded. posix_spawn: no fork of this interpreter."""
    quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    start = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=quiet)
    _, status, _ = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{cmd} exited with {status}")
    return elapsed


def peak_rss_mb(cmd):
    """Peak RSS of one run, from GNU time (rusage of a spawned child also counts its parent's pages)."""
    out = os.path.join(WORK, "time.out")
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out] + cmd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return int(open(out).read().split()[-1]) / 1024


def build(which):
    os.makedirs(WORK, exist_ok=True)
    floor_src = os.path.join(WORK, "floor")
    if not os.path.exists(floor_src):
        shutil.copytree(os.path.join(SHARED, "floor"), floor_src)
        for d, _, files in os.walk(floor_src):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
    sh(["cargo", "build", "--release", "--quiet", "--manifest-path", os.path.join(floor_src, "Cargo.toml"),
        "--target-dir", os.path.join(WORK, "floor-target")])
    sh(["cargo", "build", "--release", "--quiet", "--bin", "apigw-4xx"] + cli_features())
    if {"side", "function"} & set(which):
        sh(["cargo", "build", "--release", "--quiet", "--bin", "bootstrap", "--example", "naive"])


def cli_features():
    """Cargo feature flags for the CLI: the default features, or none (`BENCH_NO_AWS=1`: the CLI's
    reading paths do not use the AWS SDKs; this skips compiling them on a machine that only measures
    the CLI)."""
    return ["--no-default-features"] if os.environ.get("BENCH_NO_AWS") == "1" else []


def events(n):
    path = os.path.join(WORK, f"event-{n}.json")
    if not os.path.exists(path):
        with open(path, "w") as f:
            subprocess.run([sys.executable, os.path.join(SHARED, "gen_batch.py"), str(n)], stdout=f,
                           stderr=subprocess.DEVNULL, check=True)
    return path


def side_by_side():
    rel = os.path.join(ROOT, "target", "release")
    tools = [
        ("apigw-4xx analyze", lambda p: [os.path.join(rel, "apigw-4xx"), "analyze", p]),
        ("floor (base64+gunzip+memmem)", lambda p: [os.path.join(WORK, "floor-target", "release", "floor"), p]),
        ("naive Rust (aws_lambda_events + serde_json per line)", lambda p: [os.path.join(rel, "examples", "naive"), p]),
        ("python_peer.py", lambda p: [shutil.which("python3"), os.path.join(SHARED, "python_peer.py"), p]),
    ]
    # `BENCH_BASE=PATH`: another build of the CLI (an earlier commit's) in the same alternating runs,
    # so a change is judged against its base under the same machine conditions.
    if os.environ.get("BENCH_BASE"):
        tools.append(("apigw-4xx analyze (BENCH_BASE)", lambda p: [os.environ["BENCH_BASE"], "analyze", p]))
    rows = []
    for n in (10_000, 100_000):
        path = events(n)
        times = {name: [] for name, _ in tools}
        rss = {name: peak_rss_mb(cmd(path)) for name, cmd in tools}
        for _ in range(RUNS):
            for name, cmd in tools:
                times[name].append(wall(PIN + cmd(path)))
        floor = statistics.median(times[tools[1][0]])
        for name, _ in tools:
            med = statistics.median(times[name])
            rows.append((f"{n:,}", name, f"{med * 1000:.1f}", f"{med / floor:.2f}x", f"{rss[name]:.1f}"))
    pinned = ", each pinned to one core (`taskset -c 0`)" if PIN else ""
    print("\n### Same subscription event, whole process (median of %d alternating runs%s)\n" % (RUNS, pinned))
    print("| events | program | time (ms) | vs floor | peak RSS (MB) |\n|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def export_1gb():
    path = os.path.join(WORK, "export-1g.log")
    target = 1 << 30
    if not os.path.exists(path) or os.path.getsize(path) < target:
        lines = []
        for i in range(25_000):
            status = (200, 200, 200, 201, 400, 403, 404, 429)[i % 8]
            t = 1764000000 + i // 10
            lines.append(f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t))}.{i % 1000:03d}Z "
                         f'{{"requestId":"{i:08x}-0000-4000-8000-000000000000","ip":"203.0.113.{i % 256}",'
                         f'"caller":"-","user":"-","requestTime":"24/Nov/2025:16:00:00 +0000","httpMethod":"GET",'
                         f'"resourcePath":"/v1/items/{{id}}","status":"{status}","protocol":"HTTP/1.1",'
                         f'"responseLength":"{i % 900}"}}\n')
        chunk = "".join(lines).encode()
        with open(path, "wb") as f:
            written = 0
            while written < target:
                f.write(chunk)
                written += len(chunk)
    size = os.path.getsize(path)
    cmd = [os.path.join(ROOT, "target", "release", "apigw-4xx"), "analyze", "--window", "5", path]
    rss = peak_rss_mb(cmd)
    elapsed = statistics.median(wall(cmd) for _ in range(3))
    print("\n### 1 GB create-export-task file, streamed (median of 3)\n")
    print("| size | time (s) | throughput (MB/s) | peak RSS (MB) |\n|---|---|---|---|")
    print(f"| {size / 1e9:.2f} GB | {elapsed:.2f} | {size / 1e6 / elapsed:.0f} | {rss:.1f} |")


MEMORY_BOUND_MB = 64

# (case, shell command writing the input to stdout, extra analyze arguments)
MEMORY_CASES = [
    ("3 GB with no newline", "head -c 3G /dev/zero | tr '\\0' x", []),
    ("/dev/zero on stdin (3 GB)", "head -c 3G /dev/zero", []),
    ("one 500 MB line, then 1,000 lines",
     "{ printf '{\"status\":\"200\",\"pad\":\"'; head -c 500M /dev/zero | tr '\\0' x; printf '\"}\\n';"
     " yes '{\"status\":\"403\"}' | head -n 1000; }", []),
    ("1 GB of JSON objects back to back, no newline",
     "yes '{\"requestId\":\"r\",\"status\":\"403\"}' | tr -d '\\n' | head -c 1G", []),
    ("--window 1 over a year of minute lines (525,600)",
     f"{shlex.quote(sys.executable)} -c " + shlex.quote(
         "import sys, time\n"
         "w = sys.stdout.write\n"
         "for m in range(525600):\n"
         "    t = 1735689600 + m * 60\n"
         "    w(time.strftime('%Y-%m-%dT%H:%M:%S.000Z ', time.gmtime(t)) + "
         "'{\"status\":\"' + ('403' if m % 7 == 0 else '200') + '\"}\\n')\n"),
     ["--window", "1"]),
]


def memory():
    """Each case's input is generated by a shell pipeline into the CLI's stdin; GNU time measures the
    CLI alone."""
    binary = os.path.join(ROOT, "target", "release", "apigw-4xx")
    out, stdout = os.path.join(WORK, "memory.time"), os.path.join(WORK, "memory.json")
    rows = []
    for name, generate, args in MEMORY_CASES:
        # No pipefail: generators end by SIGPIPE (`yes | head`); the CLI's own exit status is checked.
        cmd = (f"{generate} | /usr/bin/time -v -o {out} {binary} analyze --json "
               f"{' '.join(shlex.quote(a) for a in args)} - > {stdout} 2>/dev/null")
        start = time.perf_counter()
        subprocess.run(["bash", "-c", cmd], check=True)
        elapsed = time.perf_counter() - start
        report = open(out).read()
        if "Exit status: 0" not in report:
            raise SystemExit(f"{name}: apigw-4xx failed:\n{report}")
        rss = int(report.split("Maximum resident set size (kbytes):")[1].split()[0]) / 1024
        v = json.load(open(stdout))
        rows.append((name, f"{rss:.1f}", "yes" if rss <= MEMORY_BOUND_MB else "**NO**", f"{elapsed:.1f}",
                     f"{v['requests']:,} / {v['unparsed']:,}", str(len(v.get("windows") or []))))
    print(f"\n### Memory on hostile and huge input (bound: {MEMORY_BOUND_MB} MB peak RSS)\n")
    print("| input (piped) | peak RSS (MB) | within bound | time (s) | requests / unparsed | windows |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


class RuntimeApi(BaseHTTPRequestHandler):
    """The Lambda Runtime API, minimally: hands out queued events, records responses."""
    protocol_version = "HTTP/1.1"
    queue = []
    results = []
    first_poll = None
    cond = threading.Condition()

    def log_message(self, *args):
        pass

    def do_GET(self):
        with self.cond:
            if RuntimeApi.first_poll is None:
                RuntimeApi.first_poll = time.perf_counter()
                self.cond.notify_all()
            while not self.queue:
                self.cond.wait()
            body = self.queue.pop(0)
            RuntimeApi.sent = time.perf_counter()
        self.send_response(200)
        for k, v in [("Lambda-Runtime-Aws-Request-Id", f"req-{len(self.results)}"),
                     ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000)),
                     ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:apigw-4xx"),
                     ("Content-Type", "application/json"), ("Content-Length", str(len(body)))]:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.cond:
            RuntimeApi.results.append((time.perf_counter() - RuntimeApi.sent, self.path.endswith("/error"), body))
            self.cond.notify_all()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the function's last poll is cut off when it is stopped


def invoke(body):
    with RuntimeApi.cond:
        n = len(RuntimeApi.results)
        RuntimeApi.queue.append(body)
        RuntimeApi.cond.notify_all()
        while len(RuntimeApi.results) == n:
            RuntimeApi.cond.wait()
        return RuntimeApi.results[-1]


def rss_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024


def function():
    sys.path.insert(0, ROOT)
    emulator = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "emulator", "serve.py")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    urls = json.loads(emulator.stdout.readline())
    import boto3
    sns = boto3.client("sns", endpoint_url=urls["moto"], region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
    topic = sns.create_topic(Name="bench")["TopicArn"]
    api = QuietServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.server_address[1]}",
               AWS_ENDPOINT_URL=urls["endpoint"], AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench",
               AWS_SECRET_ACCESS_KEY="bench", ALERT_TOPIC_ARN=topic, AWS_LAMBDA_FUNCTION_NAME="apigw-4xx",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
               AWS_LAMBDA_LOG_FORMAT="JSON", AWS_LAMBDA_LOG_LEVEL="warn")
    start = time.perf_counter()
    fn = subprocess.Popen([os.path.join(ROOT, "target", "release", "bootstrap")], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        with RuntimeApi.cond:
            while RuntimeApi.first_poll is None:
                RuntimeApi.cond.wait()
        init_ms = (RuntimeApi.first_poll - start) * 1000
        gen = os.path.join(SHARED, "gen_batch.py")

        def batch(n, seed, group, ok=False):
            raw = subprocess.run([sys.executable, gen, str(n), str(seed)], capture_output=True, check=True).stdout
            event = json.loads(raw)
            # gen_batch.py's log group, renamed so each row has windows of its own.
            import base64, gzip
            inner = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
            inner["logGroup"] = group
            if ok:  # keep one 4xx in twenty: an OK window
                for i, e in enumerate(inner["logEvents"]):
                    if i % 20:
                        e["message"] = e["message"].replace('"status": "4', '"status": "2')
            now_ms = int(time.time() * 1000) // 300_000 * 300_000 - 3_600_000
            for i, e in enumerate(inner["logEvents"]):
                e["timestamp"] = now_ms + i * 250_000 // max(n, 1)
            data = base64.b64encode(gzip.compress(json.dumps(inner).encode(), 6)).decode()
            return json.dumps({"awslogs": {"data": data}}).encode()

        cases = [
            ("10k events, OK window", batch(10_000, 3, "/bench/ok", ok=True)),
            ("10k events, crossing (first batch of a HIGH window)", batch(10_000, 1, "/bench/crossing")),
            ("10k events, same window again (no new alert)", batch(10_000, 5, "/bench/crossing")),
            ("1k events, crossing", batch(1_000, 2, "/bench/small")),
            ("100k events, crossing", batch(100_000, 4, "/bench/large")),
        ]
        first = True
        for name, body in cases:
            latency, failed, response = invoke(body)
            summary = json.loads(response) if not failed else {"error": response.decode()[:200]}
            rows.append((name + (" (cold: first invocation)" if first else ""), f"{latency * 1000:.0f}",
                         str(summary.get("aws_calls", "-")), str(summary.get("alerts", "-")),
                         f"{rss_hwm(fn.pid):.1f}"))
            first = False
    finally:
        fn.terminate()
        fn.wait(10)
        api.shutdown()
        emulator.stdin.close()
        emulator.wait(10)
    print("\n### The function (release bootstrap, local Runtime API, moto behind the CBOR translator)\n")
    print(f"Init (process start to first poll, SDK clients built): {init_ms:.1f} ms\n")
    print("| invocation | latency (ms) | AWS calls | alerts | peak RSS so far (MB) |\n|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def parallel():
    taskset = shutil.which("taskset")
    if not taskset or not {0, 1} <= os.sched_getaffinity(0):
        print("\n### Every core: skipped (needs taskset and CPUs 0 and 1)")
        return
    gen = os.path.join(SHARED, "gen_batch.py")
    files = []
    for seed in range(1, 9):
        path = os.path.join(WORK, f"parallel-{seed}.json")
        if not os.path.exists(path):
            with open(path, "wb") as f:
                subprocess.run([sys.executable, gen, "100000", str(seed)], stdout=f, stderr=subprocess.DEVNULL,
                               check=True)
        files.append(path)
    array = os.path.join(WORK, "parallel-array.json")
    if not os.path.exists(array):
        with open(array, "wb") as out:
            out.write(b"[" + b",".join(open(p, "rb").read().strip() for p in files) + b"]")
    binary = os.path.join(ROOT, "target", "release", "apigw-4xx")
    load = os.getloadavg()
    rows = []
    for name, inputs in (("8 files, 100k events each", files), ("1 array of the same 8 subscription events", [array])):
        cmd = [binary, "analyze"] + inputs
        # Same answer on one core and on two (the parallel merge is exact).
        outs = {cpus: subprocess.run([taskset, "-c", cpus] + cmd, capture_output=True, check=True).stdout
                for cpus in ("0", "0,1")}
        if outs["0"] != outs["0,1"]:
            raise SystemExit(f"{name}: output differs between one core and two")
        one, two = [], []
        for _ in range(RUNS):
            one.append(wall([taskset, "-c", "0"] + cmd))
            two.append(wall([taskset, "-c", "0,1"] + cmd))
        m1, m2 = statistics.median(one), statistics.median(two)
        size = sum(os.path.getsize(p) for p in inputs)
        rows.append((name, f"{size / 1e6:.0f} MB", f"{m1 * 1000:.0f}", f"{m2 * 1000:.0f}", f"{m2 / m1:.2f}"))
    print("\n### Every core: one core vs two (median of %d alternating runs; target: two ≤ 0.65 × one)\n" % RUNS)
    print("Load average before: %.2f %.2f %.2f\n" % load)
    print("| input | size | `taskset -c 0` (ms) | `taskset -c 0,1` (ms) | ratio |\n|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    which = sys.argv[1:] or ["side", "export", "function", "memory", "parallel"]
    build(which)
    print(f"Machine: {os.cpu_count()} cores, {os.uname().sysname} {os.uname().machine}; runs: {RUNS}")
    if "side" in which:
        side_by_side()
    if "export" in which:
        export_1gb()
    if "function" in which:
        function()
    if "memory" in which:
        memory()
    if "parallel" in which:
        parallel()
