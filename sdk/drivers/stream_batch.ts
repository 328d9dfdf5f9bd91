import type { StreamAppend, StreamDriver, StreamPlace } from "./interfaces";

/**
 * Appends `records` to `stream`: through the driver's own appendBatch when it has one, else emulated with
 * single appends — concurrent, but in waves so that two records of one key are never in flight together and
 * are stored in the order given. Resolves with every place in order; rejects with the first failure once the
 * wave it belongs to has settled (records of earlier waves, and others of its wave, may have been stored).
 */
export async function appendBatch(driver: StreamDriver, stream: string, records: readonly StreamAppend[]): Promise<StreamPlace[]> {
  if (records.length === 0) return [];
  if (driver.appendBatch) return driver.appendBatch(stream, records);
  const places: StreamPlace[] = new Array(records.length);
  for (const wave of waves(records)) {
    const settled = await Promise.allSettled(
      wave.map(async (i) => {
        const r = records[i]!;
        places[i] = await driver.append(stream, r.payload, r.metadata, r.key, r.write);
      }),
    );
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
  return places;
}

/** Indexes of `records` grouped so that a wave holds each key at most once and follows the earlier records of its keys. */
function waves(records: readonly StreamAppend[]): number[][] {
  const out: number[][] = [];
  const waveOfKey = new Map<string, number>();
  records.forEach((r, i) => {
    const w = (waveOfKey.get(r.key) ?? -1) + 1;
    waveOfKey.set(r.key, w);
    (out[w] ??= []).push(i);
  });
  return out;
}
