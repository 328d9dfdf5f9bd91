import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { parseAllDocuments } from "yaml";
import { validate } from "../../sdk/config/schema";
import { parseYaml } from "../../sdk/config/yaml";
import { dockerfileOf } from "../../scripts/dockerfiles";
import { patternManifests } from "../../scripts/executables";
import { kafka } from "../../session-store/backends/kafka";
import { memstore } from "../../session-store/backends/memstore";
import { nats } from "../../session-store/backends/nats";
import { postgres } from "../../session-store/backends/postgres";
import { redis } from "../../session-store/backends/redis";
import { settingsSchema } from "../../session-store/pattern";
import { SESSION_SLOTS } from "../../session-store/shards";
import { ROOT } from "../helpers/process";
import { parseDockerfile } from "./dockerfile";

// deploy/k8s/session-store (the Session Store on three Redis shards, replicated over NATS), checked offline:
// Kubernetes API schemas, then the mounted config against the pattern's slots, settings and image.

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const DIR = `${ROOT}/deploy/k8s/session-store`;
const kustomization = parseAllDocuments(readFileSync(`${DIR}/kustomization.yaml`, "utf8"))[0]!.toJS() as { resources: string[] };
const objects: Obj[] = kustomization.resources.flatMap((f) => parseAllDocuments(readFileSync(`${DIR}/${f}`, "utf8")).map((d) => d.toJS() as Obj));
const find = <T>(kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as unknown as T;
const BUILT_IN = [memstore, redis, postgres, nats, kafka].map((b) => b.factory);

describe("deploy/k8s/session-store", () => {
  test("every object is valid against the Kubernetes API schema", () => {
    const models: Record<string, new (o: never) => { validate(): void }> = { Deployment, Service, ConfigMap };
    expect(objects.length).toBe(11);
    for (const o of objects) expect(() => new models[o.kind]!(o as never).validate()).not.toThrow();
  });

  test("the mounted config: three redis shards and nats replication, drivers that fill the slots, valid settings, the example Services", () => {
    const cm = find<ConfigMap>("ConfigMap", "prism-session-store-config");
    const d = find<Deployment>("Deployment", "prism-session-store");
    const c = d.spec!.template.spec!.containers[0]!;
    const mount = c.volumeMounts!.find((m) => d.spec!.template.spec!.volumes!.some((v) => v.name === m.name && v.configMap?.name === cm.metadata!.name))!;
    expect(c.args).toEqual(["--config", `${mount.mountPath}/session-store.yaml`]);
    const {
      slots,
      namespace: _ns,
      lifecycle: _lc,
      ...settings
    } = parseYaml(cm.data!["session-store.yaml"]!, "session-store.yaml").value as {
      slots: { store: { driver: string; name: string; config: Record<string, string> }[]; replication: { driver: string; config: Record<string, string> } };
      namespace: string;
      lifecycle: unknown;
    };
    expect(() => validate(settings, settingsSchema, { file: "session-store.yaml" })).not.toThrow();
    const implementsAll = (driver: string, slot: string) => {
      const f = BUILT_IN.find((x) => x.name === driver)!;
      return SESSION_SLOTS.find((s) => s.name === slot)!.requires.every((i) => f.interfaces.includes(i));
    };
    expect(slots.store.map((s) => s.driver)).toEqual(["redis", "redis", "redis"]);
    for (const s of slots.store) expect(implementsAll(s.driver, "store")).toBe(true);
    expect(implementsAll(slots.replication.driver, "replication")).toBe(true);
    const port = (svc: string) => find<Service>("Service", svc).spec!.ports![0]!.port;
    slots.store.forEach((s, i) => expect(s.config.address).toBe(`redis://prism-ss-redis-${i}:${port(`prism-ss-redis-${i}`)}`));
    expect(slots.replication.config.url).toBe(`nats://prism-ss-nats:${port("prism-ss-nats")}`);
  });

  test("session-store/pattern.json lists the slots the pattern declares and the drivers built in that fill each", () => {
    const fromCode = Object.fromEntries(
      SESSION_SLOTS.map((d) => [
        d.name,
        {
          requires: [...d.requires],
          ...(d.optional ? { optional: true } : {}),
          drivers: BUILT_IN.filter((f) => d.requires.every((i) => f.interfaces.includes(i)))
            .map((f) => f.name)
            .toSorted(),
        },
      ]),
    );
    const manifest = patternManifests().find((p) => p.folder === "session-store")!.manifest;
    const fromManifest = Object.fromEntries(Object.entries(manifest.slots!).map(([slot, d]) => [slot, { ...d, drivers: d.drivers.toSorted() }]));
    expect(fromManifest).toEqual(fromCode);
  });

  test("the pattern runs its FROM scratch image as its non-root user, probes on the port the image exposes", () => {
    const d = find<Deployment>("Deployment", "prism-session-store");
    const pod = d.spec!.template.spec!;
    const c = pod.containers[0]!;
    const df = parseDockerfile(dockerfileOf("session-store"));
    expect(c.image).toBe("prism/session-store:latest");
    expect(df.from).toBe("scratch");
    const [uid, gid] = df.user!.split(":").map(Number);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid });
    expect(c.livenessProbe!.httpGet!.path).toBe("/health");
    expect(c.readinessProbe!.httpGet!.path).toBe("/ready");
    for (const p of c.ports!) expect(df.expose).toContain(p.containerPort);
    const svc = find<Service>("Service", "prism-session-store");
    expect(d.spec!.selector.matchLabels).toMatchObject(svc.spec!.selector!);
  });
});
