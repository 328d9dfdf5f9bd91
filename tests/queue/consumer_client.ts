/**
 * One consumer of the conformance suite, run as its own process so the suite can kill -9 it mid-run.
 *
 *   bun tests/queue/consumer_client.ts <json options>
 *
 * Consumes `topic` for `group` at the address read from `addressFile` (re-read on every reconnect: a pattern
 * restarted directly may come back elsewhere), acks in small batches, and appends to `logFile` with synchronous
 * writes (they reach the kernel before the ack is sent, so a kill -9 loses none): "D <message id> <attempt>" for
 * each delivery, before acking it. A stream that fails (pattern restart) is reopened after a short pause.
 */
import { appendFileSync, readFileSync } from "node:fs";
import { ConsumerPattern } from "../../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import { createClient } from "../../sdk/grpc/client";

interface Options {
  addressFile: string;
  metadata: Record<string, string>;
  topic: string;
  group: string;
  consumerId: string;
  maxInFlight: number;
  ackDeadlineMs: number;
  logFile: string;
}

const o = JSON.parse(process.argv[2]!) as Options;
const ACK_BATCH = 32;
const ACK_DELAY_MS = 5;

async function session(address: string): Promise<void> {
  const handle = createClient(ConsumerPattern, address);
  const c = handle.client;
  const opts = { metadata: o.metadata };
  let pending: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const tokens = pending;
    pending = [];
    if (tokens.length === 0) return;
    // An ack that fails is not retried: its messages are redelivered after the ack deadline (at least once).
    c.ack({ topic: o.topic, group: o.group, ackTokens: tokens }, { ...opts, timeoutMs: 10_000 }).catch(() => undefined);
  };
  try {
    const stream = c.consume({ topic: o.topic, group: o.group, consumerId: o.consumerId, maxInFlight: o.maxInFlight, ackDeadlineMs: o.ackDeadlineMs }, opts);
    for await (const d of stream) {
      appendFileSync(o.logFile, `D ${d.messageId} ${d.deliveryAttempt}\n`);
      pending.push(d.ackToken);
      if (pending.length >= ACK_BATCH) flush();
      else timer ??= setTimeout(flush, ACK_DELAY_MS);
    }
  } finally {
    flush();
    handle.close();
  }
}

for (;;) {
  try {
    await session(readFileSync(o.addressFile, "utf8").trim());
  } catch {
    // Pattern restarting or unreachable: reopen.
  }
  await Bun.sleep(200);
}
