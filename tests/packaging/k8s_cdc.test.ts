import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Registry } from "prom-client";
import { parseAllDocuments } from "yaml";
import { kafkaDriver } from "../../kafka/factory";
import { memstoreDriver } from "../../memstore/factory";
import { natsDriver } from "../../nats/factory";
import { postgresDriverFactory } from "../../postgres/factory";
import { redisDriver } from "../../redis/factory";
import { cdcPattern } from "../../cdc/pattern";
import { parseSettings } from "../../cdc/settings";
import { postgresLogicalDriver } from "../../cdc/source";
import { checkSlots, slotDeclarations } from "../../proxy/slots";
import { parseYaml } from "../../sdk/config/yaml";
import { DriverMetrics } from "../../sdk/drivers/instrument";
import { PatternRuntime } from "../../sdk/lifecycle/runtime";
import { createLogger } from "../../sdk/observability/logger";
import { ROOT } from "../helpers/process";
import { dockerfileOf } from "../../scripts/dockerfiles";
import { patternManifests } from "../../scripts/executables";
import { parseDockerfile } from "./dockerfile";

// deploy/k8s/cdc (CDC from PostgreSQL into a JetStream sink, checkpoint in Redis), checked offline: Kubernetes API
// schemas, then the mounted config against the pattern's own slot declarations and settings, and the image.

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const DIR = `${ROOT}/deploy/k8s/cdc`;
const kustomization = parseAllDocuments(readFileSync(`${DIR}/kustomization.yaml`, "utf8"))[0]!.toJS() as { resources: string[] };
const objects: Obj[] = kustomization.resources.flatMap((f) => parseAllDocuments(readFileSync(`${DIR}/${f}`, "utf8")).map((d) => d.toJS() as Obj));
const find = <T>(kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as unknown as T;
const DRIVERS = [postgresLogicalDriver, memstoreDriver, natsDriver, kafkaDriver, redisDriver, postgresDriverFactory];

function runtime() {
  const registry = new Registry();
  return new PatternRuntime(cdcPattern(DRIVERS), {
    logger: createLogger({ level: "error", write: () => {} }),
    driverMetrics: new DriverMetrics(registry),
    registry,
    configFile: "test",
  });
}

describe("deploy/k8s/cdc", () => {
  test("every object is valid against the Kubernetes API schema", () => {
    const models: Record<string, new (o: never) => { validate(): void }> = { Deployment, Service, ConfigMap };
    expect(objects.length).toBe(7);
    for (const o of objects) expect(() => new models[o.kind]!(o as never).validate()).not.toThrow();
  });

  test("the mounted config fills source, sink (nats) and state (redis) as the pattern requires, its settings valid", () => {
    const cm = find<ConfigMap>("ConfigMap", "prism-cdc-config");
    const d = find<Deployment>("Deployment", "prism-cdc");
    const c = d.spec!.template.spec!.containers[0]!;
    const mount = c.volumeMounts!.find((m) => d.spec!.template.spec!.volumes!.some((v) => v.name === m.name && v.configMap?.name === cm.metadata!.name))!;
    expect(c.args).toEqual(["--config", `${mount.mountPath}/cdc.yaml`]);
    const config = parseYaml(cm.data!["cdc.yaml"]!, "cdc.yaml").value as Record<string, unknown> & {
      slots: Record<string, { driver: string; config: Record<string, unknown> }>;
    };
    expect(Object.fromEntries(Object.entries(config.slots).map(([s, v]) => [s, v.driver]))).toEqual({
      source: "postgres_logical",
      sink: "nats",
      state: "redis",
    });
    expect(checkSlots("cdc", config.slots, runtime().patternMetadata())).toBeUndefined();
    const { slots: _slots, namespace: _ns, lifecycle: _lc, ...settings } = config;
    const parsed = parseSettings(settings, {
      logger: createLogger({ level: "error", write: () => {} }),
      namespace: "app",
      configFile: "cdc.yaml",
      registry: new Registry(),
    });
    expect(parsed.tables.map((t) => t.name)).toEqual(["public.orders", "public.customers"]);
    // The database URL comes from the Secret the Deployment maps to PG_URL.
    expect(config.slots.source!.config.url).toEqual({ env: "PG_URL" });
    expect(c.env!.find((e) => e.name === "PG_URL")!.valueFrom!.secretKeyRef!.name).toBe("prism-cdc-postgres");
    const port = (svc: string) => find<Service>("Service", svc).spec!.ports![0]!.port;
    expect(config.slots.sink!.config.url).toBe(`nats://prism-cdc-nats:${port("prism-cdc-nats")}`);
    expect(config.slots.state!.config.address).toBe(`redis://prism-cdc-redis:${port("prism-cdc-redis")}`);
  });

  test("one replica replaced with Recreate: a replication slot has one reader at a time", () => {
    const d = find<Deployment>("Deployment", "prism-cdc");
    expect(d.spec!.replicas).toBe(1);
    expect(d.spec!.strategy!.type).toBe("Recreate");
  });

  test("cdc/pattern.json lists the slots the pattern declares and the drivers built in that fill each", () => {
    const declared = slotDeclarations(runtime().patternMetadata());
    // source requires no data interface: only postgres_logical fills it (the pattern refuses any other driver).
    const fill = (slot: string, requires: readonly string[]) =>
      slot === "source"
        ? ["postgres_logical"]
        : [...declared.drivers].filter(([d, has]) => d !== "postgres_logical" && requires.every((i) => has.includes(i))).map(([d]) => d);
    const fromCode = Object.fromEntries([...declared.slots].map(([slot, d]) => [slot, { requires: d.requires, drivers: fill(slot, d.requires).toSorted() }]));
    const manifest = patternManifests().find((p) => p.folder === "cdc")!.manifest;
    const fromManifest = Object.fromEntries(Object.entries(manifest.slots!).map(([slot, d]) => [slot, { ...d, drivers: d.drivers.toSorted() }]));
    expect(fromManifest).toEqual(fromCode);
  });

  test("the pattern runs its FROM scratch image as its non-root user, probes on the port the image exposes", () => {
    const d = find<Deployment>("Deployment", "prism-cdc");
    const pod = d.spec!.template.spec!;
    const c = pod.containers[0]!;
    const df = parseDockerfile(dockerfileOf("cdc"));
    expect(c.image).toBe("prism/cdc:latest");
    expect(df.from).toBe("scratch");
    const [uid, gid] = df.user!.split(":").map(Number);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid });
    expect(c.livenessProbe!.httpGet!.path).toBe("/health");
    expect(c.readinessProbe!.httpGet!.path).toBe("/ready");
    for (const p of c.ports!) expect(df.expose).toContain(p.containerPort);
    const svc = find<Service>("Service", "prism-cdc");
    expect(d.spec!.selector.matchLabels).toMatchObject(svc.spec!.selector!);
  });
});
