import { ConfigError, invalidArgument, type DriverEnv } from "@prism/sdk";

/** Longest JetStream stream name (a file-system name on the server). */
const MAX_STREAM_NAME = 255;

/** A subject token sequence: no whitespace, no wildcards, no empty tokens. */
const SUBJECT = /^[^\s*>.]+(\.[^\s*>.]+)*$/;

/** Characters kept as they are in JetStream stream names; everything else is escaped as _xx per UTF-8 byte. */
const PLAIN = /[A-Za-z0-9-]/;

export function escapeName(s: string): string {
  let out = "";
  for (const ch of s) {
    if (PLAIN.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, "utf8")) out += `_${b.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/**
 * Where a namespace's data lives on the NATS server. Pub/sub topic `t` is subject `<ns>.topic.t`; stream `s`
 * is JetStream stream `<ns>_S<s>` (escaped) capturing subject `<ns>.stream.s`; queue topic `q` is stream `<ns>_Q<q>`
 * capturing `<ns>.queue.q`. The subject trees never overlap, and namespaces sharing a server never see each other's subjects or streams.
 */
export class Subjects {
  private readonly streamPrefix: string;
  private readonly queuePrefix: string;
  private readonly deadLetterPrefix: string;

  constructor(readonly namespace: string) {
    this.streamPrefix = `${escapeName(namespace)}_S`;
    this.queuePrefix = `${escapeName(namespace)}_Q`;
    this.deadLetterPrefix = `${escapeName(namespace)}_D`;
  }

  /** The namespace the pattern serves ("default" when none is configured), checked for use in subjects. */
  static fromEnv(env: Pick<DriverEnv, "namespace" | "configFile" | "lineOf">): Subjects {
    const ns = env.namespace || "default";
    if (!SUBJECT.test(ns) || ns.includes(".")) {
      throw new ConfigError(env.configFile, "namespace", env.lineOf?.(["namespace"]), `"${ns}" cannot be a NATS subject token (no dots, spaces or wildcards)`);
    }
    return new Subjects(ns);
  }

  topic(topic: string): string {
    check(topic, "topic");
    return `${this.namespace}.topic.${topic}`;
  }

  streamSubject(stream: string): string {
    check(stream, "stream");
    return `${this.namespace}.stream.${stream}`;
  }

  /** Queue topic `t` (issue 21): JetStream stream `<ns>_Q<t>` capturing subject `<ns>.queue.t`. */
  queueSubject(topic: string): string {
    check(topic, "topic");
    return `${this.namespace}.queue.${topic}`;
  }

  queueStreamName(topic: string): string {
    check(topic, "topic");
    return this.bounded(`${this.queuePrefix}${escapeName(topic)}`, topic, "topic");
  }

  /** Dead letters of queue topic `t`: stream `<ns>_D<t>` capturing `<ns>.dlq.t.<group token>` (one subject per group). */
  deadLetterStreamName(topic: string): string {
    check(topic, "topic");
    return this.bounded(`${this.deadLetterPrefix}${escapeName(topic)}`, topic, "topic");
  }

  deadLetterSubject(topic: string, groupToken: string): string {
    check(topic, "topic");
    return `${this.namespace}.dlq.${topic}.${groupToken}`;
  }

  streamName(stream: string): string {
    check(stream, "stream");
    return this.bounded(this.streamPrefix + escapeName(stream), stream, "stream");
  }

  private bounded(name: string, what: string, kind: string): string {
    // The server stores a stream in a directory of its name: longer names fail there, as an internal error.
    if (name.length > MAX_STREAM_NAME) {
      throw invalidArgument(
        `${kind} "${what.slice(0, 40)}…" is too long for JetStream: its stream name would be ${name.length} characters, at most ${MAX_STREAM_NAME}`,
      );
    }
    return name;
  }
}

function check(name: string, what: string): void {
  if (!SUBJECT.test(name)) throw invalidArgument(`${what} "${name}" cannot be a NATS subject: no spaces, no '*' or '>', no empty '.'-separated parts`);
}

/** Queue group names are subject tokens too. */
export function checkQueueName(id: string): void {
  if (!/^[^\s*>]+$/.test(id)) throw invalidArgument(`subscriber_id "${id}" cannot be a NATS queue group: no spaces, '*' or '>'`);
}
