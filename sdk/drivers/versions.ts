import { Code, PrismError } from "../errors";
import type { WriteOptions } from "./idempotency";
import type { MaybePromise } from "./interfaces";

/** Trailing metadata of an ABORTED conditional write: the key's current version ("" = the key does not exist). */
export const CURRENT_VERSION_HEADER = "x-prism-current-version";

/** A value with its version: opaque, different after every write of the key. */
export interface VersionedValue {
  value: Uint8Array;
  version: string;
  /** From a driver that stores tags (Driver.storesTags): the value's tags, absent = none. */
  tags?: Record<string, string>;
}

/**
 * Conditional writes (compare-and-set by version). `expected`: undefined = unconditional, "" = the key must not
 * exist, else the version the key must have; a mismatch throws versionMismatch (ABORTED). Keyed writes (write)
 * are applied once, as for the plain methods.
 */
export interface KeyValueVersionedDriver {
  getVersioned(key: string): MaybePromise<VersionedValue | undefined>;
  /** Stores and answers the new version. */
  setVersioned(
    key: string,
    value: Uint8Array,
    ttlSeconds: number,
    expected: string | undefined,
    write?: WriteOptions,
    tags?: Record<string, string>,
  ): MaybePromise<string>;
  /** True when the key existed. */
  deleteVersioned(key: string, expected: string | undefined, write?: WriteOptions): MaybePromise<boolean>;
}

/** ABORTED: the key's version is not the expected one; the current version travels in x-prism-current-version. */
export function versionMismatch(key: string, expected: string, current: string | undefined): PrismError {
  const want = expected === "" ? "to be absent" : `at version ${expected}`;
  const have = current === undefined ? "it does not exist" : `its version is ${current}`;
  return new PrismError(Code.ABORTED, `conditional write of ${JSON.stringify(key)} expected it ${want}, but ${have}`, {
    metadata: { [CURRENT_VERSION_HEADER]: current ?? "" },
  });
}

/** Whether a key at `current` (undefined = absent) satisfies `expected`. */
export function versionMatches(expected: string | undefined, current: string | undefined): boolean {
  if (expected === undefined) return true;
  if (expected === "") return current === undefined;
  return current === expected;
}
