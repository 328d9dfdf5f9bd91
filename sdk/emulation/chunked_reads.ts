import type { ScanEntry, ScanOptions } from "../drivers/interfaces";
import type { VersionedValue } from "../drivers/versions";
import { CHUNK_PREFIX, type ChunkedValues, decodeManifest, isChunkKey } from "./chunked";
import type { KeyLister } from "./scan";

type Methods = Record<string, ((...a: never[]) => unknown) | undefined>;
type Out = Record<string, unknown>;

const CHUNKED = Symbol.for("prism.keyvalue.chunked");

export function attachChunked(driver: object, chunked: ChunkedValues): void {
  Object.defineProperty(driver, CHUNKED, { value: chunked, enumerable: false });
}

/** The chunk store of a wrapped driver (StoreStream / RetrieveStream), or undefined when it has none. */
export function chunkedOf(driver: object): ChunkedValues | undefined {
  return (driver as Record<symbol, ChunkedValues | undefined>)[CHUNKED];
}

/** Whether a listing or scan of `prefix` shows the chunk store's keys (only when it asks for them). */
export function showsChunks(prefix: string): boolean {
  return prefix.startsWith(CHUNK_PREFIX);
}

/** A key listing without the chunk store's keys, unless its prefix asks for them. */
export function hidingLister(list: KeyLister): KeyLister {
  return async function* (prefix, signal) {
    const show = showsChunks(prefix);
    for await (const k of list(prefix, signal)) if (show || !isChunkKey(k)) yield k;
  };
}

const isManifest = (v: Uint8Array | undefined): v is Uint8Array => v !== undefined && decodeManifest(v) !== undefined;

/**
 * Makes the reads of a wrapped driver see values, not manifests: get, getVersioned, batchGet and scan with values
 * read a chunked value whole (or answer RESOURCE_EXHAUSTED past one message), and scan and count leave out the
 * chunk store's keys. An ordinary value costs one marker check; synchronous reads stay synchronous.
 */
export function hideChunks(out: Out, base: Methods, chunked: ChunkedValues): void {
  const get = base.get as ((k: string) => Uint8Array | undefined | Promise<Uint8Array | undefined>) | undefined;
  if (get) {
    const settle = (k: string, v: Uint8Array | undefined) => (isManifest(v) ? chunked.resolve(k, v) : v);
    out.get = (k: string) => {
      const r = get(k);
      return r instanceof Promise ? r.then((v) => settle(k, v)) : settle(k, r);
    };
  }
  const getVersioned = base.getVersioned as ((k: string) => VersionedValue | undefined | Promise<VersionedValue | undefined>) | undefined;
  if (getVersioned) {
    const settle = (k: string, r: VersionedValue | undefined) =>
      r !== undefined && isManifest(r.value) ? chunked.resolve(k, r.value).then((value) => ({ ...r, value })) : r;
    out.getVersioned = (k: string) => {
      const r = getVersioned(k);
      return r instanceof Promise ? r.then((v) => settle(k, v)) : settle(k, r);
    };
  }
  const batchGet = base.batchGet as ((keys: string[]) => (Uint8Array | undefined)[] | Promise<(Uint8Array | undefined)[]>) | undefined;
  if (batchGet) {
    const settle = (keys: string[], vs: (Uint8Array | undefined)[]) =>
      vs.some(isManifest) ? Promise.all(vs.map((v, i) => (isManifest(v) ? chunked.resolve(keys[i]!, v) : v))) : vs;
    out.batchGet = (keys: string[]) => {
      const r = batchGet(keys);
      return r instanceof Promise ? r.then((v) => settle(keys, v)) : settle(keys, r);
    };
  }
  const scan = base.scan as ((s: ScanOptions) => AsyncIterable<ScanEntry> | Iterable<ScanEntry>) | undefined;
  if (scan) out.scan = (s: ScanOptions) => (showsChunks(s.prefix) ? scan(s) : scanWithoutChunks(scan, s, chunked));
  const count = base.count as ((prefix: string) => number | Promise<number>) | undefined;
  if (count)
    out.count = async (prefix: string) => {
      if (showsChunks(prefix) || !CHUNK_PREFIX.startsWith(prefix)) return await count(prefix);
      const [all, chunks] = await Promise.all([count(prefix), count(CHUNK_PREFIX)]);
      return Math.max(0, all - chunks);
    };
}

/**
 * A scan without the chunk store's keys, values resolved. The entry carrying a page's next cursor may be a
 * hidden one: the cursor then moves to the last visible entry (held back one step for that), or, when the page
 * had none, the scan goes on from it.
 */
async function* scanWithoutChunks(
  scan: (s: ScanOptions) => AsyncIterable<ScanEntry> | Iterable<ScanEntry>,
  s: ScanOptions,
  chunked: ChunkedValues,
): AsyncGenerator<ScanEntry> {
  let cursor = s.cursor;
  for (;;) {
    let held: ScanEntry | undefined;
    let next = "";
    for await (const e of scan({ ...s, cursor })) {
      if (e.nextCursor) next = e.nextCursor;
      if (isChunkKey(e.key)) continue;
      if (held) yield held;
      const { nextCursor: _, ...entry } = e;
      held = isManifest(entry.value) ? { ...entry, value: await chunked.resolve(entry.key, entry.value) } : entry;
    }
    if (held) {
      yield next ? { ...held, nextCursor: next } : held;
      return;
    }
    if (next === "" || s.signal.aborted) return;
    cursor = next;
  }
}
