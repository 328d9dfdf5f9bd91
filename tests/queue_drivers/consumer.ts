/**
 * A consumer of a QueueDriver as the SDK drives one: it calls next() only while it has room (max in flight minus
 * what it holds unacked), and on close() nacks what it holds (the SDK's release when a stream ends).
 */
import type { QueueDelivery, QueueDriver } from "../../sdk";

export interface TestConsumer {
  /** Every delivery so far, in order. */
  readonly received: QueueDelivery[];
  /** Deliveries held (not yet acked or nacked here). */
  readonly held: Map<string, QueueDelivery>;
  ack(...d: QueueDelivery[]): Promise<boolean[]>;
  nack(d: QueueDelivery, afterMs: number, error: string): Promise<boolean>;
  /** Stops consuming; nacks (delay 0) what it holds unless `release` is false (a crash). */
  close(release?: boolean): Promise<void>;
  /** The iterator's failure, if it threw. */
  readonly failure: unknown;
}

export function startConsumer(
  driver: QueueDriver,
  opts: { topic: string; group: string; consumerId?: string; maxInFlight?: number; ackDeadlineMs?: number; autoAck?: boolean },
): TestConsumer {
  const ac = new AbortController();
  const max = opts.maxInFlight ?? 100;
  const received: QueueDelivery[] = [];
  const held = new Map<string, QueueDelivery>();
  let failure: unknown;
  let wake: (() => void) | undefined;
  const room = () => max - held.size;
  const it = driver
    .queueConsume({
      topic: opts.topic,
      group: opts.group,
      consumerId: opts.consumerId ?? `c-${Math.random().toString(36).slice(2)}`,
      ackDeadlineMs: opts.ackDeadlineMs ?? 30_000,
      room,
      signal: ac.signal,
    })
    [Symbol.asyncIterator]();
  const settle = (d: QueueDelivery) => {
    held.delete(d.token);
    wake?.();
  };
  const c: TestConsumer = {
    received,
    held,
    get failure() {
      return failure;
    },
    async ack(...ds) {
      for (const d of ds) settle(d);
      return driver.queueAck(
        opts.topic,
        opts.group,
        ds.map((d) => d.token),
      );
    },
    async nack(d, afterMs, error) {
      settle(d);
      return driver.queueNack(opts.topic, opts.group, d.token, afterMs, error);
    },
    async close(release = true) {
      ac.abort();
      wake?.();
      await it.return?.();
      await loop;
      if (release) for (const d of [...held.values()]) await c.nack(d, 0, "");
    },
  };
  const loop = (async () => {
    try {
      while (!ac.signal.aborted) {
        if (room() <= 0) {
          await new Promise<void>((r) => (wake = r));
          continue;
        }
        const r = await it.next();
        if (r.done) return;
        received.push(r.value);
        held.set(r.value.token, r.value);
        if (opts.autoAck) await c.ack(r.value);
      }
    } catch (err) {
      failure = err;
    }
  })();
  return c;
}
