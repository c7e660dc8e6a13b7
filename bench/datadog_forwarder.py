"""The Datadog Forwarder's handler body on the delivery bench/parse.py times, in the same interpreter.

    python bench/datadog_forwarder.py --forwarder-src PATH [--lines 10000] [--repeat 5]

PATH is one of: a git directory of DataDog/datadog-serverless-functions (a bare mirror will do;
``aws/logs_monitoring`` of ``--ref``, default HEAD, is extracted once into
build/datadog-forwarder/<commit>/), a checkout of that repository, or an ``aws/logs_monitoring``
directory already extracted. ``requests-futures``, the one forwarder dependency our virtualenv
lacks, is installed with pip into build/datadog-forwarder/deps when it cannot be imported.

The delivery is built exactly as ``handler_body`` in bench/parse.py builds it: ``lambda_delivery(n,
Random(11))`` encoded as one CloudWatch subscription payload of log group /aws/lambda/support-agent.
Timed: ``lambda_function.datadog_forwarder(event, context)``, the function the Lambda entry point
wraps: parse (base64 + gunzip + json), enrich, transform, split (json.loads of every message),
match, JSON serialisation, batching, scrubbing, gzip, the POSTs through requests-futures / requests,
and the enhanced-metric parsing of every log. Median of ``--repeat`` runs after one warm-up, each
followed by the same ``baseline()`` as parse.py (base64 + gunzip + json.loads of the delivery, then
json.loads tried on every message). Our handler body is run in the same process by calling
parse.py's ``handler_body`` unchanged, so both ratios come from one run.

Stubbed, and only this (the forwarder's own tests stub the same modules):
  * the network: ``urllib3.HTTPConnectionPool.urlopen`` answers 202 to every request, so
    everything above the socket (requests-futures' thread pool, requests' session and adapter,
    the forwarder's batching, serialisation, scrubbing and gzip) runs as in the Lambda;
  * ``datadog_lambda.wrapper.datadog_lambda_wrapper``: identity (we call the wrapped function);
  * ``datadog_lambda.metric.lambda_metric``: counts the points (the layer would buffer them for
    a flush after the handler returns);
  * ``datadog.api``: an attribute holder (lambda_function only sets its key and host);
  * ``trace_forwarder.connection.TraceConnection``: its real class loads a Go library that is
    not in the repository; it is used only for logs that are Datadog traces (none here).
AWS: boto3 clients are created with dummy credentials and IMDS disabled; tag fetching and
failed-event storage are off (their defaults), so no AWS call is made.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import importlib
import importlib.util
import io
import json
import logging
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "datadog-forwarder"
MARKER = ".forwarder-commit"
REQUESTS_FUTURES = "requests-futures==1.1.0"
FORWARDER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:datadog-forwarder"

# What the forwarder reads at import. Its defaults already keep tag fetching, S3 caches and
# failed-event storage off; they are set anyway so that the environment cannot turn them on.
FORWARDER_ENV = {
    "DD_API_KEY": "0" * 32,  # 32 characters pass the format check; the stub answers the validation
    "DD_SITE": "datadoghq.com",
    "DD_LOG_LEVEL": "INFO",
    "DD_FETCH_LAMBDA_TAGS": "false",
    "DD_FETCH_LOG_GROUP_TAGS": "false",
    "DD_FETCH_S3_TAGS": "false",
    "DD_STORE_FAILED_EVENTS": "false",
    "DD_ENHANCED_METRICS": "false",  # the template's default (read by the layer only)
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_NAME": "datadog-forwarder",
}
# Settings that would make the forwarder call AWS at import or per invocation.
FORWARDER_ENV_UNSET = [
    "DD_API_KEY_SECRET_ARN",
    "DD_API_KEY_SSM_NAME",
    "DD_KMS_API_KEY",
    "DD_ADDITIONAL_TARGET_LAMBDAS",
    "DD_SQS_QUEUE_URL",
    "DD_S3_BUCKET_NAME",
]


@dataclass
class Source:
    directory: Path
    commit: str
    describe: str


def run_git(where: list[str], *args: str) -> bytes:
    exe = shutil.which("git") or "git"
    return subprocess.run(  # noqa: S603 - fixed git subcommands on a path the user gave
        [exe, *where, *args], check=True, capture_output=True
    ).stdout


def git_text(where: list[str], *args: str) -> str:
    try:
        return run_git(where, *args).decode().strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"


def git_dir(path: Path) -> list[str]:
    return [f"--git-dir={path}"]


def work_tree(path: Path) -> list[str]:
    return ["-C", str(path)]


def resolve_source(path: Path, ref: str) -> Source:
    """The forwarder's aws/logs_monitoring directory and the commit it comes from."""
    path = path.resolve()
    if (path / "lambda_function.py").is_file():  # already extracted
        marker = path / MARKER
        if marker.is_file():
            commit, _, describe = marker.read_text().strip().partition(" ")
            return Source(path, commit, describe)
        where = work_tree(path)  # inside a checkout, or the commit is unknown
        return Source(
            path, git_text(where, "rev-parse", "HEAD"), git_text(where, "describe", "--tags", "--dirty")
        )
    if (path / "aws" / "logs_monitoring" / "lambda_function.py").is_file():  # a checkout
        where = work_tree(path)
        return Source(
            path / "aws" / "logs_monitoring",
            git_text(where, "rev-parse", "HEAD"),
            git_text(where, "describe", "--tags", "--dirty"),
        )
    commit = run_git(git_dir(path), "rev-parse", f"{ref}^{{commit}}").decode().strip()
    describe = git_text(git_dir(path), "describe", "--tags", commit)
    target = CACHE / commit[:12]
    if not (target / "lambda_function.py").is_file():
        archive = run_git(git_dir(path), "archive", "--format=tar", f"{commit}:aws/logs_monitoring")
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
        (target / MARKER).write_text(f"{commit} {describe}\n")
    return Source(target, commit, describe)


def ensure_requests_futures() -> None:
    try:
        importlib.import_module("requests_futures.sessions")
    except ImportError:
        deps = CACHE / "deps"
        if not (deps / "requests_futures").is_dir():
            subprocess.run(  # noqa: S603 - pip of this interpreter, a pinned requirement
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--no-deps",
                    "-t",
                    str(deps),
                    REQUESTS_FUTURES,
                ],
                check=True,
            )
        sys.path.append(str(deps))
        importlib.invalidate_caches()
        importlib.import_module("requests_futures.sessions")


@dataclass
class Network:
    """Below requests: every HTTP request the forwarder makes ends here, answered 202/200."""

    posts: int = 0
    sent: int = 0
    others: int = 0
    bodies: list[bytes] = field(default_factory=list)
    urls: set[str] = field(default_factory=set)

    def reset(self) -> None:
        self.posts, self.sent, self.bodies = 0, 0, []

    def install(self) -> None:
        import urllib3
        from urllib3.connectionpool import HTTPConnectionPool

        network = self

        def urlopen(
            pool: HTTPConnectionPool, method: str, url: str, body: Any = None, headers: Any = None, **_: Any
        ) -> urllib3.HTTPResponse:
            if method == "POST":
                data = body if isinstance(body, bytes) else bytes(body or b"")
                network.posts += 1
                network.sent += len(data)
                network.bodies.append(data)
                network.urls.add(f"{pool.scheme}://{pool.host}:{pool.port}{url}")
                status, reason, content = 202, "Accepted", b"{}"
            else:
                network.others += 1
                status, reason, content = 200, "OK", b'{"valid":true}'
            return urllib3.HTTPResponse(
                body=io.BytesIO(content),
                headers={"Content-Type": "application/json", "Content-Length": str(len(content))},
                status=status,
                reason=reason,
                preload_content=False,
                decode_content=False,
                request_method=method,
                request_url=url,
            )

        mock.patch.object(HTTPConnectionPool, "urlopen", urlopen).start()  # for the rest of the run


@dataclass
class Layer:
    """What the Datadog Lambda layer and the Go trace library would receive."""

    metric_points: int = 0
    trace_sends: int = 0

    def install(self) -> None:
        layer = self

        def lambda_metric(
            name: str, value: Any, timestamp: Any = None, tags: Any = None, force_async: bool = False
        ) -> None:
            layer.metric_points += 1

        def datadog_lambda_wrapper(func: Callable[..., Any]) -> Callable[..., Any]:
            return func

        class TraceConnection:
            def __init__(self, root_url: str, api_key: str, insecure_skip_verify: bool) -> None:
                pass

            def send_traces(self, serialized: str) -> None:
                layer.trace_sends += 1

        modules: dict[str, dict[str, Any]] = {
            "datadog": {"api": types.SimpleNamespace()},
            "datadog_lambda": {},
            "datadog_lambda.wrapper": {"datadog_lambda_wrapper": datadog_lambda_wrapper},
            "datadog_lambda.metric": {"lambda_metric": lambda_metric},
            "trace_forwarder.connection": {"TraceConnection": TraceConnection},
        }
        for name, attributes in modules.items():
            module = types.ModuleType(name)
            module.__dict__.update(attributes)
            sys.modules[name] = module
        package = vars(sys.modules["datadog_lambda"])
        package["wrapper"] = sys.modules["datadog_lambda.wrapper"]
        package["metric"] = sys.modules["datadog_lambda.metric"]


def load_parse_bench() -> types.ModuleType:
    """bench/parse.py as a module (it puts lambdas/ on sys.path, as it does when run)."""
    spec = importlib.util.spec_from_file_location("bench_parse", ROOT / "bench" / "parse.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_parse"] = module
    spec.loader.exec_module(module)
    return module


def timed(
    body: Callable[[], None], baseline: Callable[[], None], repeat: int, reset: Callable[[], None]
) -> tuple[float, float]:
    """Median seconds of body and of baseline, interleaved as in bench/parse.py handler_body."""
    body()
    body_times, base_times = [], []
    for _ in range(repeat):
        reset()
        t0 = time.perf_counter()
        body()
        t1 = time.perf_counter()
        baseline()
        body_times.append(t1 - t0)
        base_times.append(time.perf_counter() - t1)
    return statistics.median(body_times), statistics.median(base_times)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--forwarder-src", type=Path, required=True, help="git dir, checkout or extracted dir")
    cli.add_argument("--ref", default="HEAD", help="commit to extract from a git dir (default HEAD)")
    cli.add_argument("--lines", type=int, default=10_000)
    cli.add_argument("--repeat", type=int, default=5)
    args = cli.parse_args()

    source = resolve_source(args.forwarder_src, args.ref)
    bench = load_parse_bench()  # before the forwarder goes first on sys.path
    from vectadb.local.cloudwatch import decoded_delivery, encode

    ensure_requests_futures()
    for name in FORWARDER_ENV_UNSET:
        os.environ.pop(name, None)
    os.environ.update(FORWARDER_ENV)
    network, layer = Network(), Layer()
    network.install()
    layer.install()
    root_level = logging.getLogger().level
    sys.path.insert(0, str(source.directory))
    lambda_function = importlib.import_module("lambda_function")  # validates the key through the stub
    forwarder_level = logging.getLogger().level  # the forwarder sets the root logger to DD_LOG_LEVEL
    settings = importlib.import_module("settings")
    # The forwarder's own modules, loaded from its source: their attributes are unknown to mypy.
    enhanced: Any = importlib.import_module("enhanced_lambda_metrics")
    telemetry: Any = importlib.import_module("telemetry")

    n = args.lines
    lines = bench.lambda_delivery(n, random.Random(11))
    payload = encode(
        decoded_delivery(
            "/aws/lambda/support-agent",
            "2026/01/07/[$LATEST]abc",
            [(1767805200000 + i, line) for i, line in enumerate(lines)],
        )
    )
    context = types.SimpleNamespace(
        invoked_function_arn=FORWARDER_ARN,
        function_name="datadog-forwarder",
        function_version="$LATEST",
        memory_limit_in_mb="1024",
        aws_request_id="0b0c5d4e-0000-4000-8000-000000000000",
        get_remaining_time_in_millis=lambda: 900_000,
    )

    def forwarder_body() -> None:
        lambda_function.datadog_forwarder(payload, context)

    def baseline() -> None:
        data = json.loads(gzip.decompress(base64.b64decode(payload["awslogs"]["data"])))
        for event in data["logEvents"]:
            with contextlib.suppress(ValueError):
                json.loads(event["message"])

    def reset() -> None:
        network.reset()
        layer.metric_points = 0

    print(
        f"Datadog Forwarder aws/logs_monitoring @ {source.commit} ({source.describe}, "
        f"DD_FORWARDER_VERSION {settings.DD_FORWARDER_VERSION}) from {source.directory}"
    )
    print(f"Python {platform.python_version()}; {n} events in one CloudWatch delivery, as bench/parse.py")

    # Ours first, with the root logger as it was before the forwarder set it.
    logging.getLogger().setLevel(root_level)
    others = network.others
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        bench.handler_body(n, args.repeat)
    logging.getLogger().setLevel(forwarder_level)
    print("\n-- VectaDB: bench/parse.py handler_body, unchanged --")
    print(captured.getvalue().rstrip())
    if network.others != others:
        print(f"   (!) {network.others - others} HTTP requests reached urllib3 during our handler body")
    ours = re.search(r"handler body\s*:\s*([\d.]+)", captured.getvalue())
    ours_base = re.search(r"baseline\s*:\s*([\d.]+)", captured.getvalue())

    results = {}
    for label, submit in (("forwarder", True), ("forwarder, no enhanced metrics", False)):
        enhanced.DD_SUBMIT_ENHANCED_METRICS = submit
        telemetry.DD_SUBMIT_ENHANCED_METRICS = submit
        body_s, base_s = timed(forwarder_body, baseline, args.repeat, reset)
        results[label] = (n / body_s, n / base_s)
        forwarded = sum(len(json.loads(gzip.decompress(b))) for b in network.bodies)
        variant = "" if submit else ", datadog_lambda absent"
        print(f"\n-- Datadog Forwarder: datadog_forwarder(event, context){variant} --")
        print(f"handler body   : {n / body_s:9.0f} lines/s (median of {args.repeat}), network stubbed")
        print(
            f"baseline       : {n / base_s:9.0f} lines/s (b64 + gunzip + json.loads, json.loads per message)"
        )
        print(f"ratio          : {base_s / body_s:9.2f}")
        print(
            f"sent           : {network.sent / 1e6:.2f} MB in {network.posts} POSTs (gzip) to "
            f"{', '.join(sorted(network.urls))}; {forwarded} log events in them"
        )
        print(
            f"layer          : {layer.metric_points} points to lambda_metric, {layer.trace_sends} trace sends"
        )

    print("\n-- summary (same process, same delivery, same baseline function) --")
    if ours and ours_base:
        print(f"VectaDB handler body          : ratio {float(ours[1]) / float(ours_base[1]):.2f}")
    for label, (rate, base_rate) in results.items():
        print(f"{label:<30}: ratio {rate / base_rate:.2f}")
    if ours:
        full = results["forwarder"][0]
        print(f"VectaDB / forwarder speed     : {float(ours[1]) / full:.2f} x")


if __name__ == "__main__":
    main()
