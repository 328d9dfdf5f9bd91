import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Report } from "../loadtest/report";
import { dist, type Server } from "./processes";

/** Graceful shutdown while calls are in flight: SIGTERM → exit, and what the client saw. */
export interface ShutdownUnderLoad {
  name: string;
  shutdownMs: number;
  exitCode: number | null;
  /** Calls the client completed, and its errors by code (a call sent after SIGTERM is refused UNAVAILABLE, by design). */
  clientOk: number;
  clientErrors: Record<string, number>;
}

/**
 * Starts the server, drives it with prism-load (closed loop, `concurrency` in
 * flight), sends SIGTERM after `afterMs`, times the exit, then stops the
 * client (SIGINT: it reports what it saw) and cleans up by pid.
 */
export async function shutdownUnderLoad(name: string, start: () => Promise<Server>, concurrency: number, afterMs = 1500): Promise<ShutdownUnderLoad> {
  const dir = mkdtempSync(join(tmpdir(), "prism-bench-shutdown-"));
  const json = join(dir, "report.json");
  const server = await start();
  const via = name === "proxy" ? "--proxy" : "--direct";
  const client = Bun.spawn(
    [
      dist("prism-load"),
      via,
      server.address,
      "--concurrency",
      String(concurrency),
      "--duration",
      "60s",
      "--warmup",
      "0s",
      "--progress",
      "never",
      "--timeout",
      "2s",
      "--json",
      json,
    ],
    { stdout: "ignore", stderr: "ignore", stdin: "ignore" },
  );
  try {
    await Bun.sleep(afterMs);
    const t0 = performance.now();
    server.main.proc.kill("SIGTERM");
    const killer = setTimeout(() => server.main.proc.kill("SIGKILL"), 30_000);
    const exitCode = await server.main.exited;
    clearTimeout(killer);
    const shutdownMs = performance.now() - t0;
    client.kill("SIGINT");
    await client.exited;
    const report = existsSync(json) ? (JSON.parse(readFileSync(json, "utf8")) as Report) : undefined;
    return { name, shutdownMs, exitCode, clientOk: report?.ok ?? 0, clientErrors: report?.errors ?? {} };
  } finally {
    if (client.exitCode === null) client.kill("SIGKILL");
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
