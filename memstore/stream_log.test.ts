import { describe, expect, setSystemTime, test, afterEach } from "bun:test";
import { Code, PrismError } from "../sdk/grpc/errors";
import type { StreamReadOptions, StreamRecordData } from "../sdk/drivers/interfaces";
import { StreamLog } from "./stream_log";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (r: StreamRecordData) => new TextDecoder().decode(r.payload);

function opts(stream: string, o: Partial<StreamReadOptions> = {}): StreamReadOptions {
  return { stream, partition: 0, fromOffset: 0, fromTimestamp: 0, maxRecords: 0, follow: false, signal: new AbortController().signal, ...o };
}

async function readAll(log: StreamLog, o: StreamReadOptions): Promise<string[]> {
  const out: string[] = [];
  for await (const r of log.read(o)) out.push(`${r.offset}:${dec(r)}`);
  return out;
}

afterEach(() => setSystemTime());

describe("StreamLog", () => {
  test("offsets from 0 per stream; read from an offset with max_records", async () => {
    const log = new StreamLog(100);
    expect(log.append("s", enc("a"), { h: "1" }, "k").offset).toBe(0);
    expect(log.append("s", enc("b"), {}, "").offset).toBe(1);
    expect(log.append("other", enc("x"), {}, "").offset).toBe(0);
    log.append("s", enc("c"), {}, "");
    expect(await readAll(log, opts("s"))).toEqual(["0:a", "1:b", "2:c"]);
    expect(await readAll(log, opts("s", { fromOffset: 1, maxRecords: 1 }))).toEqual(["1:b"]);
    expect(await readAll(log, opts("s", { fromOffset: 9 }))).toEqual([]);
    expect(await readAll(log, opts("missing"))).toEqual([]);
    const [first] = await Array.fromAsync(log.read(opts("s", { maxRecords: 1 })));
    expect(first).toMatchObject({ stream: "s", partition: 0, offset: 0, metadata: { h: "1" }, key: "k" });
  });

  test("read from a timestamp starts at the first record at or after it", async () => {
    const log = new StreamLog(100);
    const t0 = new Date("2030-01-01T00:00:00Z").getTime();
    for (let i = 0; i < 5; i++) {
      setSystemTime(t0 + i * 1000);
      log.append("s", enc(String(i)), {}, "");
    }
    expect(await readAll(log, opts("s", { fromTimestamp: t0 + 2500 }))).toEqual(["3:3", "4:4"]);
    expect(await readAll(log, opts("s", { fromTimestamp: t0 + 2000, fromOffset: 0 }))).toEqual(["2:2", "3:3", "4:4"]);
    expect(await readAll(log, opts("s", { fromTimestamp: t0 + 9000 }))).toEqual([]);
    // A clock that steps back never makes timestamps decrease.
    setSystemTime(t0);
    expect(log.append("s", enc("5"), {}, "").timestamp).toBe(t0 + 4000);
  });

  test("trim deletes records before an offset; offsets never repeat", async () => {
    const log = new StreamLog(100);
    for (let i = 0; i < 5; i++) log.append("s", enc(String(i)), {}, "");
    expect(log.trim("s", 0, 3)).toBe(3);
    expect(await readAll(log, opts("s"))).toEqual(["3:3", "4:4"]);
    expect(log.trim("s", 0, 1)).toBe(3);
    expect(log.trim("s", 0, 100)).toBe(5);
    expect(log.append("s", enc("5"), {}, "").offset).toBe(5);
    expect(await readAll(log, opts("s"))).toEqual(["5:5"]);
    // "s" was trimmed empty and forgotten: any stream created now starts past its offsets.
    expect(log.trim("missing", 0, 10)).toBe(5);
    expect(new StreamLog(100).trim("missing", 0, 10)).toBe(0);
  });

  test("max_streams: a new stream beyond it is RESOURCE_EXHAUSTED; trimming one empty frees its place", async () => {
    const log = new StreamLog(100, 2);
    const t0 = new Date("2030-01-01T00:00:00Z").getTime();
    setSystemTime(t0 + 5000);
    log.append("a", enc("a0"), {}, "");
    for (let i = 0; i < 3; i++) log.append("b", enc(`b${i}`), {}, "");
    let code: number | undefined;
    try {
      log.append("c", enc("c0"), {}, "");
    } catch (err) {
      code = PrismError.from(err).code;
      expect(PrismError.from(err).message).toContain("max_streams 2");
    }
    expect(code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(log.append("a", enc("a1"), {}, "").offset).toBe(1);
    // Trimmed but not empty: still held.
    expect(log.trim("b", 0, 2)).toBe(2);
    expect(log.size).toBe(2);
    expect(log.trim("b", 0, 3)).toBe(3);
    expect(log.stats()).toMatchObject({ streams: 1, records: 2 });
    // A clock that stepped back: the new streams still start past what the forgotten one used.
    setSystemTime(t0);
    const c = log.append("c", enc("c0"), {}, "");
    expect(c.offset).toBe(3);
    expect(c.timestamp).toBe(t0 + 5000);
    // "b" again: its offsets go on, never repeating the trimmed ones.
    expect(() => log.append("b", enc("again"), {}, "")).toThrow(PrismError);
    expect(log.trim("c", 0, 4)).toBe(4);
    expect(log.append("b", enc("again"), {}, "").offset).toBe(4);
    expect(await readAll(log, opts("b"))).toEqual(["4:again"]);
  });

  test("a follower of a stream trimmed empty and forgotten gets the next append once, at a new offset", async () => {
    const log = new StreamLog(100);
    for (let i = 0; i < 3; i++) log.append("s", enc(`r${i}`), {}, "");
    const ac = new AbortController();
    const it = log.read(opts("s", { follow: true, signal: ac.signal }))[Symbol.asyncIterator]();
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = (await it.next()).value!;
      got.push(`${r.offset}:${dec(r)}`);
    }
    // Suspended at a yield while the stream is trimmed empty and forgotten, then waiting.
    expect(log.trim("s", 0, 3)).toBe(3);
    expect(log.size).toBe(0);
    const next = it.next();
    await Bun.sleep(1);
    expect(log.stats().followers).toBe(1);
    log.append("s", enc("r3"), {}, "");
    const r = (await next).value!;
    got.push(`${r.offset}:${dec(r)}`);
    expect(got).toEqual(["0:r0", "1:r1", "2:r2", "3:r3"]);
    const last = it.next();
    ac.abort();
    expect((await last).done).toBe(true);
  });

  test("max_stream_records keeps the newest records", async () => {
    const log = new StreamLog(3);
    for (let i = 0; i < 3000; i++) log.append("s", enc(String(i)), {}, "");
    expect(await readAll(log, opts("s"))).toEqual(["2997:2997", "2998:2998", "2999:2999"]);
    expect(log.stats()).toMatchObject({ streams: 1, records: 3 });
  });

  test("follow waits for appends and ends on abort", async () => {
    const log = new StreamLog(100);
    log.append("s", enc("a"), {}, "");
    const ac = new AbortController();
    const it = log.read(opts("s", { follow: true, signal: ac.signal }))[Symbol.asyncIterator]();
    expect(dec((await it.next()).value!)).toBe("a");
    const pending = it.next();
    setTimeout(() => log.append("s", enc("b"), {}, ""), 5);
    expect(dec((await pending).value!)).toBe("b");
    expect(log.stats().followers).toBe(1);
    const last = it.next();
    ac.abort();
    expect((await last).done).toBe(true);
    expect(log.stats().followers).toBe(0);
  });

  test("follow on a stream that does not exist yet; close ends followers", async () => {
    const log = new StreamLog(100);
    const it = log.read(opts("later", { follow: true, maxRecords: 5 }))[Symbol.asyncIterator]();
    const first = it.next();
    log.append("later", enc("x"), {}, "");
    expect(dec((await first).value!)).toBe("x");
    const waiting = it.next();
    log.close();
    expect((await waiting).done).toBe(true);
  });

  test("partitions other than 0 are INVALID_ARGUMENT", async () => {
    const log = new StreamLog(100);
    expect(() => log.trim("s", 1, 0)).toThrow(PrismError);
    let code: number | undefined;
    try {
      await readAll(log, opts("s", { partition: 2 }));
    } catch (err) {
      code = PrismError.from(err).code;
    }
    expect(code).toBe(Code.INVALID_ARGUMENT);
  });
});
