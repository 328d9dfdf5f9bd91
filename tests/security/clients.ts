/** Typed clients through a proxy with TLS credentials and auth metadata, for the security suites. */
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { Health } from "../../proto/gen/grpc/health/v1/health_pb";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValueTTLInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { ListBasicInterface } from "../../proto/gen/prism/interfaces/list/list_basic_pb";
import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { ConsumerPattern } from "../../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import { KeyValuePattern } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { ProducerPattern } from "../../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { channelOptions, createClient } from "../../sdk/grpc/client";
import { PrismError } from "../../sdk/grpc/errors";

export interface TlsClientOptions {
  ca?: string;
  cert?: string;
  key?: string;
  /** Host name the server certificate must carry (default: the address's host). */
  serverName?: string;
}

/** A grpc-js channel to `address`, TLS when `tls` is given. */
export function channel(address: string, tls?: TlsClientOptions): grpc.Client {
  if (!tls) return new grpc.Client(address, grpc.credentials.createInsecure(), channelOptions);
  const read = (f?: string) => (f ? readFileSync(f) : null);
  const creds = grpc.credentials.createSsl(read(tls.ca), read(tls.key), read(tls.cert));
  const opts: grpc.ChannelOptions = { ...channelOptions, ...(tls.serverName ? { "grpc.ssl_target_name_override": tls.serverName } : {}) };
  // Bun refuses an IP address as TLS server name: dial 127.0.0.1 by the name localhost (the test certificates carry both).
  return new grpc.Client(address.replace(/^127\.0\.0\.1:/, "localhost:"), creds, opts);
}

/** Clients of every data service on one channel; `md` is sent on every call (namespace, credentials). */
export function securedClients(ch: grpc.Client, md: Record<string, string>) {
  const c = <S extends Parameters<typeof createClient>[0]>(s: S) => createClient(s, ch).client;
  return {
    kv: c(KeyValueBasicInterface),
    ttl: c(KeyValueTTLInterface),
    scan: c(KeyValueScanInterface),
    batch: c(KeyValueBatchInterface),
    list: c(ListBasicInterface),
    pubsub: c(PubSubBasicInterface),
    stream: c(StreamBasicInterface),
    lifecycle: c(LifecycleInterface),
    health: c(Health),
    kvPattern: c(KeyValuePattern),
    producer: c(ProducerPattern),
    consumer: c(ConsumerPattern),
    opts: { timeoutMs: 10_000, metadata: md },
    close: () => ch.close(),
  };
}

/** The status code a call (or a stream, read to its end) fails with; 0 when it succeeds. */
export async function codeOf(fn: () => Promise<unknown> | AsyncIterable<unknown>): Promise<number> {
  try {
    const r = fn();
    if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") {
      for await (const _ of r as AsyncIterable<unknown>) break;
    } else await r;
    return 0;
  } catch (err) {
    return PrismError.from(err).code;
  }
}

/** The status message of a failing call. */
export async function messageOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return "";
  } catch (err) {
    return PrismError.from(err).message;
  }
}
