#!/usr/bin/env python3
"""Side-by-side cost of the library: each measurement runs with and without the preload,
interleaved in one run, and reports the median ratio (these machines vary 5-10% run to run)."""
import json, os, resource, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "dist", "lib_iron_function.so")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
WORK = os.path.join(ROOT, "bench", ".work")

def compile_probe(name="open_close"):
    os.makedirs(WORK, exist_ok=True)
    exe = os.path.join(WORK, name)
    subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(ROOT, "bench", name + ".c")], check=True)
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

def peak_rss_kib(cmd, env):
    p = subprocess.run(["/usr/bin/env", "time", "-f", "%M"] + cmd, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True) if os.path.exists("/usr/bin/time") else None
    if p is None:
        return None
    try:
        return int(p.stderr.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None

def side_by_side(name, measure, unit, limit):
    base, lib = [], []
    for _ in range(ROUNDS):
        base.append(measure(None))
        lib.append(measure(POLICY))
    b, l = statistics.median(base), statistics.median(lib)
    ratio = l / b
    verdict = "ok" if ratio <= limit else "OVER"
    print(f"{name:<34} without {b:10.1f} {unit:<3} with {l:10.1f} {unit:<3} ratio {ratio:5.3f}  (target <= {limit:.2f}: {verdict})")
    return ratio

if not os.path.exists(LIB):
    sys.exit(f"{LIB} is missing: run ./build.sh first")
probe = compile_probe()
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

print(f"lib_iron_function.so, every control block; median of {ROUNDS} interleaved rounds\n")
side_by_side("open+close of an allowed file", lambda p: float(subprocess.run(
    [probe, "/etc/hostname", "200000"], env=env_with(p), capture_output=True, text=True, check=True).stdout), "ns", 1.10)
side_by_side("open+close, read_handler armed", lambda p: float(subprocess.run(
    [probe, "/etc/hostname", "200000"], env=env_with(p, ARMED), capture_output=True, text=True, check=True).stdout), "ns", 1.10)
side_by_side("write of 64 bytes to /dev/null", lambda p: float(subprocess.run(
    [writer, "/dev/null", "1000000"], env=env_with(p), capture_output=True, text=True, check=True).stdout), "ns", 1.10)
side_by_side("python -c pass (start)", lambda p: wall([python, "-c", "pass"], env_with(p), 5) * 1000, "ms", 1.05)
side_by_side("node -e 0 (start)", lambda p: wall(["node", "-e", "0"], env_with(p), 3) * 1000, "ms", 1.05)
rb = peak_rss_kib([python, "-c", "pass"], env_with(None))
rl = peak_rss_kib([python, "-c", "pass"], env_with(POLICY))
if rb and rl:
    print(f"{'peak RSS, python -c pass':<34} without {rb:10d} KiB with {rl:10d} KiB delta {(rl - rb) / 1024:5.2f} MiB (target <= 2 MiB)")
os.unlink(POLICY)
