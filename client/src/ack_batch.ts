import type { AckResponse } from "../../proto/gen/prism/patterns/consumer/consumer_pattern_pb";

/** Most tokens one Ack carries; more wait for the next. */
export const MAX_ACK_TOKENS = 1_000;

interface WaitingAck {
  token: string;
  resolve: (known: boolean) => void;
  reject: (err: unknown) => void;
}

/**
 * The acks of one Consume stream, sent as few Ack calls as they can be without waiting: the first goes at once,
 * and those made while an Ack is in flight go together in the next one when it returns (a group commit). A
 * consumer that awaits each ack before the next sends one call per delivery, as before, at no added latency; one
 * that settles deliveries concurrently sends a call per round trip instead of one per delivery.
 */
export class AckBatcher {
  private waiting: WaitingAck[] = [];
  private inFlight = false;

  constructor(private readonly send: (tokens: string[]) => Promise<AckResponse>) {}

  /** True when the server knew the token (acked now or before), false when it no longer does. */
  ack(token: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ token, resolve, reject });
      if (!this.inFlight) this.next();
    });
  }

  private next(): void {
    const batch = this.waiting.length <= MAX_ACK_TOKENS ? this.waiting : this.waiting.slice(0, MAX_ACK_TOKENS);
    this.waiting = batch === this.waiting ? [] : this.waiting.slice(MAX_ACK_TOKENS);
    this.inFlight = batch.length > 0;
    if (!this.inFlight) return;
    this.send(batch.map((w) => w.token))
      .then(
        (res) => {
          // One token: the count says it (a server may leave unknown_tokens empty); several: the unknown ones are named.
          if (batch.length === 1) return batch[0]!.resolve(res.acked > 0);
          const unknown = new Set(res.unknownTokens);
          for (const w of batch) w.resolve(!unknown.has(w.token));
        },
        (err) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => this.next());
  }
}
