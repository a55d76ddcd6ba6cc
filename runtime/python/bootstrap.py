#!/usr/bin/env python3
"""A minimal AWS Lambda custom runtime for Python, standard library only.

It speaks the Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) at
AWS_LAMBDA_RUNTIME_API over one kept-alive HTTP/1.1 connection, as the real clients do:

  init:  import the handler module named by _HANDLER from LAMBDA_TASK_ROOT ("app.handler",
         "pkg.sub.app.handler", "src/app.handler"); on failure POST /runtime/init/error and exit 1
  loop:  GET /runtime/invocation/next -> handler(event, context) ->
         POST /runtime/invocation/<id>/response, or /error when the handler raises

Error reports name each frame by file, line and function only: reading source lines (as traceback
formatting does) would read the handler's source during an invocation.
"""
import http.client
import importlib
import json
import os
import sys
import time

API = "/2018-06-01/runtime"


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn", "")
        self.deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0") or 0)
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")

    def get_remaining_time_in_millis(self):
        return max(0, self.deadline_ms - int(time.time() * 1000))


class RuntimeApi:
    def __init__(self, endpoint):
        host, _, port = endpoint.rpartition(":")
        self.connection = http.client.HTTPConnection(host.strip("[]"), int(port))

    def request(self, method, path, body=None, headers=None):
        payload = None if body is None else json.dumps(body).encode()
        all_headers = dict(headers or {})
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        self.connection.request(method, API + path, body=payload, headers=all_headers)
        response = self.connection.getresponse()
        return response, response.read()

    def next(self):
        response, body = self.request("GET", "/invocation/next")
        if response.status != 200:
            raise RuntimeError(f"next invocation answered {response.status}")
        return json.loads(body or b"null"), response.headers

    def respond(self, request_id, result):
        self.request("POST", f"/invocation/{request_id}/response", result)

    def fail(self, path, error):
        self.request("POST", path, error_report(error),
                     {"Lambda-Runtime-Function-Error-Type": type(error).__name__})


def error_report(error):
    frames, tb = [], error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append(f'File "{code.co_filename}", line {tb.tb_lineno}, in {code.co_name}')
        tb = tb.tb_next
    return {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": frames}


def load_handler(task_root, handler):
    module_name, _, function_name = handler.rpartition(".")
    if not module_name or not function_name:
        raise ValueError(f"bad handler {handler!r}: expected module.function")
    sys.path.insert(0, task_root)
    module = importlib.import_module(module_name.replace("/", "."))
    function = getattr(module, function_name, None)
    if not callable(function):
        raise AttributeError(f"{handler} is not a function of {module.__name__}")
    return function


def main():
    api = RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        handler = load_handler(os.environ["LAMBDA_TASK_ROOT"], os.environ["_HANDLER"])
    except Exception as error:  # noqa: BLE001 - every init failure is reported to the Runtime API
        api.fail("/init/error", error)
        sys.exit(1)
    while True:
        event, headers = api.next()
        context = Context(headers)
        try:
            result = handler(event, context)
        except Exception as error:  # noqa: BLE001 - the handler's failure is the invocation's result
            api.fail(f"/invocation/{context.aws_request_id}/error", error)
            continue
        api.respond(context.aws_request_id, result)


if __name__ == "__main__":
    main()
