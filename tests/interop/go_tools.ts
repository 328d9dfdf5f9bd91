/**
 * The Go programs the interop suites run (built by `make go-tools` into .tools/, pinned by tests/interop/go/go.mod
 * and the Makefile): grpc-client, a grpc-go client with default settings; h2spec, the HTTP/2 conformance suite.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/process";

/** Path of a Go tool under .tools/; fails with the command that builds it. */
export function goTool(name: "grpc-client" | "h2spec"): string {
  const path = join(ROOT, ".tools", name);
  if (!existsSync(path)) throw new Error(`.tools/${name} is missing: build the Go tools with \`make go-tools\``);
  return path;
}

/** One call's outcome as grpc-client prints it. */
export interface GoCallResult {
  code: number;
  message: string;
  messages: number;
  bytes: number;
  ms: number;
}

/**
 * Runs grpc-client: `repeat` connections to `address` one after another, each making `calls` calls of `method` in turn
 * and closed after them.
 * The request message is raw protobuf bytes (encode it with @bufbuild/protobuf's toBinary).
 */
export async function goCall(
  address: string,
  method: string,
  request: Uint8Array,
  opts: {
    stream?: boolean;
    metadata?: Record<string, string>;
    timeoutMs?: number;
    repeat?: number;
    calls?: number;
    /** TLS trusting `ca` (PEM file), presenting `cert`/`key` when given (mTLS); plaintext without it. */
    tls?: { ca: string; cert?: string; key?: string };
  } = {},
): Promise<GoCallResult[]> {
  const args = [
    goTool("grpc-client"),
    "-addr",
    address,
    "-method",
    method,
    "-timeout",
    `${opts.timeoutMs ?? 10_000}ms`,
    "-repeat",
    String(opts.repeat ?? 1),
    "-calls",
    String(opts.calls ?? 1),
  ];
  if (opts.stream) args.push("-stream");
  if (opts.tls) args.push("-ca", opts.tls.ca);
  if (opts.tls?.cert && opts.tls.key) args.push("-cert", opts.tls.cert, "-key", opts.tls.key);
  for (const [k, v] of Object.entries(opts.metadata ?? {})) args.push("-md", `${k}=${v}`);
  // Large messages go through stdin's file rather than the command line.
  args.push("-file", "/dev/stdin");
  const p = Bun.spawn(args, { stdin: request, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`grpc-client exited with ${code}: ${stderr}`);
  return stdout
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as GoCallResult);
}
