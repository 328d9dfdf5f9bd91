import { headers as natsHeaders, type MsgHdrs } from "nats";
import { invalidArgument } from "@prism/sdk";

/** Headers the pattern sets itself; user metadata may not use these names. */
export const ID_HEADER = "Prism-Id";
export const TIME_HEADER = "Prism-Time";
export const KEY_HEADER = "Prism-Key";
/** A queue dead letter's own fields (nats/queue_dead_letters.ts). */
export const DEAD_LETTER_HEADERS = {
  id: "Prism-DL-Id",
  attempts: "Prism-DL-Attempts",
  error: "Prism-DL-Error",
  published: "Prism-DL-Published",
  at: "Prism-DL-At",
} as const;
const RESERVED = new Set([ID_HEADER, TIME_HEADER, KEY_HEADER, ...Object.values(DEAD_LETTER_HEADERS)].map((h) => h.toLowerCase()));

/** NATS gives headers starting with this meaning (Nats-Msg-Id deduplicates, Nats-Expected-* are preconditions). */
const NATS_PREFIX = "nats-";

/** Prism metadata plus the pattern's own fields as NATS headers; INVALID_ARGUMENT for names NATS cannot carry. */
export function toHeaders(metadata: Record<string, string>, own: Record<string, string>): MsgHdrs {
  const h = natsHeaders();
  for (const k in metadata) {
    const lower = k.toLowerCase();
    if (RESERVED.has(lower) || lower.startsWith(NATS_PREFIX)) throw invalidArgument(`metadata key "${k}" is reserved (by the NATS pattern or by NATS)`);
    try {
      h.set(k, metadata[k]!);
    } catch (err) {
      throw invalidArgument(`metadata key "${k}" cannot be a NATS header: ${(err as Error).message}`);
    }
  }
  for (const k in own) h.set(k, own[k]!);
  return h;
}

/** User metadata of a received message (the pattern's own headers removed). */
export function metadataOf(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const [k, values] of h) {
    const lower = k.toLowerCase();
    if (RESERVED.has(lower) || lower.startsWith(NATS_PREFIX)) continue;
    out[k] = values[values.length - 1] ?? "";
  }
  return out;
}

/** Bytes the headers take on the wire, for max_payload checks. */
export function headerBytes(h: MsgHdrs): number {
  return (h as unknown as { encode(): Uint8Array }).encode().byteLength;
}
