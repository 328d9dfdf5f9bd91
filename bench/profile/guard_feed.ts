// The HTTP/2 guard's own work per call, in this process: FrameScanner.feed over the bytes of N unary calls on one
// connection (HEADERS, then DATA with END_STREAM and a 20-byte message, one read each), for this checkout's
// sdk/grpc/h2_guard.ts and for the one of a git ref (--base), in alternating rounds; prints each side's median time
// per call and head / base. No sockets, no server: only the scanner the guard runs on every read.
//   bun bench/profile/guard_feed.ts --base REF [--calls 20000] [--rounds 6]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { FLAG, FRAME, frame, PREFACE, settingsFrame } from "../../h2/codec/frames";
import { encodeHeaderObject } from "../../h2/codec/hpack";
import { FrameScanner } from "../../sdk/grpc/h2_guard";
import { ROOT } from "../../tests/helpers/process";

const { values } = parseArgs({
  options: { base: { type: "string" }, calls: { type: "string", default: "20000" }, rounds: { type: "string", default: "6" } },
});
if (!values.base) throw new Error("--base REF: the git ref whose sdk/grpc/h2_guard.ts to compare with");
const source = Bun.spawnSync(["git", "show", `${values.base}:sdk/grpc/h2_guard.ts`], { cwd: ROOT });
if (source.exitCode !== 0) throw new Error(`git show ${values.base}:sdk/grpc/h2_guard.ts: ${source.stderr.toString()}`);
const dir = mkdtempSync(join(tmpdir(), "prism-guard-feed-"));
const file = join(dir, "h2_guard.ts");
writeFileSync(file, source.stdout.toString().replaceAll('"../../h2/', `"${ROOT}/h2/`));
const Base = ((await import(file)) as { FrameScanner: typeof FrameScanner }).FrameScanner;
rmSync(dir, { recursive: true, force: true });

const calls = Number(values.calls);
const block = encodeHeaderObject({
  ":method": "POST",
  ":path": "/prism.interfaces.keyvalue.KeyValueBasicInterface/Get",
  ":scheme": "http",
  ":authority": "x",
  "content-type": "application/grpc",
  te: "trailers",
});
const reads = Array.from({ length: calls }, (_, i) =>
  Buffer.concat([frame(FRAME.HEADERS, FLAG.END_HEADERS, 2 * i + 1, block), frame(FRAME.DATA, FLAG.END_STREAM, 2 * i + 1, new Uint8Array(20))]),
);
const opening = Buffer.concat([PREFACE, settingsFrame([])]);

function run(Scanner: typeof FrameScanner): number {
  let handed = 0;
  const s = new Scanner(
    (b) => {
      handed += b.length;
    },
    () => [],
  );
  s.feed(opening);
  const t = performance.now();
  for (const r of reads) s.feed(r);
  const ms = performance.now() - t;
  if (handed !== reads.reduce((n, r) => n + r.length, opening.length)) throw new Error("the scanner did not hand on every byte");
  return ms;
}

const times: Record<"base" | "head", number[]> = { base: [], head: [] };
for (let round = 0; round < Number(values.rounds); round++) {
  const order = round % 2 === 0 ? (["base", "head"] as const) : (["head", "base"] as const);
  for (const side of order) times[side].push(run(side === "base" ? Base : FrameScanner));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const perCall = (side: "base" | "head") => ((median(times[side]) / calls) * 1000).toFixed(2);
console.log(
  `FrameScanner.feed, ${calls} unary calls on one connection, ${values.rounds} alternating rounds: base (${values.base}) ${perCall("base")} µs per call, head ${perCall("head")} µs per call; head / base ${(median(times.head) / median(times.base)).toFixed(3)} (rounds, ms: base ${times.base.map((x) => x.toFixed(0)).join(", ")}; head ${times.head.map((x) => x.toFixed(0)).join(", ")})`,
);
