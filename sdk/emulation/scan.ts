import type { ScanEntry, ScanOptions } from "../drivers/interfaces";
import { invalidArgument } from "../errors";
import { pipeline, SKIP } from "../concurrency/pipeline";
import type { CountOp } from "./expiry";

/** Every key starting with prefix, in any order (a driver's listKeys, or its native scan read for keys). */
export type KeyLister = (prefix: string, signal: AbortSignal) => AsyncIterable<string> | Iterable<string>;

/** A key's current value, or undefined when absent (or expired). */
export type ValueReader = (key: string) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

const CURSOR_TAG = "k1.";

/** The cursor after `key`: the last key of a page, so the next page starts after it whatever changed since. */
export function encodeCursor(key: string): string {
  return CURSOR_TAG + Buffer.from(key, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): string {
  if (!cursor.startsWith(CURSOR_TAG)) throw invalidArgument("cursor is not one this scan returned");
  const key = Buffer.from(cursor.slice(CURSOR_TAG.length), "base64url").toString("utf8");
  if (encodeCursor(key) !== cursor) throw invalidArgument("cursor is malformed");
  return key;
}

export interface ListingScanOptions {
  list: KeyLister;
  /** Reads values (include_values) and confirms liveness when `verify`. */
  read: ValueReader;
  /** Read every listed key before returning it (expiry emulation: a listed key may be expired). */
  verify: boolean;
  concurrency: number;
  count: CountOp;
}

/**
 * Scan over a backend that can only list keys. Each page lists the prefix's keys, keeps those after the cursor,
 * sorts them (UTF-16 code unit order, as memstore) and returns the first `limit`. The cursor is the page's last
 * key, so a page never repeats or skips a key present throughout, while other keys come and go. Values (and, with
 * `verify`, liveness) are read with bounded concurrency; a key deleted between listing and reading is left out.
 * Cost: a listing of the whole prefix per page.
 */
export async function* listingScan(opts: ScanOptions, o: ListingScanOptions): AsyncIterable<ScanEntry> {
  o.count("scan");
  const after = opts.cursor === "" ? undefined : decodeCursor(opts.cursor);
  const keys: string[] = [];
  for await (const k of o.list(opts.prefix, opts.signal)) {
    if (k.startsWith(opts.prefix) && (after === undefined || k > after)) keys.push(k);
  }
  opts.signal.throwIfAborted();
  keys.sort();
  const limit = opts.limit > 0 ? opts.limit : Infinity;
  const needRead = opts.withValues || o.verify;
  if (!needRead) {
    const page = keys.slice(0, limit);
    for (let i = 0; i < page.length; i++) {
      const more = i === page.length - 1 && keys.length > page.length;
      yield more ? { key: page[i]!, nextCursor: encodeCursor(page[i]!) } : { key: page[i]! };
    }
    return;
  }
  // Read in key order; hold each entry back until the next live one shows whether the page continues.
  const entries = pipeline(
    keys,
    [
      {
        concurrency: o.concurrency,
        transform: async (key: string) => {
          const value = await o.read(key);
          return value === undefined ? SKIP : { key, value };
        },
      },
    ],
    { signal: opts.signal, bufferSize: o.concurrency },
  );
  let held: ScanEntry | undefined;
  let sent = 0;
  for await (const e of entries as AsyncIterable<{ key: string; value: Uint8Array }>) {
    if (held !== undefined) {
      if (sent + 1 === limit) {
        yield { ...held, nextCursor: encodeCursor(held.key) };
        return;
      }
      yield held;
      sent++;
    }
    held = opts.withValues ? e : { key: e.key };
  }
  if (held !== undefined) yield held;
}

/** Count over a key listing; with `verify`, only keys that read as live. */
export async function listingCount(prefix: string, o: ListingScanOptions): Promise<number> {
  o.count("count");
  const signal = new AbortController().signal;
  if (!o.verify) {
    let n = 0;
    for await (const k of o.list(prefix, signal)) if (k.startsWith(prefix)) n++;
    return n;
  }
  const keys: string[] = [];
  for await (const k of o.list(prefix, signal)) if (k.startsWith(prefix)) keys.push(k);
  let n = 0;
  for await (const live of pipeline(keys, [{ concurrency: o.concurrency, ordered: false, transform: async (k: string) => (await o.read(k)) !== undefined }])) {
    if (live) n++;
  }
  return n;
}
