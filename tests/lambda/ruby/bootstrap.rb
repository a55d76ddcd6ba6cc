# A minimal AWS Lambda runtime for Ruby, standard library only, for the local Lambda of the tests.
#
# It speaks the Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) at
# AWS_LAMBDA_RUNTIME_API with Net::HTTP over one kept-alive connection, as the real client does:
#
#   init:  loads the file _HANDLER names from LAMBDA_TASK_ROOT ("dir/file.method" or
#          "file.Module::Class.method": file.rb), finds the method; on failure POST /runtime/init/error, exit 1
#   loop:  GET /runtime/invocation/next -> method(event:, context:) -> POST /runtime/invocation/{id}/response,
#          or /error when it raises
require "json"
require "net/http"

API = "/2018-06-01/runtime"
host, _, port = ENV.fetch("AWS_LAMBDA_RUNTIME_API").rpartition(":")
http = Net::HTTP.new(host, Integer(port))
http.read_timeout = nil
http.start

def report(error)
  { errorMessage: error.message, errorType: error.class.name }.to_json
end

def post(http, path, body, error = nil)
  headers = { "Content-Type" => "application/json" }
  headers["Lambda-Runtime-Function-Error-Type"] = error.class.name if error
  http.post(API + path, body, headers)
end

begin
  file, method_spec = ENV.fetch("_HANDLER").split(".", 2)
  raise ArgumentError, "expected file.method" unless file && method_spec
  require File.join(ENV.fetch("LAMBDA_TASK_ROOT"), file)
  *owner, name = method_spec.split(".")
  receiver = owner.empty? ? Object.new : Object.const_get(owner.join("."))
  handler = receiver.method(name)
rescue StandardError, ScriptError => e
  post(http, "/init/error", report(e), e)
  exit 1
end

loop do
  response = http.get(API + "/invocation/next")
  id = response["Lambda-Runtime-Aws-Request-Id"]
  begin
    result = handler.call(event: JSON.parse(response.body), context: { aws_request_id: id })
    post(http, "/invocation/#{id}/response", result.to_json)
  rescue StandardError => e
    post(http, "/invocation/#{id}/error", report(e), e)
  end
end
