#!/usr/bin/env python3
"""Side-by-side cost of the library: each measurement runs with and without the preload, interleaved in one run.
A call's cost is the ratio of the best per-call time of each side (the noise on a shared machine only ever adds
time), with the median ratio beside it; start and memory are medians. Each figure prints its SPEC section 8 target."""
import json, os, resource, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "dist", "lib_iron_function.so")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))
WORK = os.path.join(ROOT, "bench", ".work")

def compile_probe(name="open_close", flags=()):
    os.makedirs(WORK, exist_ok=True)
    exe = os.path.join(WORK, name)
    subprocess.run(["gcc", "-O2", *flags, "-o", exe, os.path.join(ROOT, "bench", name + ".c")], check=True)
    return exe

def env_with(policy, extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "IRON_FUNCTION_POLICY", "IRON_LOG")}
    if policy:
        env["LD_PRELOAD"] = LIB
        env["IRON_FUNCTION_POLICY"] = policy
    env.update(extra or {})
    return env

def wall(cmd, env, repeat):
    """Median wall time of `repeat` runs of a whole command, and the largest peak RSS."""
    times, rss = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
        if p.returncode != 0:
            sys.exit(f"{cmd} failed with {p.returncode}")
    return statistics.median(times)

def peak_rss_kib(cmd, policy):
    # only the measured program is preloaded: time itself must not start it under create_child_process block
    preload = [f"LD_PRELOAD={LIB}", f"IRON_FUNCTION_POLICY={policy}"] if policy else []
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "/usr/bin/env"] + preload + cmd, env=env_with(None),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) if os.path.exists("/usr/bin/time") else None
    if p is None:
        return None
    try:
        return int(p.stderr.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None

def side_by_side(name, measure, unit, limit, best=True):
    """best: a call's cost, the ratio of the best of each side; else (a start) the ratio of the medians."""
    base, lib = [], []
    for _ in range(ROUNDS):
        base.append(measure(None))
        lib.append(measure(POLICY))
    b, l = (min(base), min(lib)) if best else (statistics.median(base), statistics.median(lib))
    ratio = l / b
    median_ratio = statistics.median([y / x for x, y in zip(base, lib)])
    verdict = "ok" if ratio <= limit else "OVER"
    kind = "best" if best else "median"
    print(f"{name:<40} without {b:9.1f} {unit:<2} with {l:9.1f} {unit:<2} {kind:>6} ratio {ratio:5.3f} "
          f"(pairs' median {median_ratio:5.3f})  target <= {limit:.2f}: {verdict}")
    return ratio

if not os.path.exists(LIB):
    sys.exit(f"{LIB} is missing: run ./build.sh first")
probe = compile_probe()
connect_probe = compile_probe("loopback_connect")
writer = compile_probe("write_loop")
# a handler outside Lambda: read_handler is armed from the start, so every open for reading is judged by it too
task = os.path.join(WORK, "task")
os.makedirs(task, exist_ok=True)
open(os.path.join(task, "app.py"), "w").close()
ARMED = {"_HANDLER": "app.handler", "LAMBDA_TASK_ROOT": task}
python = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True).stdout.strip()
policy_file = tempfile.NamedTemporaryFile("w", suffix=".json", dir=WORK, delete=False)
json.dump({"read_write_tmp": "block", "create_child_process": "block", "read_handler": "block",
           "outbound_connectivity": {"action": "block", "exceptions": ["aws"]}}, policy_file)
policy_file.close()
POLICY = policy_file.name
# the file controls allow (the others block): the file hooks have nothing to judge and skip the runtime
files_allow_file = os.path.join(WORK, "files-allow.json")
with open(files_allow_file, "w") as f:
    json.dump({"read_write_tmp": "allow", "create_child_process": "block", "read_handler": "allow",
               "outbound_connectivity": {"action": "block", "exceptions": ["aws"]}}, f)

refused_probe = compile_probe("refused_connect")
# a longer allowed path: eight components, still outside every covered root
deep = os.path.join(WORK, "a", "b", "c", "d", "e", "f")
os.makedirs(deep, exist_ok=True)
deep_file = os.path.join(deep, "file")
open(deep_file, "w").close()

def per_call(cmd, policy_env):
    return float(subprocess.run(cmd, env=policy_env, capture_output=True, text=True, check=True).stdout)

print(f"lib_iron_function.so, every control block; {ROUNDS} interleaved rounds\n")
side_by_side("open+close of /etc/hostname", lambda p: per_call([probe, "/etc/hostname", "200000"], env_with(p)), "ns", 1.10)
side_by_side(f"open+close of a {deep_file.count('/')}-component path", lambda p: per_call([probe, deep_file, "200000"], env_with(p)), "ns", 1.10)
side_by_side("refused loopback TCP connect", lambda p: per_call([refused_probe, "20000"], env_with(p)), "ns", 1.05)
side_by_side("loopback TCP connect (+accept, close)", lambda p: per_call([connect_probe, "5000"], env_with(p)), "ns", 1.05)
side_by_side("open+close, read_handler armed", lambda p: per_call([probe, "/etc/hostname", "200000"], env_with(p, ARMED)), "ns", 1.10)
side_by_side("open+close, file controls allow", lambda p: per_call([probe, "/etc/hostname", "200000"], env_with(p and files_allow_file)), "ns", 1.10)
side_by_side("write of 64 bytes to /dev/null", lambda p: per_call([writer, "/dev/null", "1000000"], env_with(p)), "ns", 1.10)
side_by_side("python -c pass (start)", lambda p: wall([python, "-c", "pass"], env_with(p), 5) * 1000, "ms", 1.05, best=False)
side_by_side("node -e 0 (start)", lambda p: wall(["node", "-e", "0"], env_with(p), 3) * 1000, "ms", 1.05, best=False)
side_by_side("/bin/true (start)", lambda p: wall(["/bin/true"], env_with(p), 9) * 1000, "ms", 1.05, best=False)
rss = [(peak_rss_kib([python, "-c", "pass"], None), peak_rss_kib([python, "-c", "pass"], POLICY)) for _ in range(5)]
rb = statistics.median(r[0] for r in rss) if all(r[0] for r in rss) else None
rl = statistics.median(r[1] for r in rss) if all(r[1] for r in rss) else None
if not (rb and rl):
    print(f"{'peak RSS, python -c pass':<40} not measured: /usr/bin/time is missing or failed")
else:
    verdict = "ok" if rl - rb <= 2048 else "OVER"
    print(f"{'peak RSS, python -c pass (median of 5)':<40} without {rb:9.0f} KiB with {rl:9.0f} KiB delta {(rl - rb) / 1024:5.2f} MiB  target <= +2 MiB: {verdict}")

# ---- kernel backstops (docs/kernel-backstops.md): the same library and policy, "kernel": true on the file controls or not
kernel_file = os.path.join(WORK, "kernel.json")
with open(kernel_file, "w") as f:
    json.dump({"read_write_tmp": {"action": "block", "kernel": True}, "create_child_process": "block",
               "read_handler": {"action": "block", "kernel": True},
               "outbound_connectivity": {"action": "block", "exceptions": ["aws"]}}, f)
deep = os.path.join(WORK, "a", "b", "c", "d")
os.makedirs(deep, exist_ok=True)
open(os.path.join(deep, "f"), "w").close()

def backstop(name, measure):
    """Without and with the Landlock layers, interleaved: the ratio is what "kernel": true costs on top of the libc layer."""
    off, on = [], []
    for _ in range(ROUNDS):
        off.append(measure(POLICY))
        on.append(measure(kernel_file))
    o, k = min(off), min(on)
    print(f"{name:<34} kernel off {o:8.1f} {'':<3} kernel on {k:8.1f}     ratio {k / o:5.3f}  (best of {ROUNDS})")

print(f"\nkernel backstops: every control block, \"kernel\": true on read_write_tmp and read_handler or not")
for path in ("/etc/hostname", os.path.join(deep, "f")):
    depth = path.count("/")
    backstop(f"open+close, depth {depth} (ns)", lambda p, path=path: float(subprocess.run(
        [probe, path, "200000"], env=env_with(p, ARMED), capture_output=True, text=True, check=True).stdout))
backstop("python -c pass (start, ms)", lambda p: wall([python, "-c", "pass"], env_with(p, ARMED), 5) * 1000)

# ---- events to a loopback api_endpoint (SPEC section 8: 10,000 events/s without slowing hooked calls)
endpoint_exe = compile_probe("events_endpoint")
load_exe = compile_probe("events_load", ["-pthread"])
EVENT_RATE, EVENT_SECONDS = 10000, 3

def parse(line):
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split())}

def log_volume(stderr):
    """Event lines on a log stream, their bytes, and the occurrences they stand for (repeat_count, 1 where absent)."""
    lines = [l for l in stderr.splitlines() if l.startswith('{"aws_function_info"')]
    return len(lines), sum(len(l.encode()) + 1 for l in lines), sum(int(json.loads(l).get("repeat_count", "1")) for l in lines)

def events_run(rate, seconds, with_endpoint, library=True):
    """One events_load run; with an endpoint, also what the endpoint counted."""
    endpoint, counts, policy_path = None, None, None
    policy = {"read_write_tmp": "block"}
    if with_endpoint:
        port_file = os.path.join(WORK, "endpoint.port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        endpoint = subprocess.Popen([endpoint_exe, port_file], stdout=subprocess.PIPE, text=True)
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            time.sleep(0.01)
        policy["api_endpoint"] = f"http://127.0.0.1:{open(port_file).read().strip()}/events"
    if library:
        policy_file = tempfile.NamedTemporaryFile("w", suffix=".json", dir=WORK, delete=False)
        json.dump(policy, policy_file)
        policy_file.close()
        policy_path = policy_file.name
    try:
        p = subprocess.run([load_exe, str(rate), str(seconds), "/etc/hostname"], env=env_with(policy_path),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
        load = parse(p.stdout)
        load.update(zip(("lines", "bytes", "occurrences"), log_volume(p.stderr)))
    finally:
        if endpoint:
            endpoint.terminate()
            counts = parse(endpoint.communicate(timeout=10)[0])
        if policy_path:
            os.unlink(policy_path)
    return load, counts

print(f"\nevents to a loopback api_endpoint: denied calls at {EVENT_RATE}/s for {EVENT_SECONDS} s while another thread"
      " times allowed open+close calls")
runs = {"with endpoint": [], "no endpoint": [], "no library": []}
for _ in range(max(1, ROUNDS // 2)):
    runs["with endpoint"].append(events_run(EVENT_RATE, EVENT_SECONDS, True))
    runs["no endpoint"].append(events_run(EVENT_RATE, EVENT_SECONDS, False))
    runs["no library"].append(events_run(EVENT_RATE, EVENT_SECONDS, False, library=False))
for name, rs in runs.items():
    med = statistics.median(r[0]["call_median_ns"] for r in rs)
    p99 = statistics.median(r[0]["call_p99_ns"] for r in rs)
    gen = statistics.median(r[0]["gen_ns"] for r in rs)
    print(f"  {name:<14} allowed open+close median {med:7.0f} ns  p99 {p99:7.0f} ns   denied call {gen:7.0f} ns")
delivered = [(r[0]["generated"], r[1]) for r in runs["with endpoint"]]
for (generated, c), (load, _) in zip(delivered, runs["with endpoint"]):
    # the event budget folds a stream of distinct targets into summaries: few lines, every occurrence counted
    accounted = c["events"] + c["repeats"] + c["dropped"]
    verdict = "ok" if accounted == generated and c["dropped"] == 0 and load["occurrences"] == generated else "SHORT"
    print(f"  {EVENT_RATE:,}/s stream: generated {generated:.0f} occurrences; stderr {load['lines']:.0f} lines, {load['bytes'] / 1024:.1f} KiB, "
          f"accounting for {load['occurrences']:.0f}; endpoint {c['events']:.0f} posts accounting for {accounted:.0f}, "
          f"dropped {c['dropped']:.0f}  (every occurrence accounted: {verdict})")
load, c = events_run(0, 2, True)
print(f"  unpaced: generated {load['generated']:.0f} in 2 s; stderr {load['lines']:.0f} lines accounting for {load['occurrences']:.0f}; "
      f"the endpoint got {c['events']:.0f} posts, accounting for {c['events'] + c['repeats'] + c['dropped']:.0f} (dropped_before {c['dropped']:.0f})")

# ---- event volume: a busy function in alert mode (5,000 files written and read three times under /tmp)
FLOOD = """
import sys
d = sys.argv[1]
for i in range(5000):
    with open(f"{d}/f{i}", "w") as f:
        f.write("x")
for r in range(3):
    for i in range(5000):
        with open(f"{d}/f{i}", "rb") as f:
            f.read()
"""
alert_file = os.path.join(WORK, "every-control-alert.json")
with open(alert_file, "w") as f:
    json.dump({"read_write_tmp": "alert", "create_child_process": "alert", "read_handler": "alert", "outbound_connectivity": "alert"}, f)
flood_dir = tempfile.mkdtemp(prefix="iron-bench-flood-", dir="/tmp")
t = time.perf_counter()
p = subprocess.run([python, "-c", FLOOD, flood_dir], env=env_with(alert_file), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
elapsed = time.perf_counter() - t
subprocess.run(["rm", "-rf", flood_dir], check=True)
lines, size, occurrences = log_volume(p.stderr)
verdict = "ok" if lines <= 100 and size <= 100 * 1024 and 20000 <= occurrences <= 20200 else "OVER"
print(f"\nevent volume, python flood (5,000 files written and read three times, every control alert) in {elapsed:.1f} s:"
      f" {lines} lines, {size / 1024:.1f} KiB, accounting for {occurrences} occurrences"
      f"  (target <= 100 lines, <= 100 KiB, 20,000-20,200 occurrences: {verdict})")
os.unlink(POLICY)
