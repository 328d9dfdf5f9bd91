import { randomBytes } from "node:crypto";
import type { WriteOptions } from "../drivers/idempotency";
import type { KeyValueBasicDriver } from "../drivers/interfaces";
import type { KeyValueVersionedDriver, VersionedValue } from "../drivers/versions";
import { Code, invalidArgument, PrismError } from "../errors";
import type { KeyLister } from "./scan";
import { movedChunk } from "./collect_hint";

/**
 * Values past the single-message limit, stored as chunks under internal keys with a manifest written last at the
 * value's own key. Layout under CHUNK_PREFIX:
 *   claims/<gen>         {key, touchedAt}: whose chunk set this is and when a writer or reader last used it;
 *   data/<gen>/<index>   the chunks, in order.
 * A chunk set (one generation) is never changed after its manifest went out, so a reader that read the manifest
 * reads exactly that value: never a mix with a concurrent overwrite. Overwrite, delete and expiry only replace or
 * remove the manifest; a sweep deletes the chunk sets no manifest names once nobody touched their claim for
 * `graceMs` (writers and readers touch it while they work), which also reclaims a writer that died half-way.
 */
export const CHUNK_PREFIX = "\u007fprism-chunks/";
const CLAIMS = `${CHUNK_PREFIX}claims/`;
const DATA = `${CHUNK_PREFIX}data/`;

/** Starts a stored manifest; a value that starts otherwise is an ordinary value. */
const MARKER = new Uint8Array([0x00, 0x50, 0x43, 0x48, 0x55, 0x4e, 0x4b, 0x01]); // \0 "PCHUNK" version 1
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface Manifest {
  gen: string;
  /** The value's length in bytes. */
  size: number;
  chunks: number;
}

export function encodeManifest(m: Manifest): Uint8Array {
  const body = encoder.encode(JSON.stringify(m));
  const out = new Uint8Array(MARKER.length + body.length);
  out.set(MARKER, 0);
  out.set(body, MARKER.length);
  return out;
}

/** The manifest a stored value is, or undefined for an ordinary value. */
export function decodeManifest(stored: Uint8Array): Manifest | undefined {
  if (stored.byteLength < MARKER.length + 2 || MARKER.some((b, i) => stored[i] !== b)) return undefined;
  try {
    const m = JSON.parse(decoder.decode(stored.subarray(MARKER.length))) as Manifest;
    return typeof m.gen === "string" && Number.isSafeInteger(m.size) && Number.isSafeInteger(m.chunks) ? m : undefined;
  } catch {
    return undefined;
  }
}

export const claimKey = (gen: string) => `${CLAIMS}${gen}`;
export const chunkKey = (gen: string, i: number) => `${DATA}${gen}/${i.toString().padStart(8, "0")}`;

/** Whether a key is one of the chunk store's own (hidden from scans that do not ask for CHUNK_PREFIX). */
export function isChunkKey(key: string): boolean {
  return key.charCodeAt(0) === 0x7f && key.startsWith(CHUNK_PREFIX);
}

export interface ChunkedOptions {
  /** Bytes per stored chunk. */
  chunkBytes: number;
  /** How long a chunk set nobody touches stays when no manifest names it. */
  graceMs: number;
  /** How often the sweep runs (0 = never on its own: tests call sweep()). */
  sweepIntervalMs: number;
  /** A chunked value up to this size is also read whole by Retrieve / Get. */
  maxMessageValueBytes: () => number;
  /** Largest value a stream may store. */
  maxStreamValueBytes: () => number;
  onSweepError?: (err: unknown) => void;
  now?: () => number;
}

export interface StreamWrite {
  ttlSeconds: number;
  expected: string | undefined;
  write?: WriteOptions;
  tags?: Record<string, string>;
  /** The length the writer declared: a stream ending short of it or going past it stores nothing. */
  totalSize: number;
}

export interface StreamRead {
  version: string;
  size: number;
  tags?: Record<string, string>;
  /** The value's bytes in order; ABORTED if its chunk set was reclaimed under the reader (overwritten long ago). */
  chunks: AsyncIterable<Uint8Array>;
}

type Store = KeyValueBasicDriver & Partial<KeyValueVersionedDriver>;

/** RESOURCE_EXHAUSTED for a unary read of a chunked value past one message. */
function tooLargeForMessage(key: string, size: number, limit: number): PrismError {
  return new PrismError(
    Code.RESOURCE_EXHAUSTED,
    `value of ${JSON.stringify(key)} is ${size} bytes, stored chunked, over the single-message limit of ${limit}: read it with RetrieveStream`,
  );
}

/** Bytes per message RetrieveStream sends of an ordinary (single-record) value. */
const MESSAGE_SLICE = 1 << 20;

/**
 * The chunk store over one (already emulated) driver: `raw` reads and writes records as stored (manifests
 * included). Built once per namespace by the emulation layer.
 */
export class ChunkedValues {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sweeping: Promise<number> | undefined;
  private readonly now: () => number;
  /** Sweeps in a row that found no chunk set at all. */
  private idleSweeps = 0;
  private closed = false;

  constructor(
    private readonly raw: Store,
    private readonly list: KeyLister,
    private readonly o: ChunkedOptions,
  ) {
    this.now = o.now ?? Date.now;
    this.schedule();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /**
   * The next sweep: after sweepIntervalMs, or, while sweeps find no chunk set at all, up to 64 times later (on
   * some backends listing the chunk store's prefix scans the whole keyspace; most namespaces hold no large value).
   */
  private schedule(): void {
    if (this.closed || this.o.sweepIntervalMs <= 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.sweep()
          .catch((err) => this.o.onSweepError?.(err))
          .finally(() => {
            if (this.timer === undefined) this.schedule();
          });
      },
      this.o.sweepIntervalMs * 2 ** Math.min(this.idleSweeps, 6),
    );
    this.timer.unref();
  }

  /** This process starts a chunk set: sweeps go back to their base interval. */
  private wake(): void {
    if (this.idleSweeps === 0) return;
    this.idleSweeps = 0;
    if (this.timer) this.schedule();
  }

  /**
   * A stored record as the value it stands for: an ordinary value as it is, a manifest's chunks read whole when
   * the value fits one message, else RESOURCE_EXHAUSTED pointing to RetrieveStream.
   */
  async resolve(key: string, stored: Uint8Array): Promise<Uint8Array> {
    const m = decodeManifest(stored);
    if (m === undefined) return stored;
    const limit = this.o.maxMessageValueBytes();
    if (m.size > limit) throw tooLargeForMessage(key, m.size, limit);
    const out = new Uint8Array(m.size);
    let at = 0;
    for await (const c of this.readChunks(key, m)) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }

  /** Stores a value from a stream of byte chunks; answers the version of the record written (manifest or value). */
  async store(key: string, source: AsyncIterable<Uint8Array>, w: StreamWrite): Promise<string> {
    const max = this.o.maxStreamValueBytes();
    if (w.totalSize > max) throw invalidArgument(`total_size of ${w.totalSize} bytes is over the limit of ${max}`);
    const size = this.o.chunkBytes;
    let buf = new Uint8Array(size);
    let fill = 0;
    let total = 0;
    let set: ChunkSetWriter | undefined;
    let sent = false;
    try {
      for await (const part of source) {
        total += part.byteLength;
        if (total > max) throw invalidArgument(`value is over the limit of ${max} bytes`);
        if (total > w.totalSize) throw invalidArgument(`the stream carries more than its total_size of ${w.totalSize} bytes`);
        let off = 0;
        while (off < part.byteLength) {
          if (fill === size) {
            if (set === undefined) {
              this.wake();
              set = await ChunkSetWriter.start(this.raw, key, this.now, this.o.graceMs);
            }
            await set.append(buf);
            buf = new Uint8Array(size);
            fill = 0;
          }
          const n = Math.min(size - fill, part.byteLength - off);
          buf.set(part.subarray(off, off + n), fill);
          fill += n;
          off += n;
        }
      }
      if (total !== w.totalSize) throw invalidArgument(`the stream ended after ${total} of its total_size of ${w.totalSize} bytes: nothing stored`);
      // Fits one chunk: an ordinary record, readable by Retrieve as any other.
      if (set === undefined) return await this.writeRecord(key, buf.subarray(0, fill), w);
      if (fill > 0) await set.append(buf.subarray(0, fill));
      sent = true;
      const version = await this.writeRecord(key, encodeManifest({ gen: set.gen, size: total, chunks: set.count }), w);
      set.finish();
      return version;
    } catch (err) {
      // Never made visible: reclaimed now (the sweep does it if this fails too). Once the manifest was sent its
      // outcome may be unknown: only the sweep, which checks that no manifest names the set, may reclaim it.
      if (set && !sent) await set.abandon().catch(() => undefined);
      else set?.finish();
      throw err;
    }
  }

  private async writeRecord(key: string, value: Uint8Array, w: StreamWrite): Promise<string> {
    const r = this.raw;
    if (r.setVersioned) return await r.setVersioned(key, value, w.ttlSeconds, w.expected, w.write, w.tags);
    await (w.write ? r.set(key, value, w.ttlSeconds, w.write) : r.set(key, value, w.ttlSeconds));
    return "";
  }

  /** A value as a stream (undefined when absent). */
  async retrieve(key: string): Promise<StreamRead | undefined> {
    const r = this.raw;
    const rec = r.getVersioned ? await r.getVersioned(key) : await plainRecord(r, key);
    if (rec === undefined) return undefined;
    const m = decodeManifest(rec.value);
    const base = { version: rec.version, ...(rec.tags ? { tags: rec.tags } : {}) };
    if (m === undefined) {
      const v = rec.value;
      return {
        ...base,
        size: v.byteLength,
        chunks: (async function* () {
          for (let at = 0; at < v.byteLength; at += MESSAGE_SLICE) yield v.subarray(at, at + MESSAGE_SLICE);
        })(),
      };
    }
    return { ...base, size: m.size, chunks: this.readChunks(key, m) };
  }

  /** A manifest's chunks in order, keeping its claim touched while reading. */
  private async *readChunks(key: string, m: Manifest): AsyncGenerator<Uint8Array> {
    const touch = new Toucher(this.raw, key, m.gen, this.now, this.o.graceMs);
    try {
      await touch.now();
      let read = 0;
      for (let i = 0; i < m.chunks; i++) {
        const c = await this.raw.get(chunkKey(m.gen, i));
        if (c === undefined)
          throw new PrismError(
            Code.ABORTED,
            `value of ${JSON.stringify(key)} was overwritten or deleted while it was read (chunk ${i} is gone): read it again`,
          );
        read += c.byteLength;
        movedChunk(c.byteLength);
        yield c;
      }
      if (read !== m.size) throw new PrismError(Code.DATA_LOSS, `value of ${JSON.stringify(key)}: its chunks hold ${read} bytes, its manifest says ${m.size}`);
    } finally {
      touch.stop();
    }
  }

  /**
   * Deletes the chunk sets no manifest names whose claim nobody touched for graceMs; answers how many. One sweep
   * at a time (a call during one joins it).
   */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    const signal = new AbortController().signal;
    const gens = new Set<string>();
    for await (const k of this.list(CLAIMS, signal)) gens.add(k.slice(CLAIMS.length));
    // Chunk data without a claim: a sweep that died between deleting the claim's chunks and the claim, or a
    // writer that died between its first chunk and its claim (the claim goes first, so only the former).
    const orphanData = new Set<string>();
    for await (const k of this.list(DATA, signal)) {
      const gen = k.slice(DATA.length, k.lastIndexOf("/"));
      if (!gens.has(gen)) orphanData.add(gen);
    }
    this.idleSweeps = gens.size === 0 && orphanData.size === 0 ? this.idleSweeps + 1 : 0;
    const cutoff = this.now() - this.o.graceMs;
    let reclaimed = 0;
    for (const gen of gens) {
      const claim = await this.raw.get(claimKey(gen));
      if (claim === undefined) continue;
      const c = parseClaim(claim);
      if (c && c.touchedAt > cutoff) continue;
      if (c) {
        const stored = await this.raw.get(c.key);
        if (stored !== undefined && decodeManifest(stored)?.gen === gen) continue;
      }
      await this.deleteSet(gen);
      reclaimed++;
    }
    for (const gen of orphanData) {
      if (genTime(gen) > cutoff) continue;
      await this.deleteData(gen);
      reclaimed++;
    }
    return reclaimed;
  }

  private async deleteData(gen: string): Promise<void> {
    const keys: string[] = [];
    for await (const k of this.list(`${DATA}${gen}/`, new AbortController().signal)) keys.push(k);
    for (const k of keys) await this.raw.delete(k);
  }

  private async deleteSet(gen: string): Promise<void> {
    await this.deleteData(gen);
    await this.raw.delete(claimKey(gen));
  }
}

async function plainRecord(r: Store, key: string): Promise<VersionedValue | undefined> {
  const value = await r.get(key);
  return value === undefined ? undefined : { value, version: "" };
}

function parseClaim(v: Uint8Array): { key: string; touchedAt: number } | undefined {
  try {
    const c = JSON.parse(decoder.decode(v)) as { key: string; touchedAt: number };
    return typeof c.key === "string" && typeof c.touchedAt === "number" ? c : undefined;
  } catch {
    return undefined;
  }
}

/** A generation id: its start time (base 36 ms, so ids sort by age) and randomness. */
function newGen(now: number): string {
  return `${now.toString(36).padStart(9, "0")}-${randomBytes(8).toString("hex")}`;
}

function genTime(gen: string): number {
  const t = Number.parseInt(gen.slice(0, gen.indexOf("-")), 36);
  return Number.isFinite(t) ? t : 0;
}

/** Rewrites a chunk set's claim (key and time) now and every graceMs / 4 until stopped. */
class Toucher {
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;

  constructor(
    private readonly raw: Store,
    private readonly key: string,
    private readonly gen: string,
    private readonly clock: () => number,
    graceMs: number,
  ) {
    this.timer = setInterval(() => void this.now().catch(() => undefined), Math.max(10, graceMs / 4));
    this.timer.unref();
  }

  async now(): Promise<void> {
    if (this.stopped) return;
    await this.raw.set(claimKey(this.gen), encoder.encode(JSON.stringify({ key: this.key, touchedAt: this.clock() })), 0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** One writer's chunk set: claim first, then chunks in order. */
class ChunkSetWriter {
  count = 0;

  private constructor(
    private readonly raw: Store,
    readonly gen: string,
    private readonly touch: Toucher,
  ) {}

  static async start(raw: Store, key: string, now: () => number, graceMs: number): Promise<ChunkSetWriter> {
    const gen = newGen(now());
    const touch = new Toucher(raw, key, gen, now, graceMs);
    try {
      await touch.now();
    } catch (err) {
      touch.stop();
      throw err;
    }
    return new ChunkSetWriter(raw, gen, touch);
  }

  async append(chunk: Uint8Array): Promise<void> {
    await this.raw.set(chunkKey(this.gen, this.count), chunk, 0);
    this.count++;
    movedChunk(chunk.byteLength);
  }

  /** The manifest naming this set is out: stop touching (it is referenced now). */
  finish(): void {
    this.touch.stop();
  }

  /** Deletes what was written (the value never became visible). */
  async abandon(): Promise<void> {
    this.touch.stop();
    for (let i = this.count - 1; i >= 0; i--) await this.raw.delete(chunkKey(this.gen, i));
    await this.raw.delete(claimKey(this.gen));
  }
}
