import * as grpc from "@grpc/grpc-js";
import { PrismError, Code } from "../sdk/grpc/errors";
import { runClosedLoop, type PhaseBounds } from "./closed_loop";
import type { LoadOptions } from "./flags";
import { runOpenLoop } from "./open_loop";
import { buildReport, type Report } from "./report";
import { Stats } from "./stats";
import { awaitSubscription, Phase, Receiver, stampedPublisher } from "./subscribe";
import { connect, kvWorkload, publishWorkload, type Connection, type Issue } from "./workload";

/** How long to wait for the target to accept a connection, and for a subscription to deliver. */
const CONNECT_TIMEOUT_MS = 10_000;
const SUBSCRIBE_READY_TIMEOUT_MS = 20_000;
/** After publishing stops, how long stragglers may take to arrive before they count as lost. */
const DELIVERY_GRACE_MS = 3_000;

/** Hooks a caller (main, a test, the bench) may pass in. */
export interface RunHooks {
  signal?: AbortSignal;
  /** Called when the measured phase starts, with a getter for its live stats (for a progress line). */
  onMeasure?(stats: () => Stats): void;
}

function drive(opts: LoadOptions, issue: Issue, stats: Stats, bounds: PhaseBounds): Promise<void> {
  return opts.rps > 0 ? runOpenLoop(issue, stats, opts.rps, opts.concurrency, bounds) : runClosedLoop(issue, stats, opts.concurrency, bounds);
}

/** Resolves once the channel is connected; rejects as soon as a connection attempt fails (nothing listens there). */
function waitForReady(conn: Connection, target: string): Promise<void> {
  const channel = conn.kv.raw.getChannel();
  const deadline = Date.now() + CONNECT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new PrismError(Code.UNAVAILABLE, `cannot connect to ${target}: ${why}`));
    const check = () => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) return resolve();
      if (state === grpc.connectivityState.TRANSIENT_FAILURE) return fail("connection failed (is it listening?)");
      if (state === grpc.connectivityState.SHUTDOWN) return fail("channel closed");
      channel.watchConnectivityState(state, deadline, (err) => (err ? fail(`not connected within ${CONNECT_TIMEOUT_MS / 1000} s`) : check()));
    };
    check();
  });
}

/** Runs one load test: connect, prepare, warm up, measure; returns the report. */
export async function runLoad(opts: LoadOptions, hooks: RunHooks = {}): Promise<Report> {
  const signal = hooks.signal ?? new AbortController().signal;
  const conn = connect(opts);
  // Under Bun an event loop holding only unref'd handles (the pacer's Worker, the clients' sockets) polls without
  // sleeping: a whole core spent on nothing, taken from the servers being measured (bench/idle_spin.ts). One ref'd
  // idle timer for the run lets it sleep.
  const keepLoopAsleep = setInterval(() => undefined, 3_600_000);
  try {
    await waitForReady(conn, opts.target);
    return opts.operation === "subscribe" ? await runSubscribe(conn, opts, signal, hooks) : await runCalls(conn, opts, signal, hooks);
  } finally {
    clearInterval(keepLoopAsleep);
    conn.close();
  }
}

async function runCalls(conn: Connection, opts: LoadOptions, signal: AbortSignal, hooks: RunHooks): Promise<Report> {
  const workload = opts.operation === "publish" ? publishWorkload(conn, opts) : kvWorkload(conn, opts);
  await workload.prepare(signal);
  if (opts.warmupMs > 0 && !signal.aborted) {
    const warm = new Stats();
    await drive(opts, workload.issue, warm, { durationMs: opts.warmupMs, requests: 0, signal });
    warm.destroy();
  }
  const stats = new Stats();
  const startedAt = new Date();
  hooks.onMeasure?.(() => stats);
  await drive(opts, workload.issue, stats, { durationMs: opts.durationMs, requests: opts.requests, signal });
  return buildReport(opts, stats, startedAt);
}

async function runSubscribe(conn: Connection, opts: LoadOptions, signal: AbortSignal, hooks: RunHooks): Promise<Report> {
  const tag = (Math.random() * 0xffffffff) >>> 0;
  const received = new Stats();
  const receiver = new Receiver(conn, opts.topic, tag, received);
  try {
    const publisher = stampedPublisher(conn, opts, tag);
    await awaitSubscription(publisher, receiver, SUBSCRIBE_READY_TIMEOUT_MS, signal);
    if (opts.warmupMs > 0 && !signal.aborted) {
      publisher.setPhase(Phase.warmup);
      const warm = new Stats();
      await drive(opts, publisher.issue, warm, { durationMs: opts.warmupMs, requests: 0, signal });
      warm.destroy();
    }
    publisher.setPhase(Phase.measure);
    const published = new Stats();
    // The receivers' window ends when publishing stops: what arrives later counts, but not in the rate.
    published.onStop = () => received.stop();
    const startedAt = new Date();
    received.startedAt = performance.now();
    hooks.onMeasure?.(() => received);
    await drive(opts, publisher.issue, published, { durationMs: opts.durationMs, requests: opts.requests, signal });
    await receiver.until(() => receiver.received >= published.ok, DELIVERY_GRACE_MS, signal);
    // Publishes due but never sent would have been received no earlier than the stop: their lower bounds count too.
    received.latency.add(published.unsentLatency);
    received.endedAt = published.endedAt;
    if (receiver.error) received.failure(receiver.error);
    for (const [code, n] of received.errors) published.errors.set(code, (published.errors.get(code) ?? 0) + n);
    for (const [code, m] of received.errorSamples) if (!published.errorSamples.has(code)) published.errorSamples.set(code, m);
    return buildReport(opts, received, startedAt, published);
  } finally {
    await receiver.close();
  }
}
