import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Registry } from "prom-client";
import { parseAllDocuments } from "yaml";
import { memstore } from "../../multicast-registry/backends/memstore";
import { kafka } from "../../multicast-registry/backends/kafka";
import { nats } from "../../multicast-registry/backends/nats";
import { postgres } from "../../multicast-registry/backends/postgres";
import { redis } from "../../multicast-registry/backends/redis";
import { multicastRegistryPattern } from "../../multicast-registry/pattern";
import { checkSlots, slotDeclarations } from "../../proxy/slots";
import { parseYaml } from "../../sdk/config/yaml";
import { DriverMetrics } from "../../sdk/drivers/instrument";
import { PatternRuntime } from "../../sdk/lifecycle/runtime";
import { createLogger } from "../../sdk/observability/logger";
import { ROOT } from "../helpers/process";
import { dockerfileOf } from "../../scripts/dockerfiles";
import { patternManifests } from "../../scripts/executables";
import { parseDockerfile } from "./dockerfile";

// deploy/k8s/multicast-registry (the Multicast Registry with Redis + NATS slots), checked offline: Kubernetes
// API schemas, then the mounted config against the pattern's own slot declarations and the image.

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const DIR = `${ROOT}/deploy/k8s/multicast-registry`;
const kustomization = parseAllDocuments(readFileSync(`${DIR}/kustomization.yaml`, "utf8"))[0]!.toJS() as { resources: string[] };
const objects: Obj[] = kustomization.resources.flatMap((f) => parseAllDocuments(readFileSync(`${DIR}/${f}`, "utf8")).map((d) => d.toJS() as Obj));
const find = <T>(kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as unknown as T;

describe("deploy/k8s/multicast-registry", () => {
  test("every object is valid against the Kubernetes API schema", () => {
    const models: Record<string, new (o: never) => { validate(): void }> = { Deployment, Service, ConfigMap };
    expect(objects.length).toBe(7);
    for (const o of objects) expect(() => new models[o.kind]!(o as never).validate()).not.toThrow();
  });

  test("the mounted config fills registry with redis and messaging with nats, as the pattern's slots require", () => {
    const cm = find<ConfigMap>("ConfigMap", "prism-multicast-registry-config");
    const d = find<Deployment>("Deployment", "prism-multicast-registry");
    const c = d.spec!.template.spec!.containers[0]!;
    const mount = c.volumeMounts!.find((m) => d.spec!.template.spec!.volumes!.some((v) => v.name === m.name && v.configMap?.name === cm.metadata!.name))!;
    expect(c.args).toEqual(["--config", `${mount.mountPath}/multicast-registry.yaml`]);
    const config = parseYaml(cm.data!["multicast-registry.yaml"]!, "multicast-registry.yaml").value as {
      slots: Record<string, { driver: string; config: Record<string, string> }>;
    };
    expect(Object.fromEntries(Object.entries(config.slots).map(([s, v]) => [s, v.driver]))).toEqual({ registry: "redis", messaging: "nats" });
    const registry = new Registry();
    const rt = new PatternRuntime(multicastRegistryPattern([memstore, redis, postgres, nats, kafka]), {
      logger: createLogger({ level: "error", write: () => {} }),
      driverMetrics: new DriverMetrics(registry),
      registry,
      configFile: "test",
    });
    expect(checkSlots("multicast-registry", config.slots, rt.patternMetadata())).toBeUndefined();
    // The backends it names are the example Services here.
    const port = (svc: string) => find<Service>("Service", svc).spec!.ports![0]!.port;
    expect(config.slots.registry!.config.address).toBe(`redis://prism-mr-redis:${port("prism-mr-redis")}`);
    expect(config.slots.messaging!.config.url).toBe(`nats://prism-mr-nats:${port("prism-mr-nats")}`);
  });

  test("multicast-registry/pattern.json lists the slots the pattern declares and the drivers built in that fill each", () => {
    const registry = new Registry();
    const rt = new PatternRuntime(multicastRegistryPattern([memstore, redis, postgres, nats, kafka]), {
      logger: createLogger({ level: "error", write: () => {} }),
      driverMetrics: new DriverMetrics(registry),
      registry,
      configFile: "test",
    });
    const declared = slotDeclarations(rt.patternMetadata());
    const fill = (requires: readonly string[]) => [...declared.drivers].filter(([, has]) => requires.every((i) => has.includes(i))).map(([d]) => d);
    const fromCode = Object.fromEntries(
      [...declared.slots].map(([slot, d]) => [slot, { requires: d.requires, ...(d.optional ? { optional: true } : {}), drivers: fill(d.requires).toSorted() }]),
    );
    const manifest = patternManifests().find((p) => p.folder === "multicast-registry")!.manifest;
    const fromManifest = Object.fromEntries(Object.entries(manifest.slots!).map(([slot, d]) => [slot, { ...d, drivers: d.drivers.toSorted() }]));
    expect(fromManifest).toEqual(fromCode);
  });

  test("the pattern runs its FROM scratch image as its non-root user, probes on the port the image exposes", () => {
    const d = find<Deployment>("Deployment", "prism-multicast-registry");
    const pod = d.spec!.template.spec!;
    const c = pod.containers[0]!;
    const df = parseDockerfile(dockerfileOf("multicast-registry"));
    expect(c.image).toBe("prism/multicast-registry:latest");
    expect(df.from).toBe("scratch");
    const [uid, gid] = df.user!.split(":").map(Number);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid });
    expect(c.livenessProbe!.httpGet!.path).toBe("/health");
    expect(c.readinessProbe!.httpGet!.path).toBe("/ready");
    for (const p of c.ports!) expect(df.expose).toContain(p.containerPort);
    const svc = find<Service>("Service", "prism-multicast-registry");
    expect(d.spec!.selector.matchLabels).toMatchObject(svc.spec!.selector!);
  });
});
