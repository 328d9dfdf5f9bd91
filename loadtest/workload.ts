import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { GetRequestSchema, KeyValueBasicInterface, SetRequestSchema } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import {
  GetCapabilitiesRequestSchema,
  KeyValuePattern,
  RetrieveRequestSchema,
  ScanRequestSchema,
  StoreRequestSchema,
} from "../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { PublishRequestSchema, PubSubBasicInterface } from "../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { createClient, type ClientHandle } from "../sdk/grpc/client";
import { createUnaryClient, H2Channel, type UnaryClient } from "../h2/grpc/unary_client";
import { NAMESPACE_HEADER } from "../sdk/grpc/context";
import { Code, PrismError } from "../sdk/grpc/errors";
import { failOnErrorReply } from "../sdk/grpc/reply_check";
import type { CallOptions } from "../sdk/grpc/types";
import type { LoadOptions } from "./flags";

/**
 * Issues call number `seq`, whose send was scheduled at `scheduledMs`
 * (performance.now() time); resolves on a reply, rejects with the call's error.
 */
export type Issue = (seq: number, scheduledMs: number) => Promise<unknown>;

/** The unary clients the measured calls go through. */
export interface UnaryClients {
  readonly kv: UnaryClient<typeof KeyValueBasicInterface>;
  readonly pubsub: UnaryClient<typeof PubSubBasicInterface>;
  readonly pattern: UnaryClient<typeof KeyValuePattern>;
}

/**
 * The clients of one run. The grpc-js clients share one channel (one HTTP/2 connection): readiness, pre-loading,
 * streams (scan, subscribe). The measured unary calls go through `unary`: with --client h2 a lean client on a
 * second connection of its own (h2/grpc/unary_client.ts), so the generator's own CPU and garbage stay out of the
 * latencies it measures; with --client grpc-js the grpc-js clients themselves.
 */
export interface Connection {
  readonly kv: ClientHandle<typeof KeyValueBasicInterface>;
  readonly pubsub: ClientHandle<typeof PubSubBasicInterface>;
  readonly pattern: ClientHandle<typeof KeyValuePattern>;
  readonly unary: UnaryClients;
  /** The options every call passes: namespace metadata and deadline. Shared, never mutated. */
  readonly callOptions: CallOptions;
  close(): void;
}

/** The handle with a client that fails an OK reply reporting success=false or an error (contract §5). */
function strict<S extends Parameters<typeof failOnErrorReply>[0]>(service: S, h: ClientHandle<S>): ClientHandle<S> {
  return { client: failOnErrorReply(service, h.client), raw: h.raw, close: () => h.close() };
}

/** Dials the target once; every service client shares the channel. */
export function connect(
  opts: Pick<LoadOptions, "target" | "namespace" | "timeoutMs" | "metadata" | "tlsCa" | "tlsServerName"> & { client?: LoadOptions["client"] },
): Connection {
  const ca = opts.tlsCa ? readFileSync(opts.tlsCa) : undefined;
  const creds = ca ? grpc.credentials.createSsl(ca) : undefined;
  // Bun refuses an IP address as TLS server name: without one given, 127.0.0.1 is dialled as localhost.
  const target = creds && !opts.tlsServerName ? opts.target.replace(/^127\.0\.0\.1:/, "localhost:") : opts.target;
  const channelOpts = opts.tlsServerName ? { "grpc.ssl_target_name_override": opts.tlsServerName } : undefined;
  const kv = strict(KeyValueBasicInterface, createClient(KeyValueBasicInterface, target, creds, channelOpts));
  const pubsub = strict(PubSubBasicInterface, createClient(PubSubBasicInterface, kv.raw));
  const pattern = strict(KeyValuePattern, createClient(KeyValuePattern, kv.raw));
  let h2: H2Channel | undefined;
  let unary: UnaryClients = { kv: kv.client, pubsub: pubsub.client, pattern: pattern.client };
  if (opts.client !== "grpc-js") {
    h2 = new H2Channel(target, ca ? { tls: { ca, ...(opts.tlsServerName && { serverName: opts.tlsServerName }) } } : {});
    unary = {
      kv: failOnErrorReply(KeyValueBasicInterface, createUnaryClient(KeyValueBasicInterface, h2)),
      pubsub: failOnErrorReply(PubSubBasicInterface, createUnaryClient(PubSubBasicInterface, h2)),
      pattern: failOnErrorReply(KeyValuePattern, createUnaryClient(KeyValuePattern, h2)),
    };
  }
  const callOptions: CallOptions = { timeoutMs: opts.timeoutMs };
  if (opts.namespace || opts.metadata) callOptions.metadata = { ...opts.metadata, ...(opts.namespace && { [NAMESPACE_HEADER]: opts.namespace }) };
  return {
    kv,
    pubsub,
    pattern,
    unary,
    callOptions,
    close: () => {
      h2?.close();
      pattern.close();
      pubsub.close();
      kv.close();
    },
  };
}

/** Keys per page of the scan operation. */
const SCAN_PAGE = 100;

/** A value of `size` bytes, deterministic so runs are comparable. */
export function valueOf(size: number): Uint8Array {
  const v = new Uint8Array(size);
  for (let i = 0; i < size; i++) v[i] = 97 + (i % 26);
  return v;
}

/** The key names of the key space, built once so the hot path does no string work. */
export function keySpace(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `prism-load:${i}`);
}

/** A workload: what to do before the run, and the operation itself. */
export interface Workload {
  /** Runs once before warm-up (e.g. pre-loads the keys a get reads). */
  prepare(signal: AbortSignal): Promise<void>;
  readonly issue: Issue;
}

/**
 * Key-value workloads. One request message per kind is reused for every call:
 * safe because the client serializes synchronously inside the call (a test
 * proves it), so mutating the key afterwards never changes a sent request.
 */
export function kvWorkload(
  conn: Connection,
  opts: Pick<LoadOptions, "operation" | "keys" | "valueSize" | "concurrency"> & { service?: LoadOptions["service"] },
): Workload {
  const client = conn.unary.kv;
  const callOptions = conn.callOptions;
  const keys = keySpace(opts.keys);
  const value = valueOf(opts.valueSize);
  let set: Issue;
  let get: Issue;
  if (opts.service === "pattern") {
    // KeyValuePattern.Store / Retrieve on the same keys: the bench puts them beside Set / Get.
    const kvp = conn.unary.pattern;
    const storeReq = create(StoreRequestSchema, { value });
    const retrieveReq = create(RetrieveRequestSchema);
    set = (seq) => {
      storeReq.key = keys[seq % keys.length]!;
      return kvp.store(storeReq, callOptions);
    };
    get = (seq) => {
      retrieveReq.key = keys[seq % keys.length]!;
      return kvp.retrieve(retrieveReq, callOptions);
    };
  } else {
    const setReq = create(SetRequestSchema, { value });
    const getReq = create(GetRequestSchema);
    set = (seq) => {
      setReq.key = keys[seq % keys.length]!;
      return client.set(setReq, callOptions);
    };
    get = (seq) => {
      getReq.key = keys[seq % keys.length]!;
      return client.get(getReq, callOptions);
    };
  }
  // 80% reads, 20% writes, interleaved deterministically.
  const mixed: Issue = (seq, at) => (seq % 5 === 4 ? set(seq, at) : get(seq, at));
  // KeyValuePattern only: the first page (100 keys with values) of the key space, and the capabilities.
  const kvp = conn.pattern.client;
  const scanReq = create(ScanRequestSchema, { prefix: "prism-load:", limit: SCAN_PAGE, pageSize: SCAN_PAGE, includeValues: true });
  const scan: Issue = async () => {
    let n = 0;
    for await (const page of kvp.scan(scanReq, callOptions)) n += page.keys.length;
    if (n === 0) throw new PrismError(Code.NOT_FOUND, "scan returned no keys (the key space was not pre-loaded)");
    return n;
  };
  const capsReq = create(GetCapabilitiesRequestSchema);
  const capabilities: Issue = () => conn.unary.pattern.getCapabilities(capsReq, callOptions);
  const issues: Partial<Record<LoadOptions["operation"], Issue>> = { set, mixed, scan, capabilities };
  const issue = issues[opts.operation] ?? get;
  const needsData = opts.operation === "get" || opts.operation === "mixed" || opts.operation === "scan";
  return {
    issue,
    prepare: async (signal) => {
      if (!needsData) return;
      // Pre-load every key with bounded concurrency so reads hit; a failure here aborts the run.
      let next = 0;
      const worker = async () => {
        while (next < keys.length && !signal.aborted) {
          const req = create(SetRequestSchema, { key: keys[next++]!, value });
          try {
            await client.set(req, callOptions);
          } catch (err) {
            const e = PrismError.from(err);
            throw new PrismError(e.code, `pre-loading ${keys.length} keys failed at ${req.key}: ${e.message}`, { cause: e });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(opts.concurrency, keys.length) }, worker));
    },
  };
}

/** Publishes `valueSize`-byte payloads to one topic. */
export function publishWorkload(conn: Connection, opts: Pick<LoadOptions, "topic" | "valueSize">): Workload {
  const client = conn.unary.pubsub;
  const callOptions = conn.callOptions;
  const req = create(PublishRequestSchema, { topic: opts.topic, payload: valueOf(opts.valueSize) });
  return { issue: () => client.publish(req, callOptions), prepare: async () => {} };
}
