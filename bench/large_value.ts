/**
 * One large value through dist/proxy (issue 20 item 3): StoreStream of `size` bytes in 1 MiB messages, then
 * RetrieveStream of it, checked by SHA-256, then deleted (and its chunks waited out of the backend). While it
 * runs, the resident set of the proxy and of the pattern it launched is sampled from /proc (VmRSS every 50 ms, and
 * VmHWM, the kernel's own peak, at the end), so memory that grew with the value would show.
 * Used by `make bench` (a 100 MiB row per backend) and by bench/large_value_rss.ts (1 GiB).
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { KeyValuePattern } from "../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { CHUNK_PREFIX } from "../sdk/emulation/chunked";
import { createClient } from "../sdk/grpc/client";
import { startProxy } from "./processes";

const MiB = 1 << 20;
const MESSAGE = MiB;

export interface LargeValueResult {
  backend: string;
  bytes: number;
  storeMs: number;
  retrieveMs: number;
  /** Peak resident set (MiB) over the run: [proxy, pattern]; VmHWM, the kernel's high-water mark. */
  peakRssMiB: [number, number];
  /** Resident set (MiB) right before the value moved: [proxy, pattern]. */
  startRssMiB: [number, number];
  /** Set when the row could not run. */
  reason?: string;
}

function status(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** The value's bytes, generated as they are sent (one 1 MiB buffer, its first 8 bytes the message's index). */
async function* valueMessages(key: string, size: number, hash: ReturnType<typeof createHash>) {
  yield { part: { case: "start" as const, value: { key, totalSize: BigInt(size) } } };
  const buf = new Uint8Array(randomBytes(MESSAGE));
  const view = new DataView(buf.buffer);
  for (let at = 0, i = 0; at < size; at += MESSAGE, i++) {
    view.setFloat64(0, i);
    const part = buf.subarray(0, Math.min(MESSAGE, size - at));
    hash.update(part);
    // A copy: the client may hold the message until it is written.
    yield { part: { case: "chunk" as const, value: part.slice() } };
  }
}

/** Moves one value of `size` bytes through a proxy for `backend` (bench/configs/proxy-<backend>.yaml). */
export async function measureLargeValue(backend: string, size: number, log: (s: string) => void = () => {}): Promise<LargeValueResult> {
  const server = await startProxy(backend);
  const [proxyPid, patternPid] = server.pids as [number, number];
  const { client, close } = createClient(KeyValuePattern, server.address);
  const opts = { metadata: { "x-prism-namespace": "default" } };
  const key = `bench-large-${randomBytes(4).toString("hex")}`;
  try {
    const startRssMiB: [number, number] = [status(proxyPid, "VmRSS"), status(patternPid, "VmRSS")];
    const sent = createHash("sha256");
    let t0 = performance.now();
    await client.storeStream(valueMessages(key, size, sent), opts);
    const storeMs = performance.now() - t0;
    log(
      `${backend}: stored ${size} bytes in ${Math.round(storeMs)} ms; peak RSS so far ${Math.round(status(proxyPid, "VmHWM"))} / ${Math.round(status(patternPid, "VmHWM"))} MiB (proxy / pattern)`,
    );
    const got = createHash("sha256");
    let bytes = 0;
    t0 = performance.now();
    for await (const m of client.retrieveStream({ key }, opts)) {
      if (m.part.case !== "chunk") continue;
      got.update(m.part.value);
      bytes += m.part.value.byteLength;
    }
    const retrieveMs = performance.now() - t0;
    log(`${backend}: retrieved ${bytes} bytes in ${Math.round(retrieveMs)} ms`);
    if (bytes !== size || got.digest("hex") !== sent.digest("hex")) throw new Error(`read back ${bytes} bytes that differ from the ${size} stored`);
    const peakRssMiB: [number, number] = [status(proxyPid, "VmHWM"), status(patternPid, "VmHWM")];
    await client.delete({ key }, opts);
    // The chunks go with the next sweeps (chunk_grace 5 s): wait, so the backend is left as found.
    const deadline = Date.now() + 60_000;
    while ((await client.count({ prefix: `${CHUNK_PREFIX}data/` }, opts)).count > 0n && Date.now() < deadline) await Bun.sleep(500);
    return { backend, bytes: size, storeMs, retrieveMs, peakRssMiB, startRssMiB };
  } finally {
    close();
    await server.stop();
  }
}

export function largeValueMarkdown(rows: LargeValueResult[]): string {
  const mibs = (bytes: number, ms: number) => ((bytes / MiB / ms) * 1000).toFixed(1);
  const lines = [
    "| backend | MiB | StoreStream MiB/s | RetrieveStream MiB/s | peak RSS MiB proxy / pattern | RSS before MiB proxy / pattern |",
    "| --- | ---: | ---: | ---: | --- | --- |",
  ];
  for (const r of rows) {
    if (r.reason) lines.push(`| ${r.backend} | – | – | – | not run: ${r.reason} | – |`);
    else
      lines.push(
        `| ${r.backend} | ${r.bytes / MiB} | ${mibs(r.bytes, r.storeMs)} | ${mibs(r.bytes, r.retrieveMs)} | ${r.peakRssMiB.map(Math.round).join(" / ")} | ${r.startRssMiB.map(Math.round).join(" / ")} |`,
      );
  }
  return `${lines.join("\n")}\n`;
}
