import { describe, expect, test } from "bun:test";
import { Code } from "@prism/sdk";
import type { H2ClientConnection } from "../h2";
import type { Lease, Refusal, Upstream } from "./h2/upstream";
import { ProxyMetrics } from "./metrics";
import { PatternInstance, PatternRegistry, ReplicaSet } from "./pattern_registry";

/** An Upstream stand-in: counts calls in flight, refuses when told to, owns one connection. */
class FakeUpstream {
  callsInFlight = 0;
  unaryInFlight = 0;
  refuse: Refusal | undefined;
  readonly conn = {} as H2ClientConnection;
  place(): Lease | Refusal {
    if (this.refuse) return this.refuse;
    this.callsInFlight++;
    return { conn: this.conn, connectionUp: () => true, answered: () => undefined, release: () => this.callsInFlight-- };
  }
  owns(conn: H2ClientConnection): boolean {
    return conn === this.conn;
  }
  close(): void {}
  retire(): void {}
}

function replicas(n: number) {
  const metrics = new ProxyMetrics("test");
  const stats = metrics.namespace("ns", "memstore");
  const ups = Array.from({ length: n }, () => new FakeUpstream());
  const instances = ups.map((u, i) => {
    const inst = new PatternInstance("ns", "memstore", "launched", stats, i);
    inst.serve(u as unknown as Upstream, `unix:/p${i}.sock`, undefined);
    return inst;
  });
  return { set: new ReplicaSet(instances), ups, instances, metrics };
}

const conn = (x: Lease | Refusal) => (x as Lease).conn;

describe("ReplicaSet", () => {
  test("a client's Acks follow its latest Consume stream; other clients, methods and services spread", () => {
    const { set, ups } = replicas(2);
    const client = {};
    const other = {};
    const stream = conn(set.place("stream", client, undefined, "/prism.patterns.consumer.ConsumerPattern/Consume"));
    const home = ups.findIndex((u) => u.conn === stream);
    // The stream's instance is now the busier one: least in flight alone would send every Ack elsewhere.
    ups[home]!.callsInFlight += 10;
    for (let i = 0; i < 5; i++) expect(conn(set.place("unary", client, undefined, "/prism.patterns.consumer.ConsumerPattern/Ack"))).toBe(stream);
    expect(conn(set.place("unary", other, undefined, "/prism.patterns.consumer.ConsumerPattern/Ack"))).not.toBe(stream);
    expect(conn(set.place("unary", client, undefined, "/prism.patterns.producer.ProducerPattern/Publish"))).not.toBe(stream);
    expect(conn(set.place("unary", client, undefined, "/prism.patterns.consumer.ConsumerPattern/GetStats"))).not.toBe(stream);
    // A retry (avoid) goes elsewhere; a home that is not serving is passed over.
    expect(conn(set.place("unary", client, stream, "/prism.patterns.consumer.ConsumerPattern/Ack"))).not.toBe(stream);
  });

  test("places each call on the instance with the fewest calls in flight, taking turns when idle", () => {
    const { set, ups, instances } = replicas(3);
    // Three calls held open: one per instance.
    for (let i = 0; i < 3; i++) set.place("unary");
    expect(ups.map((u) => u.callsInFlight)).toEqual([1, 1, 1]);
    ups[1]!.callsInFlight = 5;
    const a = set.place("unary");
    const b = set.place("unary");
    expect([conn(a), conn(b)]).not.toContain(ups[1]!.conn);
    expect(instances.map((i) => i.calls)).toEqual([2, 1, 2]);
  });

  test("an instance not ready (NOT_SERVING on its Watch, or not serving) gets no calls; back when it recovers", () => {
    const { set, ups, instances } = replicas(3);
    instances[0]!.setWatched(false);
    instances[2]!.unserve("restarting", "killed");
    for (let i = 0; i < 10; i++) expect(conn(set.place("unary"))).toBe(ups[1]!.conn);
    expect(set.ready).toBe(true);
    expect(set.status).toBe("serving");
    instances[0]!.setWatched(true);
    ups[1]!.callsInFlight = 100;
    expect(conn(set.place("unary"))).toBe(ups[0]!.conn);
  });

  test("no instance ready: serving ones still take calls (they answer for themselves); none serving: UNAVAILABLE", () => {
    const { set, ups, instances } = replicas(2);
    for (const i of instances) i.setWatched(false);
    expect(set.ready).toBe(false);
    expect(conn(set.place("unary"))).toBe(ups[0]!.conn);
    for (const i of instances) i.unserve("restarting");
    expect(set.routable).toBe(false);
    expect((set.place("unary") as Refusal).code).toBe(Code.UNAVAILABLE);
    expect(set.status).toBe("restarting");
  });

  test("a retry avoids the instance that refused it; an instance that refuses passes the call on", () => {
    const { set, ups } = replicas(2);
    expect(conn(set.place("unary", undefined, ups[0]!.conn))).toBe(ups[1]!.conn);
    expect(conn(set.place("unary", undefined, ups[1]!.conn))).toBe(ups[0]!.conn);
    ups[0]!.refuse = { code: Code.UNAVAILABLE, message: "not reachable" };
    ups[1]!.callsInFlight = 50;
    expect(conn(set.place("unary"))).toBe(ups[1]!.conn);
    ups[1]!.refuse = { code: Code.RESOURCE_EXHAUSTED, message: "at its bound" };
    expect((set.place("unary") as Refusal).code).toBe(Code.RESOURCE_EXHAUSTED);
  });

  test("the namespace is up while one instance is; a detached (replaced) set no longer moves the metric", async () => {
    const { set, instances, metrics } = replicas(2);
    const up = async () => (await metrics.registry.getSingleMetric("prism_pattern_up")!.get()).values.find((v) => v.labels.namespace === "ns")?.value;
    instances[0]!.markUp(true);
    instances[1]!.markUp(true);
    instances[0]!.markUp(false);
    expect(await up()).toBe(1);
    instances[1]!.markUp(false);
    expect(await up()).toBe(0);
    instances[1]!.markUp(true);
    set.detach();
    instances[1]!.markUp(false);
    expect(await up()).toBe(1);
  });

  test("/patterns: the namespace's fields plus every instance with its load", () => {
    const { set, instances } = replicas(2);
    set.place("unary");
    instances[1]!.restarts = 2;
    const snap = set.snapshot();
    expect(snap).toMatchObject({ namespace: "ns", status: "serving", ready: true, restarts: 2, in_flight: 1, calls: 1 });
    expect(snap.replicas.map((r) => [r.replica, r.endpoint, r.in_flight, r.calls, r.restarts])).toEqual([
      [0, "unix:/p0.sock", 1, 1, 0],
      [1, "unix:/p1.sock", 0, 0, 2],
    ]);
  });

  test("the registry adds, replaces and removes namespaces, telling listeners of additions", () => {
    const registry = new PatternRegistry();
    const seen: string[] = [];
    registry.onAdd((s) => seen.push(s.namespace));
    const first = registry.add(replicas(1).set);
    const second = registry.add(replicas(2).set);
    expect(registry.get("ns")).toBe(second);
    expect(registry.get("ns")).not.toBe(first);
    expect(registry.instances()).toHaveLength(2);
    registry.remove("ns");
    expect(registry.get("ns")).toBeUndefined();
    expect(seen).toEqual(["ns", "ns"]);
  });
});
