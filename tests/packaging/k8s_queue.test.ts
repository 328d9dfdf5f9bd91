import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Registry } from "prom-client";
import { parseAllDocuments } from "yaml";
import { kafka } from "../../queue/backends/kafka";
import { memstore } from "../../queue/backends/memstore";
import { nats } from "../../queue/backends/nats";
import { postgres } from "../../queue/backends/postgres";
import { redis } from "../../queue/backends/redis";
import { queuePattern } from "../../queue/pattern";
import { checkSlots, slotDeclarations } from "../../proxy/slots";
import { parseYaml } from "../../sdk/config/yaml";
import { DriverMetrics } from "../../sdk/drivers/instrument";
import { PatternRuntime } from "../../sdk/lifecycle/runtime";
import { createLogger } from "../../sdk/observability/logger";
import { ROOT } from "../helpers/process";
import { dockerfileOf } from "../../scripts/dockerfiles";
import { patternManifests } from "../../scripts/executables";
import { parseDockerfile } from "./dockerfile";

// deploy/k8s/queue (the queue pattern with its queue slot on Redis), checked offline: Kubernetes API schemas, then
// the mounted config against the pattern's own slot declarations and the image.

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const DIR = `${ROOT}/deploy/k8s/queue`;
const kustomization = parseAllDocuments(readFileSync(`${DIR}/kustomization.yaml`, "utf8"))[0]!.toJS() as { resources: string[] };
const objects: Obj[] = kustomization.resources.flatMap((f) => parseAllDocuments(readFileSync(`${DIR}/${f}`, "utf8")).map((d) => d.toJS() as Obj));
const find = <T>(kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as unknown as T;

const runtime = () => {
  const registry = new Registry();
  return new PatternRuntime(queuePattern([memstore, redis, postgres, nats, kafka]), {
    logger: createLogger({ level: "error", write: () => {} }),
    driverMetrics: new DriverMetrics(registry),
    registry,
    configFile: "test",
  });
};

describe("deploy/k8s/queue", () => {
  test("every object is valid against the Kubernetes API schema", () => {
    const models: Record<string, new (o: never) => { validate(): void }> = { Deployment, Service, ConfigMap };
    expect(objects.length).toBe(5);
    for (const o of objects) expect(() => new models[o.kind]!(o as never).validate()).not.toThrow();
  });

  test("the mounted config fills the queue slot with redis, as the pattern's slots require", () => {
    const cm = find<ConfigMap>("ConfigMap", "prism-queue-config");
    const d = find<Deployment>("Deployment", "prism-queue");
    const c = d.spec!.template.spec!.containers[0]!;
    const mount = c.volumeMounts!.find((m) => d.spec!.template.spec!.volumes!.some((v) => v.name === m.name && v.configMap?.name === cm.metadata!.name))!;
    expect(c.args).toEqual(["--config", `${mount.mountPath}/queue.yaml`]);
    const config = parseYaml(cm.data!["queue.yaml"]!, "queue.yaml").value as { slots: Record<string, { driver: string; config: Record<string, string> }> };
    expect(Object.fromEntries(Object.entries(config.slots).map(([s, v]) => [s, v.driver]))).toEqual({ queue: "redis" });
    expect(checkSlots("queue", config.slots, runtime().patternMetadata())).toBeUndefined();
    const port = find<Service>("Service", "prism-queue-redis").spec!.ports![0]!.port;
    expect(config.slots.queue!.config.address).toBe(`redis://prism-queue-redis:${port}`);
  });

  test("queue/pattern.json lists the slots the pattern declares and the drivers built in that fill each", () => {
    const declared = slotDeclarations(runtime().patternMetadata());
    const fill = (requires: readonly string[]) => [...declared.drivers].filter(([, has]) => requires.every((i) => has.includes(i))).map(([d]) => d);
    const fromCode = Object.fromEntries(
      [...declared.slots].map(([slot, d]) => [slot, { requires: d.requires, ...(d.optional ? { optional: true } : {}), drivers: fill(d.requires).toSorted() }]),
    );
    const manifest = patternManifests().find((p) => p.folder === "queue")!.manifest;
    const fromManifest = Object.fromEntries(Object.entries(manifest.slots!).map(([slot, d]) => [slot, { ...d, drivers: d.drivers.toSorted() }]));
    expect(fromManifest).toEqual(fromCode);
  });

  test("the pattern runs its FROM scratch image as its non-root user, probes on the port the image exposes", () => {
    const d = find<Deployment>("Deployment", "prism-queue");
    const pod = d.spec!.template.spec!;
    const c = pod.containers[0]!;
    const df = parseDockerfile(dockerfileOf("queue"));
    expect(c.image).toBe("prism/queue:latest");
    expect(df.from).toBe("scratch");
    const [uid, gid] = df.user!.split(":").map(Number);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid });
    expect(c.readinessProbe!.httpGet!.path).toBe("/ready");
    for (const p of c.ports!) expect(df.expose).toContain(p.containerPort);
    const svc = find<Service>("Service", "prism-queue");
    expect(d.spec!.selector.matchLabels).toMatchObject(svc.spec!.selector!);
  });
});
