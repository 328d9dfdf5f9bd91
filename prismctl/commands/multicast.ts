import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { where } from "../../client/src/index";
import { intFlag, UsageError } from "../args";
import type { Command } from "../command";
import { table, toJson } from "../output";
import { printStream } from "./stream_items";

/** A word's JSON value when it is JSON (numbers, true, null, quoted strings), else the word as a string. */
function jsonish(s: string): JsonValue {
  try {
    return JSON.parse(s) as JsonValue;
  } catch {
    return s;
  }
}

/** FIELD=VALUE words as metadata. */
export function metadataOf(words: string[]): JsonObject {
  const out: JsonObject = {};
  for (const w of words) {
    const i = w.indexOf("=");
    if (i <= 0) throw new UsageError(`metadata must be FIELD=VALUE, got "${w}"`);
    out[w.slice(0, i)] = jsonish(w.slice(i + 1));
  }
  return out;
}

/** Conditions ANDed: FIELD=V, FIELD!=V, FIELD<N, FIELD<=N, FIELD>N, FIELD>=N, FIELD~GLOB, FIELD? (exists). */
export function filterOf(words: string[]): ReturnType<typeof where.and> | undefined {
  if (words.length === 0) return undefined;
  const conditions = words.map((w) => {
    const m = /^([^=!<>~?]+)(=|!=|<=|>=|<|>|~|\?)(.*)$/.exec(w);
    if (!m) throw new UsageError(`a filter is FIELD=V, FIELD!=V, FIELD<N, FIELD>N, FIELD~GLOB or FIELD?, got "${w}"`);
    const [, field, op, raw] = m as unknown as [string, string, string, string];
    const num = () => {
      const n = Number(raw);
      if (raw === "" || Number.isNaN(n)) throw new UsageError(`"${w}": ${op} needs a number`);
      return n;
    };
    switch (op) {
      case "=":
        return where.eq(field, jsonish(raw));
      case "!=":
        return where.ne(field, jsonish(raw));
      case "<":
        return where.lt(field, num());
      case "<=":
        return where.lte(field, num());
      case ">":
        return where.gt(field, num());
      case ">=":
        return where.gte(field, num());
      case "~":
        return where.wildcard(field, raw);
      default:
        return where.exists(field);
    }
  });
  return conditions.length === 1 ? conditions[0] : where.and(...conditions);
}

const decoder = new TextDecoder();
const time = (ms: bigint | undefined) => (ms === undefined || ms === 0n ? "-" : new Date(Number(ms)).toISOString());

/** The Multicast Registry (prism.patterns.multicast_registry). */
export const MULTICAST_COMMANDS: Command[] = [
  {
    group: "multicast",
    verb: "register",
    args: "IDENTITY [FIELD=VALUE…]",
    arity: [1, 64],
    flags: ["ttl"],
    summary: "register (or refresh) an identity with metadata (--ttl SECONDS)",
    async run(ctx, [identity, ...meta]) {
      const r = await (await ctx.client()).multicast.register(identity!, metadataOf(meta), { ttlSeconds: intFlag(ctx.inv, "ttl") });
      ctx.io.out(ctx.inv.json ? toJson({ identity, created: r.created, expires_at: r.expiresAt || null }) : r.created ? "registered" : "refreshed");
      return 0;
    },
  },
  {
    group: "multicast",
    verb: "unregister",
    args: "IDENTITY",
    arity: 1,
    summary: "remove an identity (exit 1 when not registered)",
    async run(ctx, [identity]) {
      const r = await (await ctx.client()).multicast.unregister(identity!);
      ctx.io.out(ctx.inv.json ? toJson({ identity, found: r.found }) : r.found ? "unregistered" : `(not found) ${identity}`);
      return r.found ? 0 : 1;
    },
  },
  {
    group: "multicast",
    verb: "enumerate",
    aliases: ["list"],
    args: "[FILTER…]",
    arity: [0, 64],
    flags: ["limit"],
    summary: "identities matching every condition (FIELD=V, FIELD!=V, FIELD>N, FIELD~GLOB, FIELD?)",
    async run(ctx, conditions) {
      const mc = (await ctx.client()).multicast;
      const limit = intFlag(ctx.inv, "limit");
      const rows = [];
      for await (const id of mc.identities(filterOf(conditions))) {
        rows.push(id);
        if (limit > 0 && rows.length >= limit) break;
      }
      if (ctx.inv.json)
        ctx.io.out(
          toJson(
            rows.map((i) => ({
              identity: i.identity,
              metadata: i.metadata,
              registered_at: i.registeredAt,
              expires_at: i.expiresAt ?? null,
              subscribed: i.subscribed,
            })),
          ),
        );
      else
        for (const line of table(
          ctx.io,
          ["IDENTITY", "SUBSCRIBED", "EXPIRES", "METADATA"],
          rows.map((i) => [i.identity, i.subscribed ? "yes" : "no", time(i.expiresAt), JSON.stringify(i.metadata ?? {})]),
        ))
          ctx.io.out(line);
      return 0;
    },
  },
  {
    group: "multicast",
    verb: "send",
    aliases: ["multicast"],
    args: "PAYLOAD [FILTER…]",
    arity: [1, 64],
    flags: ["timeout-ms"],
    summary: "send a payload to every identity matching the filter (exit 1 when a delivery failed)",
    async run(ctx, [payload, ...conditions]) {
      const r = await (await ctx.client()).multicast.multicast({
        filter: filterOf(conditions),
        payload: new TextEncoder().encode(payload!),
        timeoutMs: intFlag(ctx.inv, "timeout-ms"),
      });
      if (ctx.inv.json) ctx.io.out(toJson(r));
      else {
        ctx.io.out(`targets ${r.targetCount}, delivered ${r.deliveredCount}, failed ${r.failedCount}${r.queuedCount ? `, queued ${r.queuedCount}` : ""}`);
        for (const d of r.results.filter((x) => x.error)) ctx.io.out(`  ${d.identity}: ${d.error}`);
      }
      return r.failedCount > 0 ? 1 : 0;
    },
  },
  {
    group: "multicast",
    verb: "subscribe",
    args: "IDENTITY",
    arity: 1,
    flags: ["count"],
    summary: "print what is sent to an identity (--count N: stop after N; Ctrl-C ends)",
    async run(ctx, [identity]) {
      const mc = (await ctx.client()).multicast;
      return printStream(
        ctx,
        mc.subscribe(identity!, { signal: ctx.signal }),
        (m) => decoder.decode(m.payload),
        (m) => toJson({ identity, message_id: m.messageId, payload: m.payload, timestamp: m.timestamp }),
      );
    },
  },
];
