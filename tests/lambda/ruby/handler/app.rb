# The function of the Ruby local Lambda tests: reads its own source at load (initialisation), and at each
# invocation tries again, reads a data file beside it, and first requires lazy.rb.
INIT_READ = File.read(__FILE__).bytesize

def read(path)
  "ok #{File.read(path).bytesize}"
rescue Errno::EACCES
  "denied"
rescue StandardError => e
  "error #{e.class}"
end

def handler(event:, context:)
  require_relative "lazy"
  {
    init_read: INIT_READ,
    self: read(__FILE__),
    relative: read("app.rb"),
    data: read("data.txt"),
    lazy: Lazy.name,
  }
end
