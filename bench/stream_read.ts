/**
 * Stream Read at backend speed: an 8,690-record stream (100-byte records, the size the fault run used) is
 * appended, then read back whole with one non-following Read, best of 3, per backend, directly. memstore (an
 * in-process log) is the reference for what the SDK's streaming costs; a NATS (JetStream) Read took ~2.1 s per
 * 100 records before its fetches asked for the records left (issue 14).
 */
import { randomBytes } from "node:crypto";
import { StreamBasicInterface } from "../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { createClient } from "../sdk/grpc/client";
import { startPattern } from "./processes";

export interface StreamReadResult {
  backend: string;
  records: number;
  /** Best of the rounds, ms from the call to the last record. */
  bestMs: number;
  roundsMs: number[];
  /** Set when the row could not run. */
  reason?: string;
}

export const STREAM_READ_RECORDS = 8_690;

export async function measureStreamRead(backend: "memstore" | "nats" | "redis", rounds = 3): Promise<StreamReadResult> {
  const server = await startPattern(backend);
  const { client, close } = createClient(StreamBasicInterface, server.address);
  const stream = `bench-read-${randomBytes(4).toString("hex")}`;
  const roundsMs: number[] = [];
  try {
    const payload = (i: number) => new TextEncoder().encode(`record-${i}`.padEnd(100, "."));
    for (let i = 0; i < STREAM_READ_RECORDS; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, STREAM_READ_RECORDS - i) }, (_, j) => client.append({ stream, payload: payload(i + j) }, { timeoutMs: 30_000 })),
      );
    }
    let records = 0;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      records = 0;
      for await (const _ of client.read({ stream, partition: 0, fromOffset: 0n, maxRecords: STREAM_READ_RECORDS }, { timeoutMs: 120_000 })) records++;
      roundsMs.push(performance.now() - t0);
    }
    return { backend, records, bestMs: Math.min(...roundsMs), roundsMs };
  } catch (err) {
    return { backend, records: 0, bestMs: Number.NaN, roundsMs, reason: (err as Error).message.slice(0, 200) };
  } finally {
    close();
    await server.stop();
  }
}

export function streamReadMarkdown(rows: StreamReadResult[]): string {
  const lines = ["| backend | records | best ms | rounds ms | records/s |", "| --- | ---: | ---: | --- | ---: |"];
  for (const r of rows) {
    if (r.reason) lines.push(`| ${r.backend} | – | – | not run: ${r.reason} | – |`);
    else
      lines.push(
        `| ${r.backend} | ${r.records} | ${Math.round(r.bestMs)} | ${r.roundsMs.map((m) => Math.round(m)).join(", ")} | ${Math.round((r.records / r.bestMs) * 1000).toLocaleString("en-US")} |`,
      );
  }
  return lines.join("\n") + "\n";
}
