import { escapeName } from "./subjects";

/** The durable pull consumer of a queue group: the group's name escaped to what JetStream allows in consumer names. */
export function groupConsumerName(group: string): string {
  return `G${escapeName(group)}`;
}

/** What an ack token (a JetStream ack subject) says about its delivery. */
export interface AckTokenInfo {
  stream: string;
  consumer: string;
  deliveryCount: number;
  streamSeq: number;
  /** When the message was stored, Unix ns. */
  timestampNanos: number;
}

/**
 * Parses a delivery's ack token. The token is the message's JetStream ack subject (`$JS.ACK.<stream>.<consumer>.
 * <delivered>.<stream seq>.<consumer seq>.<time>.<pending>`, or the longer form with domain and account hash):
 * an ack or nack published to it reaches the server from any connection, so any pattern instance can settle any
 * delivery, and a restart of the pattern loses nothing. Undefined when the token is not of that form.
 */
export function parseAckToken(token: string): AckTokenInfo | undefined {
  const t = token.split(".");
  if (t[0] !== "$JS" || t[1] !== "ACK") return undefined;
  // The long form (server 2.10+) adds <domain>.<account hash> before the stream and a random token at the end.
  const at = t.length === 9 ? 2 : t.length === 12 ? 4 : -1;
  if (at < 0) return undefined;
  const deliveryCount = Number(t[at + 2]);
  const streamSeq = Number(t[at + 3]);
  if (!t[at] || !t[at + 1] || !Number.isSafeInteger(deliveryCount) || !Number.isSafeInteger(streamSeq) || streamSeq < 1) return undefined;
  return { stream: t[at]!, consumer: t[at + 1]!, deliveryCount, streamSeq, timestampNanos: Number(t[at + 5]) };
}
