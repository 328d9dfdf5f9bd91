import { createInbox, nanos, type Msg, type NatsConnection } from "nats";

const NAK = new TextEncoder().encode("-NAK");
/**
 * Slack past a pull request's expiry before the pull is ended without the server's 408 (which normally follows the
 * expiry within milliseconds, but now and then never comes: the consumer then had no pull on the server for the
 * whole slack, and deliveries waited that long).
 */
const EXPIRY_SLACK_MS = 100;
/** How long the inbox of a pull ended that way stays open, so what the server still sends it is nacked at once. */
const LATE_NACK_MS = 5_000;

/**
 * One pull request for at most `batch` messages of a durable, waiting up to `expiresMs` on the server. Yields the
 * messages as they arrive; ends when `batch` arrived, the server ends the request (404, 408, 409 status), the
 * request expired, or `signal` aborts. Unlike nats.js's fetch, a request the caller stops early is not left to
 * deliver into a closed inbox (where its messages would wait out AckWait): stopping waits until the request ends
 * on the server (at most its expiry), and everything that arrives meanwhile, or arrived and was not taken, is
 * nacked at once; so is what arrives after a pull that ended without the server's 408.
 */
export async function* pull(nc: NatsConnection, stream: string, durable: string, batch: number, expiresMs: number, signal: AbortSignal): AsyncGenerator<Msg> {
  const buf: Msg[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let abandoned = false;
  let received = 0;
  let finished: () => void = () => undefined;
  const over = new Promise<void>((r) => (finished = r));
  const end = () => {
    ended = true;
    finished();
    wake?.();
  };
  let late: ReturnType<typeof setTimeout> | undefined;
  const unsubscribe = () => {
    clearTimeout(late);
    sub.unsubscribe();
  };
  const sub = nc.subscribe(createInbox(), {
    callback: (err, msg) => {
      if (err) return end();
      if (!msg.reply?.startsWith("$JS.ACK.")) {
        // A status: 404 no messages, 408 request expired, 409 the request was refused or cut short; 100 heartbeat.
        if ((msg.headers?.code ?? 0) !== 100) {
          unsubscribe();
          end();
        }
        return;
      }
      received++;
      if (abandoned) msg.respond(NAK);
      else buf.push(msg);
      if (received >= batch) {
        unsubscribe();
        end();
      }
      wake?.();
    },
  });
  const expiry = setTimeout(() => {
    end();
    late = setTimeout(unsubscribe, LATE_NACK_MS);
  }, expiresMs + EXPIRY_SLACK_MS);
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort);
  try {
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`, new TextEncoder().encode(JSON.stringify({ batch, expires: nanos(expiresMs) })), {
      reply: sub.getSubject(),
    });
    for (;;) {
      const m = buf.shift();
      if (m) {
        yield m;
        continue;
      }
      if (ended || signal.aborted) return;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    abandoned = true;
    for (const m of buf.splice(0)) m.respond(NAK);
    // Still open on the server: wait for it to end (at most its expiry), nacking what arrives meanwhile (the
    // callback does), so what the caller gives back after this returns goes to a live pull, not into this one.
    if (!ended) await over;
    clearTimeout(expiry);
  }
}
