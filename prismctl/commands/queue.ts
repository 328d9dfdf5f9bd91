import { intFlag, listFlag, UsageError } from "../args";
import type { Command } from "../command";
import { table, toJson } from "../output";

const decoder = new TextDecoder();
const time = (ms: bigint) => (ms === 0n ? "-" : new Date(Number(ms)).toISOString());

/** KEY=VALUE words of --header as headers. */
function headersOf(words: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    const i = w.indexOf("=");
    if (i <= 0) throw new UsageError(`--header must be KEY=VALUE, got "${w}"`);
    out[w.slice(0, i)] = w.slice(i + 1);
  }
  return out;
}

/** Producer/Consumer commands (prism.patterns.producer / prism.patterns.consumer). */
export const QUEUE_COMMANDS: Command[] = [
  {
    group: "queue",
    verb: "publish",
    args: "TOPIC PAYLOAD…",
    arity: [2, 1000],
    flags: ["key", "header"],
    summary: "publish one message per PAYLOAD (--key K: ordering key, --header K=V repeated); several go as one batch",
    async run(ctx, [topic, ...payloads]) {
      const q = (await ctx.client()).queue;
      const message = (payload: string) => ({ payload, key: ctx.inv.flags.key, headers: headersOf(listFlag(ctx.inv, "header")) });
      const results = payloads.length === 1 ? [await q.publish(topic!, message(payloads[0]!))] : (await q.publishBatch(topic!, payloads.map(message))).results;
      if (ctx.inv.json) ctx.io.out(toJson(results.map((r) => ({ message_id: r.messageId, duplicate: r.duplicate }))));
      else for (const r of results) ctx.io.out(`${r.messageId}${r.duplicate ? " (duplicate)" : ""}`);
      return 0;
    },
  },
  {
    group: "queue",
    verb: "consume",
    args: "TOPIC GROUP",
    arity: 2,
    flags: ["count", "max-in-flight", "nack", "no-ack"],
    summary: "print deliveries and ack each (--nack: give each back instead, --no-ack: leave them; --count N: stop after N)",
    async run(ctx, [topic, group]) {
      const q = (await ctx.client()).queue;
      const limit = intFlag(ctx.inv, "count");
      const nack = ctx.inv.flags.nack === "true";
      const noAck = ctx.inv.flags["no-ack"] === "true";
      if (nack && noAck) throw new UsageError("--nack and --no-ack exclude each other");
      let n = 0;
      try {
        for await (const d of q.consume(topic!, group!, { signal: ctx.signal, maxInFlight: intFlag(ctx.inv, "max-in-flight") })) {
          ctx.io.out(
            ctx.inv.json
              ? toJson({
                  message_id: d.messageId,
                  payload: d.payload,
                  key: d.key,
                  headers: d.headers,
                  delivery_attempt: d.deliveryAttempt,
                  published_at: d.publishedAt,
                })
              : `${d.messageId} (attempt ${d.deliveryAttempt}): ${decoder.decode(d.payload)}`,
          );
          if (nack) await d.nack({ error: "nacked by prismctl" });
          else if (!noAck) await d.ack();
          if (limit > 0 && ++n >= limit) break;
        }
      } catch (err) {
        if (ctx.signal.aborted) return 0;
        throw err;
      }
      return 0;
    },
  },
  {
    group: "queue",
    verb: "dead-letters",
    aliases: ["dlq"],
    args: "TOPIC GROUP",
    arity: 2,
    flags: ["limit"],
    summary: "the group's dead letters: id, attempts, last error, payload (exit 3 when the backend keeps none)",
    async run(ctx, [topic, group]) {
      const q = (await ctx.client()).queue;
      const limit = intFlag(ctx.inv, "limit");
      const rows = [];
      for await (const m of q.allDeadLetters(topic!, group!)) {
        rows.push(m);
        if (limit > 0 && rows.length >= limit) break;
      }
      if (ctx.inv.json)
        ctx.io.out(
          toJson(
            rows.map((m) => ({
              message_id: m.messageId,
              payload: m.payload,
              key: m.key,
              delivery_attempts: m.deliveryAttempts,
              last_error: m.lastError,
              dead_lettered_at: m.deadLetteredAt,
            })),
          ),
        );
      else
        for (const line of table(
          ctx.io,
          ["MESSAGE", "ATTEMPTS", "DEAD SINCE", "LAST ERROR", "PAYLOAD"],
          rows.map((m) => [m.messageId, String(m.deliveryAttempts), time(m.deadLetteredAt), m.lastError || "-", decoder.decode(m.payload)]),
        ))
          ctx.io.out(line);
      return 0;
    },
  },
  {
    group: "queue",
    verb: "redrive",
    args: "TOPIC GROUP [MESSAGE_ID…]",
    arity: [2, 1000],
    summary: "put dead letters back on the group's queue (none named: all of them)",
    async run(ctx, [topic, group, ...ids]) {
      const r = await (await ctx.client()).queue.redrive(topic!, group!, ids);
      ctx.io.out(ctx.inv.json ? toJson({ redriven: r.redriven }) : `redriven ${r.redriven}`);
      return 0;
    },
  },
  {
    group: "queue",
    verb: "stats",
    args: "TOPIC GROUP",
    arity: 2,
    summary: "pending, in flight, dead-lettered and totals of a group",
    async run(ctx, [topic, group]) {
      const s = await (await ctx.client()).queue.stats(topic!, group!);
      const fields = {
        pending: s.pending,
        in_flight: s.inFlight,
        dead_lettered: s.deadLettered,
        delivered_total: s.deliveredTotal,
        acked_total: s.ackedTotal,
        redelivered_total: s.redeliveredTotal,
      };
      if (ctx.inv.json) ctx.io.out(toJson(fields));
      else for (const [k, v] of Object.entries(fields)) ctx.io.out(`${k.padEnd(17)} ${v}`);
      return 0;
    },
  },
];
