import { describe, expect, test } from "bun:test";
import { createLogger, type StreamDriver, type StreamReadOptions, type StreamRecordData } from "@prism/sdk";
import { decodeRecord, type SessionRecord } from "./record";
import { Replicator } from "./replication";
import type { SessionStore } from "./store";

/** A stream that refuses appends while `down`. */
class FlakyStream implements StreamDriver {
  down = true;
  readonly appended: SessionRecord[] = [];
  append(_stream: string, payload: Uint8Array) {
    if (this.down) return Promise.reject(new Error("stream unreachable"));
    this.appended.push(decodeRecord(payload));
    return Promise.resolve({ offset: this.appended.length - 1, partition: 0, timestamp: Date.now() });
  }
  async *read(_opts: StreamReadOptions): AsyncIterable<StreamRecordData> {}
  trim() {
    return 0;
  }
}

const rec = (version: number): SessionRecord => ({
  id: "b".repeat(32),
  owner: "o",
  attributes: {},
  version,
  createdAt: 0,
  expiresAt: 1,
  ttlSeconds: 1,
  region: "eu",
});

describe("Replicator shipping", () => {
  test("changes the stream refuses are kept in order, the oldest dropped beyond the backlog, and appended once it is back", async () => {
    const stream = new FlakyStream();
    const r = new Replicator({} as SessionStore, stream, {
      stream: "s",
      partitions: 1,
      region: "eu",
      logger: createLogger({ level: "error", write: () => {} }),
      checkpointIntervalMs: 1000,
      retryDelayMs: 10,
      maxBacklog: 3,
    });
    for (let v = 1; v <= 5; v++) await r.ship(rec(v));
    expect(r.pending).toBe(3);
    expect(r.dropped).toBe(2);
    stream.down = false;
    const deadline = Date.now() + 5000;
    while (r.pending > 0 && Date.now() < deadline) await Bun.sleep(10);
    expect(stream.appended.map((x) => x.version)).toEqual([3, 4, 5]);
    await r.ship(rec(6));
    expect(stream.appended.map((x) => x.version)).toEqual([3, 4, 5, 6]);
    expect(r.pending).toBe(0);
    await r.stop();
  });
});
