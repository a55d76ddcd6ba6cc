// A Lambda handler that tries to read files (its own source among them) and reports what happened.
//
// Event: {"reads": [{"name": ..., "path": ..., "how": "readFileSync" | "readFile" | "openSync" | "cat" | "cat-scrubbed"}]},
// paths relative to the working directory (the task root), "<self>" its own file. "readFile" goes through libuv's thread pool,
// "cat" reads in a child process. Response: {"init_read": <bytes of its own source read at import>,
// "results": {name: "ok <bytes>" | "errno <code>" | "exit <code>"}}.
import { execFileSync } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(import.meta.url);

// Reading its own source while the runtime initialises is allowed.
const INIT_READ = readFileSync(SOURCE).length;

async function attempt(path, how) {
  try {
    if (how === "readFileSync") return `ok ${readFileSync(path).length}`;
    if (how === "readFile") return `ok ${(await readFile(path)).length}`;
    if (how === "openSync") {
      const fd = openSync(path, "r");
      try {
        const buffer = Buffer.alloc(1 << 20);
        return `ok ${readSync(fd, buffer, 0, buffer.length, 0)}`;
      } finally {
        closeSync(fd);
      }
    }
    if (how === "cat" || how === "cat-scrubbed") {
      // "cat-scrubbed": the child is given only the function's name for an environment
      const env = how === "cat" ? process.env : { AWS_LAMBDA_FUNCTION_NAME: process.env.AWS_LAMBDA_FUNCTION_NAME };
      try {
        return `ok ${execFileSync("/usr/bin/cat", [path], { stdio: ["ignore", "pipe", "inherit"], env }).length}`;
      } catch (e) {
        return `exit ${e.status}`;
      }
    }
    return `unknown how ${how}`;
  } catch (e) {
    return `errno ${e.code}`;
  }
}

export const handler = async (event, context) => {
  const results = {};
  for (const read of event.reads ?? []) {
    results[read.name] = await attempt(read.path === "<self>" ? SOURCE : read.path, read.how ?? "readFileSync");
  }
  return { init_read: INIT_READ, request_id: context.awsRequestId, results };
};
