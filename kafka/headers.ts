import type { IHeaders } from "kafkajs";

/** Kafka record headers (bytes) as Prism metadata (strings, UTF-8); repeated headers keep the last value. */
export function headersToMetadata(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const k in headers) {
    let v = headers[k];
    if (Array.isArray(v)) v = v[v.length - 1];
    if (v === undefined) continue;
    out[k] = typeof v === "string" ? v : v.toString("utf8");
  }
  return out;
}
