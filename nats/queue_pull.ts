import { createInbox, nanos, type Msg, type NatsConnection } from "nats";

const NAK = new TextEncoder().encode("-NAK");
/** Slack past a pull request's expiry before its inbox is given up (the server's 408 may be late). */
const EXPIRY_SLACK_MS = 500;

/**
 * One pull request for at most `batch` messages of a durable, waiting up to `expiresMs` on the server. Yields the
 * messages as they arrive; ends when `batch` arrived, the server ends the request (404, 408, 409 status), the
 * request expired, or `signal` aborts. Unlike nats.js's fetch, a request the caller stops early is not left to
 * deliver into a closed inbox (where its messages would wait out AckWait): stopping waits until the request ends
 * on the server (at most its expiry), and everything that arrives meanwhile, or arrived and was not taken, is
 * nacked at once.
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
  const sub = nc.subscribe(createInbox(), {
    callback: (err, msg) => {
      if (err) return end();
      if (!msg.reply?.startsWith("$JS.ACK.")) {
        // A status: 404 no messages, 408 request expired, 409 the request was refused or cut short; 100 heartbeat.
        if ((msg.headers?.code ?? 0) !== 100) {
          sub.unsubscribe();
          end();
        }
        return;
      }
      received++;
      if (abandoned) msg.respond(NAK);
      else buf.push(msg);
      if (received >= batch) {
        sub.unsubscribe();
        end();
      }
      wake?.();
    },
  });
  const expiry = setTimeout(() => {
    sub.unsubscribe();
    end();
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
