#!/usr/bin/env python3
"""The benchmark driver behind scripts/bench: starts the servers, runs wrk, writes the table.

Every server listens on 127.0.0.1 only; every load run is bounded by wrk's -d.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import time
from pathlib import Path

JSON_BODY = '{"name":"Ada","items":[1,2,3,4.5,6,7,8,9,10,11]}'
PORTS = {"routelet": 3201, "wasmtime": 3202, "wasmtime-json": 3203, "native": 3204,
         "routelet-js": 3205, "workerd": 3206}


def wait_for_200(port, path, deadline_s=120.0, method="GET", body=b""):
    """Polls until GET path answers 200; returns the moment it did."""
    end = time.monotonic() + deadline_s
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(request)
                answer = s.recv(64)
                if answer.startswith(b"HTTP/1.1 200"):
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.001)
    raise SystemExit(f"bench: nothing answered 200 on 127.0.0.1:{port}{path}")


def start(cmd, env=None):
    return subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def to_ms(value):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url, args, script=None):
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=args.duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"bench: {url} answered {non2xx.group(1)} errors:\n{out}")
    return {"rps": rps, "p50": p50, "p99": p99}


def throughput(args, work):
    routelet_dist = work / "dist-bench"
    shutil.rmtree(routelet_dist, ignore_errors=True)
    (routelet_dist / "pages/api").mkdir(parents=True)
    hello = Path(args.components) / "bench_hello.wasm"
    json_wasm = Path(args.components) / "bench_json.wasm"
    shutil.copy(hello, routelet_dist / "pages/api/hello.wasm")
    shutil.copy(json_wasm, routelet_dist / "pages/api/json.wasm")
    post = work / "post.lua"
    post.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{JSON_BODY}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    data = work / "data-bench"
    procs = {
        "routelet": start(
            [args.routelet, "serve", str(routelet_dist), "--listen", f"127.0.0.1:{PORTS['routelet']}",
             "--data-dir", str(data)],
            env={"RUST_LOG": args.routelet_log},
        ),
        "wasmtime": start([args.wasmtime, "serve", "-Scli", "--addr", f"127.0.0.1:{PORTS['wasmtime']}", str(hello)]),
        "wasmtime-json": start(
            [args.wasmtime, "serve", "-Scli", "--addr", f"127.0.0.1:{PORTS['wasmtime-json']}", str(json_wasm)]
        ),
        "native": start([args.native, f"127.0.0.1:{PORTS['native']}"]),
    }
    try:
        urls = {
            ("hello", "routelet"): f"http://127.0.0.1:{PORTS['routelet']}/api/hello",
            ("hello", "wasmtime"): f"http://127.0.0.1:{PORTS['wasmtime']}/api/hello",
            ("hello", "native"): f"http://127.0.0.1:{PORTS['native']}/api/hello",
            ("json", "routelet"): f"http://127.0.0.1:{PORTS['routelet']}/api/json",
            ("json", "wasmtime"): f"http://127.0.0.1:{PORTS['wasmtime-json']}/api/json",
            ("json", "native"): f"http://127.0.0.1:{PORTS['native']}/api/json",
        }
        for (route, _), url in urls.items():
            port = int(url.split(":")[2].split("/")[0])
            path = "/" + url.split("/", 3)[3]
            if route == "json":
                wait_for_200(port, path, method="POST", body=JSON_BODY.encode())
            else:
                wait_for_200(port, path)
        results = {key: [] for key in urls}
        for round_no in range(args.rounds):
            for route in ["hello", "json"]:
                order = ["routelet", "wasmtime", "native"]
                order = order[round_no % 3:] + order[: round_no % 3]
                for server in order:
                    script = post if route == "json" else None
                    url = urls[(route, server)]
                    wrk(url, argparse.Namespace(**{**vars(args), "duration": 1}), script)  # warm up
                    result = wrk(url, args, script)
                    print(f"bench: round {round_no + 1} {route:5} {server:8} "
                          f"{result['rps']:>10.0f} req/s  p50 {result['p50']:.2f} ms  "
                          f"p99 {result['p99']:.2f} ms", flush=True)
                    results[(route, server)].append(result)
        medians = {
            key: {m: statistics.median(r[m] for r in runs) for m in ["rps", "p50", "p99"]}
            for key, runs in results.items()
        }
        ratios = {}
        for route in ["hello", "json"]:
            # Ratios of medians, and the median of each round's own ratio (robust to drift).
            ratios[route] = {
                "vs_wasmtime": statistics.median(
                    a["rps"] / b["rps"]
                    for a, b in zip(results[(route, "routelet")], results[(route, "wasmtime")])
                ),
                "vs_native": statistics.median(
                    a["rps"] / b["rps"]
                    for a, b in zip(results[(route, "routelet")], results[(route, "native")])
                ),
            }
        return medians, ratios, results
    finally:
        for proc in procs.values():
            stop(proc)


def routelet_start(args, dist, data, port, path):
    """Seconds from process start to the first 200 on path, and the process's RSS then."""
    started = time.monotonic()
    proc = start([args.routelet, "serve", str(dist), "--listen", f"127.0.0.1:{port}",
                  "--data-dir", str(data)], env={"RUST_LOG": args.routelet_log})
    try:
        ready = wait_for_200(port, path, deadline_s=600)
        rss_kb = 0
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
        return ready - started, rss_kb / 1024
    finally:
        stop(proc)


def cold_start(args, work):
    dist = work / "blog-api-dist"
    subprocess.run([args.routelet, "build", "examples/blog-api", "--out", str(dist)], check=True,
                   capture_output=True)
    data = work / "data-cold"
    cold = []
    warm = []
    for _ in range(args.start_runs):
        shutil.rmtree(data, ignore_errors=True)
        cold.append(routelet_start(args, dist, data, 3210, "/api")[0])
        warm.append(routelet_start(args, dist, data, 3210, "/api")[0])
    return statistics.median(cold), statistics.median(warm), len(list(dist.glob("pages/**/*.wasm")))


def with_custom_section(wasm, name):
    """The component with one more custom section: same code, another SHA-256."""
    payload = len(name).to_bytes(1, "little") + name.encode()
    size = len(payload)
    leb = bytearray()
    while True:
        byte = size & 0x7F
        size >>= 7
        leb.append(byte | (0x80 if size else 0))
        if not size:
            break
    return wasm + b"\x00" + bytes(leb) + payload


def many_routes(args, work, count=1000):
    hello = (Path(args.components) / "bench_hello.wasm").read_bytes()
    results = {}
    for distinct in [True, False]:
        dist = work / f"dist-{count}-{'distinct' if distinct else 'shared'}"
        shutil.rmtree(dist, ignore_errors=True)
        (dist / "pages/api").mkdir(parents=True)
        for i in range(count):
            bytes_ = with_custom_section(hello, f"route-{i}") if distinct else hello
            (dist / f"pages/api/r{i}.wasm").write_bytes(bytes_)
        data = work / f"data-{dist.name}"
        shutil.rmtree(data, ignore_errors=True)
        cold_s, cold_rss = routelet_start(args, dist, data, 3211, "/api/r999")
        warm_s, warm_rss = routelet_start(args, dist, data, 3211, "/api/r999")
        results["distinct" if distinct else "shared"] = {
            "cold_s": cold_s, "cold_rss": cold_rss, "warm_s": warm_s, "warm_rss": warm_rss,
        }
    return results


def rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def javascript(args, work):
    """The JS hello through the (req, res) shim on Routelet, beside the Rust hello on the same
    host and the same JS on workerd: throughput, memory per instance, size, cold and warm start."""
    dist = work / "dist-js"
    built = subprocess.run([args.routelet, "build", "bench/components/hello-js", "--out", str(dist)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        raise SystemExit(f"bench: building bench/components/hello-js failed:\n{built.stderr}")
    shutil.copy(Path(args.components) / "bench_hello.wasm", dist / "pages/api/rust.wasm")
    component = dist / "pages/api/hello.wasm"
    data = work / "data-js"
    shutil.rmtree(data, ignore_errors=True)
    # Cold (empty compile cache) and warm starts: process start to the first 200.
    cold_s, _ = routelet_start(args, dist, data, PORTS["routelet-js"], "/api/hello")
    warm_s, _ = routelet_start(args, dist, data, PORTS["routelet-js"], "/api/hello")
    example = work / "blog-api-js-dist"
    subprocess.run([args.routelet, "build", "examples/blog-api-js", "--out", str(example)],
                   check=True, capture_output=True)
    example_data = work / "data-blog-api-js"
    shutil.rmtree(example_data, ignore_errors=True)
    routelet_start(args, example, example_data, PORTS["routelet-js"], "/api")
    example_warm = statistics.median(
        routelet_start(args, example, example_data, PORTS["routelet-js"], "/api")[0]
        for _ in range(args.start_runs))

    workerd_dir = Path("bench/workerd")
    procs = {
        "routelet": start([args.routelet, "serve", str(dist), "--listen",
                           f"127.0.0.1:{PORTS['routelet-js']}", "--data-dir", str(data)],
                          env={"RUST_LOG": args.routelet_log}),
        "workerd": start([args.workerd, "serve", str(workerd_dir / "config.capnp"), "--socket-addr",
                          f"http=127.0.0.1:{PORTS['workerd']}"]),
    }
    try:
        urls = {
            "js": f"http://127.0.0.1:{PORTS['routelet-js']}/api/hello",
            "rust": f"http://127.0.0.1:{PORTS['routelet-js']}/api/rust",
            "workerd": f"http://127.0.0.1:{PORTS['workerd']}/",
        }
        wait_for_200(PORTS["routelet-js"], "/api/hello")
        wait_for_200(PORTS["routelet-js"], "/api/rust")
        wait_for_200(PORTS["workerd"], "/")
        results = {key: [] for key in urls}
        for round_no in range(args.rounds):
            order = list(urls)
            order = order[round_no % 3:] + order[: round_no % 3]
            for key in order:
                wrk(urls[key], argparse.Namespace(**{**vars(args), "duration": 1}))  # warm up
                result = wrk(urls[key], args)
                print(f"bench: round {round_no + 1} hello {key:8} {result['rps']:>10.0f} req/s  "
                      f"p50 {result['p50']:.2f} ms  p99 {result['p99']:.2f} ms", flush=True)
                results[key].append(result)
        medians = {
            key: {m: statistics.median(r[m] for r in runs) for m in ["rps", "p50", "p99"]}
            for key, runs in results.items()
        }
        ratios = {
            "js_vs_rust": statistics.median(a["rps"] / b["rps"]
                                            for a, b in zip(results["js"], results["rust"])),
            "js_vs_workerd": statistics.median(a["rps"] / b["rps"]
                                               for a, b in zip(results["js"], results["workerd"])),
        }
        # Memory per instance: RSS with `held` JS instances alive at once, less RSS at rest.
        held = 32
        pid = procs["routelet"].pid
        idle = rss_mb(pid)
        slow = f"http://127.0.0.1:{PORTS['routelet-js']}/api/slow"
        clients = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", slow]) for _ in range(held)]
        time.sleep(0.7)
        busy = rss_mb(pid)
        for client in clients:
            client.wait(timeout=30)
        per_instance = (busy - idle) / held
        return {
            "medians": medians, "ratios": ratios, "per_instance_mb": per_instance,
            "rss_after_mb": rss_mb(pid), "held": held,
            "size_mb": component.stat().st_size / 1e6, "cold_s": cold_s, "warm_s": warm_s,
            "example_warm_s": example_warm,
            "workerd_rss_mb": rss_mb(procs["workerd"].pid),
        }
    finally:
        for proc in procs.values():
            stop(proc)


def router_lookup(args):
    medians = {}
    root = Path(args.criterion) / "lookup_10000_routes"
    for estimates in sorted(root.glob("*/new/estimates.json")):
        name = estimates.parent.parent.name.replace("_", "/")
        medians[name] = json.loads(estimates.read_text())["median"]["point_estimate"]
    return medians


def machine():
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return (f"{cpu}, {os.cpu_count()} logical cores, {mem_kb / 1024 / 1024:.1f} GiB RAM, "
            f"Linux {platform.release()}, load average at start {os.getloadavg()[0]:.2f}")


def main():
    parser = argparse.ArgumentParser()
    for flag in ["routelet", "wasmtime", "native", "workerd", "components", "criterion", "work",
                 "out"]:
        parser.add_argument(f"--{flag}", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--start-runs", type=int, default=5)
    parser.add_argument("--routelet-log", default="info",
                        help="RUST_LOG for routelet serve (its per-request access log is on at info)")
    parser.add_argument("--skip", default="",
                        help="comma-separated: throughput,start,routes,js")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    desc = machine()
    wasmtime_version = subprocess.run([args.wasmtime, "--version"], capture_output=True,
                                      text=True).stdout.strip()
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {desc}.",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; `{wasmtime_version}`; load from "
        f"`wrk -t{args.threads} -c{args.connections} -d{args.duration}s` on 127.0.0.1, servers "
        f"alternating, {args.rounds} rounds, medians (ratios: median of each round's ratio). "
        f"Routelet ran with RUST_LOG={args.routelet_log}.",
        "",
    ]
    if "throughput" not in skip:
        medians, ratios, _ = throughput(args, work)
        lines += [
            "| route | server | req/s | p50 ms | p99 ms |",
            "|---|---|---:|---:|---:|",
        ]
        for route in ["hello", "json"]:
            for server in ["routelet", "wasmtime", "native"]:
                m = medians[(route, server)]
                label = {"routelet": "Routelet", "wasmtime": "wasmtime serve",
                         "native": "native hyper"}[server]
                lines.append(f"| {route} | {label} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} |")
        lines += ["", "| route | Routelet / wasmtime serve (req/s) | Routelet / native (req/s) |",
                  "|---|---:|---:|"]
        for route in ["hello", "json"]:
            lines.append(f"| {route} | {ratios[route]['vs_wasmtime']:.2f}× | "
                         f"{ratios[route]['vs_native']:.2f}× |")
        lines.append("")
    if "start" not in skip:
        cold, warm, routes = cold_start(args, work)
        lines += [
            f"Cold start of examples/blog-api ({routes} components), process start to first 200 "
            f"on /api, median of {args.start_runs}: **{cold * 1000:.0f} ms** with an empty compile "
            f"cache, **{warm * 1000:.0f} ms** with a warm one.",
            "",
        ]
    if "routes" not in skip:
        many = many_routes(args, work)
        lines += [
            "| 1,000 routes | start, cold cache | RSS | start, warm cache | RSS |",
            "|---|---:|---:|---:|---:|",
        ]
        for kind, label in [("distinct", "1,000 distinct components"),
                            ("shared", "1,000 routes, one component")]:
            r = many[kind]
            lines.append(f"| {label} | {r['cold_s']:.2f} s | {r['cold_rss']:.0f} MB | "
                         f"{r['warm_s']:.2f} s | {r['warm_rss']:.0f} MB |")
        lines.append("")
    if "js" not in skip:
        js = javascript(args, work)
        m = js["medians"]
        workerd_version = subprocess.run([args.workerd, "--version"], capture_output=True,
                                         text=True).stdout.strip()
        lines += [
            f"JavaScript: the same hello through Next.js's `(req, res)` on Routelet "
            f"(bench/components/hello-js), beside the Rust hello on the same host, and as a Worker "
            f"on `{workerd_version}`, same run, same wrk settings:",
            "",
            "| hello | req/s | p50 ms | p99 ms |",
            "|---|---:|---:|---:|",
            f"| JS on Routelet | {m['js']['rps']:.0f} | {m['js']['p50']:.2f} | {m['js']['p99']:.2f} |",
            f"| Rust on Routelet | {m['rust']['rps']:.0f} | {m['rust']['p50']:.2f} | "
            f"{m['rust']['p99']:.2f} |",
            f"| JS on workerd | {m['workerd']['rps']:.0f} | {m['workerd']['p50']:.2f} | "
            f"{m['workerd']['p99']:.2f} |",
            "",
            f"JS / Rust on Routelet: **{js['ratios']['js_vs_rust']:.1%}** of the requests/s; "
            f"JS on Routelet / JS on workerd: **{js['ratios']['js_vs_workerd']:.1%}**. "
            f"Memory per JS instance ({js['held']} held at once, RSS difference): "
            f"**{js['per_instance_mb']:.1f} MB**; host RSS after the run {js['rss_after_mb']:.0f} MB "
            f"(workerd {js['workerd_rss_mb']:.0f} MB). Component {js['size_mb']:.1f} MB; start to "
            f"first 200 with a cold compile cache {js['cold_s'] * 1000:.0f} ms, warm "
            f"{js['warm_s'] * 1000:.0f} ms; examples/blog-api-js (16 routes, one component) warm "
            f"start, median of {args.start_runs}: **{js['example_warm_s'] * 1000:.0f} ms**.",
            "",
        ]
    lookup = router_lookup(args)
    if lookup:
        lines.append("Router lookup with 10,000 routes (criterion, median): " + ", ".join(
            f"`{path}` {ns:.0f} ns" for path, ns in lookup.items()) + ".")
        lines.append("")
    text = "\n".join(lines)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
