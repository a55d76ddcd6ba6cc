"""A Lambda handler that tries to read files (its own source among them) and reports what happened.

Event: {"reads": [{"name": ..., "path": ..., "how": "open" | "os.open" | "openat" | "cat"}]}, paths
relative to the working directory (the task root); "<self>" is __file__, "<pycache>" its byte-code cache.
"openat" opens the path relative to a descriptor of the task root; "cat" reads it in a child process, "cat-copy"
in one given a copy of the environment as Python read it at start, "cat-scrubbed" in one given only the function's
name. Response: {"init_read": <bytes of its own source read
at import>, "init_child_read": <the same, read by a child process at import>, "results": {name: "ok <bytes>"
| "errno <n>" | "exit <code>"}}.
"""
import importlib.util
import os
import subprocess

TASK_ROOT = os.path.dirname(os.path.abspath(__file__))

# Anything but the runtime's own request to the Runtime API leaves initialisation going on: these bytes
# sent down a pipe must not end it.
_r, _w = os.pipe()
os.write(_w, b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
os.close(_w)
os.close(_r)

# Reading its own source while the runtime initialises is allowed.
with open(__file__, "rb") as f:
    INIT_READ = len(f.read())
# So is a child process started meanwhile.
INIT_CHILD_READ = len(subprocess.run(["cat", __file__], stdout=subprocess.PIPE).stdout)


CHILD_ENVIRONMENTS = {
    "cat": lambda: None,
    "cat-copy": lambda: dict(os.environ),
    "cat-scrubbed": lambda: {"AWS_LAMBDA_FUNCTION_NAME": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")},
}


def attempt(path, how):
    try:
        if how == "open":
            with open(path, "rb") as f:
                return "ok %d" % len(f.read())
        if how == "os.open":
            fd = os.open(path, os.O_RDONLY)
        elif how == "openat":
            root = os.open(TASK_ROOT, os.O_RDONLY | os.O_DIRECTORY)
            try:
                fd = os.open(path, os.O_RDONLY, dir_fd=root)
            finally:
                os.close(root)
        elif how in CHILD_ENVIRONMENTS:
            # the child's stderr (and any event it reports) goes where the runtime's goes
            done = subprocess.run(["cat", path], stdout=subprocess.PIPE, env=CHILD_ENVIRONMENTS[how]())
            return "ok %d" % len(done.stdout) if done.returncode == 0 else "exit %d" % done.returncode
        else:
            return "unknown how " + how
        try:
            return "ok %d" % len(os.read(fd, 1 << 20))
        finally:
            os.close(fd)
    except OSError as e:
        return "errno %d" % e.errno


def handler(event, context):
    results = {}
    for read in event.get("reads", []):
        path = read["path"]
        if path == "<self>":
            path = __file__
        elif path == "<pycache>":
            path = importlib.util.cache_from_source(__file__)
        results[read["name"]] = attempt(path, read.get("how", "open"))
    return {"init_read": INIT_READ, "init_child_read": INIT_CHILD_READ, "request_id": context.aws_request_id,
            "results": results}
