/**
 * deploy/grafana/prism-dashboard.json names only metrics (and labels) that Prism really exports: every metric its
 * queries and variables name has a `# TYPE` line in a real /metrics — dist/proxy (launching dist/memstore), dist/memstore
 * and dist/redis on the shared Redis, after some traffic — and every label a query groups or filters by is on that
 * metric's samples. Prometheus' own labels (job, instance) and `le` are not in /metrics and are not checked.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { codeOf, utf8 } from "../acceptance/target";
import { ROOT, startPattern, type StartedPattern } from "../helpers/process";
import { freePort } from "../memstore/helpers";
import { clientsFor, killIfAlive, startProxy, type StartedProxy } from "../proxy/harness";
import { type RedisPattern, sharedRedisAddress, startRedisPattern, uniqueNamespace } from "../redis/harness";

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}
const dashboard = JSON.parse(readFileSync(join(ROOT, "deploy/grafana/prism-dashboard.json"), "utf8")) as {
  panels: Panel[];
  templating: { list: Array<{ query?: string; type: string }> };
};

const PROMETHEUS_LABELS = new Set(["job", "instance", "le"]);
const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless"]);

/** Every query of the dashboard: panel expressions and label_values() of the variables. */
function queries(): string[] {
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const vars = dashboard.templating.list.filter((v) => v.type === "query" && v.query).map((v) => v.query!);
  return [...exprs, ...vars];
}

/** Metric names a query selects: `name{...}`, and the first argument of label_values(name, label). */
function metricsIn(q: string): string[] {
  const out = [...q.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)].map((m) => m[1]!);
  const lv = /label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,/.exec(q);
  if (lv) out.push(lv[1]!);
  return out;
}

/** [metric, label] pairs: labels in a selector, and labels of `by (...)` of the aggregation around it. */
function labelsIn(q: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const m of q.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    for (const l of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) pairs.push([m[1]!, l[1]!]);
  }
  const metrics = metricsIn(q);
  for (const by of q.matchAll(/\bby\s*\(([^)]*)\)/g)) {
    for (const label of by[1]!
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean))
      for (const m of metrics) pairs.push([m, label]);
  }
  const lv = /label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)/.exec(q);
  if (lv) pairs.push([lv[1]!, lv[2]!]);
  return pairs.filter(([, l]) => !PROMETHEUS_LABELS.has(l) && !PROMQL_WORDS.has(l));
}

/** The family a sample or query name belongs to: histogram series end in _bucket, _sum, _count. */
function family(name: string, types: Map<string, string>): string {
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return types.get(base) === "histogram" ? base : name;
}

describe("Grafana dashboard against a real /metrics", () => {
  let proxy: StartedProxy;
  let memstore: StartedPattern;
  let redis: RedisPattern;
  let metricsPort: number;
  let scraped = "";

  beforeAll(async () => {
    proxy = await startProxy("namespaces:\n  - name: dash\n    pattern: memstore\n");
    metricsPort = await freePort();
    memstore = await startPattern("memstore", ["--metrics-port", String(metricsPort)]);
    redis = await startRedisPattern({ address: await sharedRedisAddress(), namespace: uniqueNamespace("dash") });
    // Traffic: OK and error codes through the proxy, a call the proxy rejects, driver errors (WRONGTYPE) on Redis.
    const c = clientsFor(proxy.address, "dash");
    await c.kv.set({ key: "k", value: utf8("v") }, c.opts());
    expect(await codeOf(() => c.kv.get({ key: "" }, c.opts()))).not.toBe(0);
    const unknown = clientsFor(proxy.address, "no-such-namespace");
    expect(await codeOf(() => unknown.kv.get({ key: "k" }, unknown.opts()))).not.toBe(0);
    c.close();
    unknown.close();
    const kv = createClient(KeyValueBasicInterface, memstore.address);
    await kv.client.set({ key: "k", value: utf8("v"), ttlSeconds: 1n });
    kv.close();
    await redis.clients.list.pushRight({ key: "a-list", values: [utf8("x")] });
    expect(await codeOf(() => redis.clients.kv.get({ key: "a-list" }))).not.toBe(0);
    scraped = [
      await proxy.metrics(),
      await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
      await (await fetch(`http://127.0.0.1:${redis.metricsPort}/metrics`)).text(),
    ].join("\n");
  }, 60_000);

  afterAll(async () => {
    const pids = proxy ? (await proxy.patterns()).map((p) => p.pid) : [];
    await proxy?.stop();
    proxy?.cleanup();
    killIfAlive(pids);
    await memstore?.stop();
    await redis?.stop();
  });

  test("the dashboard has the panels the issue asks for, each with a query", () => {
    const titles = dashboard.panels.filter((p) => p.type !== "row").map((p) => p.title.toLowerCase());
    for (const want of [
      "request rate",
      "errors by status code",
      "latency percentiles",
      "pattern up",
      "pattern restarts",
      "backend errors",
      "circuit breaker",
    ]) {
      expect(titles.some((t) => t.includes(want))).toBe(true);
    }
    for (const p of dashboard.panels.filter((p) => p.type !== "row")) expect(p.targets?.length ?? 0).toBeGreaterThan(0);
  });

  test("every metric a query names is exported", () => {
    const types = new Map([...scraped.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const named = [...new Set(queries().flatMap(metricsIn))];
    expect(named.length).toBeGreaterThan(10);
    const missing = named.filter((n) => !types.has(family(n, types)));
    expect(missing).toEqual([]);
  });

  test("every label a query filters or groups by is on that metric's samples", () => {
    const types = new Map([...scraped.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const labelsOf = new Map<string, Set<string>>();
    for (const m of scraped.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/gm)) {
      const set = labelsOf.get(family(m[1]!, types)) ?? new Set<string>();
      for (const l of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) set.add(l[1]!);
      labelsOf.set(family(m[1]!, types), set);
    }
    const wrong = queries()
      .flatMap(labelsIn)
      .filter(([metric, label]) => !labelsOf.get(family(metric, types))?.has(label))
      .map(([metric, label]) => `${metric}: ${label}`);
    expect([...new Set(wrong)]).toEqual([]);
  });
});
