#!/usr/bin/env python3
"""./build.sh demo: the sample function (demo/function) run under a block policy (demo/policy.json) through
`iron-function invoke`, one table row per attempt, the function's result, then `iron-function learn` on the events.

Nothing leaves loopback: the outside attempts are denied by the library inside the process, before any packet
(a connection denied by the library fails with EPERM; one the kernel refused would fail otherwise). The pricing
service runs here, on 127.0.0.1. Exits 0 only if every attempt ended as the policy says, each denial with its event.
"""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "dist", "iron-function")
POLICY = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "policy.json")


class Pricing(http.server.BaseHTTPRequestHandler):
    """The function's pricing service: the total of the order's items."""

    def do_POST(self):
        order = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"total": round(sum(i["qty"] * i["price"] for i in order["items"]), 2), "currency": "EUR"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def matching_event(events, attempt):
    target = attempt["target"]
    for e in events:
        if e.get("event_type") != attempt["key"]:
            continue
        what = e.get("what", "")
        if what == target or what.startswith(target + " ") or what.endswith("/" + target):
            return e
    # a process that may not start a child is stopped at its fork: the event names the forking program
    if attempt["key"] == "create_child_process":
        return next((e for e in events if e.get("event_type") == "create_child_process"), None)
    return None


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pricing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    work = tempfile.mkdtemp(prefix="iron-function-demo-", dir=os.path.join(HERE, ".."))
    try:
        return run(server, work)
    finally:
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def run(server, work):
    event = {"order": {"id": "A-1001", "items": [{"sku": "tea", "qty": 2, "price": 4.5}, {"sku": "cup", "qty": 1, "price": 12.0}]},
             "pricing_url": "http://127.0.0.1:%d/price" % server.server_address[1]}
    event_file = os.path.join(work, "event.json")
    events_file = os.path.join(work, "events.log")
    with open(event_file, "w") as f:
        json.dump(event, f)

    check = subprocess.run([TOOL, "check", "--json", POLICY], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check.returncode != 0:
        sys.stderr.write(check.stderr)
        return 1
    policy = json.loads(check.stdout)

    print("iron-function demo: the sample function (demo/function/app.py) under %s, invoked as Lambda runs it\n" % os.path.relpath(POLICY))
    invoke = subprocess.run([TOOL, "invoke", "--runtime", "python", "--task-root", os.path.join(HERE, "function"),
                             "--handler", "app.handler", "--policy", POLICY, "--event", event_file, "--events", events_file, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    results = [json.loads(l) for l in invoke.stdout.splitlines() if l.strip()]
    if invoke.returncode != 0 or len(results) != 1 or results[0]["status"] != "response":
        sys.stderr.write(invoke.stderr + invoke.stdout)
        print("iron-function demo: the invocation failed", file=sys.stderr)
        return 1
    result = results[0]["body"]
    events = []
    with open(events_file) as f:
        for line in f:
            try:
                events.append(json.loads(line))
            except ValueError:
                pass

    rows = [("attempt", "policy key", "outcome", "event")]
    failures = []
    for a in result["attempts"]:
        loopback = a["target"].startswith("http://127.0.0.1:")
        action = "allow" if loopback else policy[a["key"]]
        e = matching_event(events, a)
        # blocked: the call failed and the library reported denying it; any other failure is the machine's
        if a["outcome"] == "failed":
            outcome = "%s (%s)" % ("blocked" if e and e["action"] == "block" else "failed", a["errno"])
        else:
            outcome = "allowed"
        expected = {"block": "blocked", "alert": "allowed", "allow": "allowed"}[action]
        note = "%s %s" % (e["action"], e["what"]) if e else ("none (loopback is always allowed)" if loopback else "none")
        if e and a["key"] == "create_child_process" and not e["what"].endswith("/" + a["target"]):
            # the process was stopped at its fork, before the program was named: the event names the forking program
            note = "%s %s (its fork, before %s)" % (e["action"], os.path.basename(e["what"]), a["target"])
        if outcome.split(" ")[0] != expected or (e is None) != (action == "allow"):
            failures.append("%s: %s with %s, the policy says %s" % (a["what"], outcome, "an event" if e else "no event", action))
        rows.append((a["what"], a["key"], outcome, note))
    print(table(rows))

    answer = {k: v for k, v in result.items() if k != "attempts"}
    print("\nthe function's result (its real work still ran): %s" % json.dumps(answer))
    if answer.get("total") is None:
        failures.append("the function's real work did not return a total")

    print("\niron-function learn on these events: the policy that would have allowed everything seen, the attack included.\n"
          "learn is meant for a function's own traffic in alert mode; a person reviewing this proposal would refuse every\n"
          "exception in it (an exfiltration host, a bare address, the instance metadata service). The evidence follows it.\n")
    sys.stdout.flush()
    learn = subprocess.run([TOOL, "learn", events_file], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(learn.stdout.rstrip())
    if learn.returncode != 0:
        failures.append("learn failed")

    if failures:
        print("\niron-function demo: FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    print("\niron-function demo: every attempt ended as the policy says")
    return 0


if __name__ == "__main__":
    sys.exit(main())
