import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { parseAllDocuments } from "yaml";
import { parseProxyConfig } from "../../proxy/config";
import { redisConfigSchema } from "../../redis/config";
import { validate } from "../../sdk/config/schema";
import { securitySchema } from "../../sdk/config/settings";
import { parseYaml } from "../../sdk/config/yaml";
import { ROOT } from "../helpers/process";

// deploy/k8s/ha (issue 24 item 6) checked offline: every object against the Kubernetes API schemas
// (kubernetes-models), then for what an HA deployment needs — proxy replicas behind a Service, pattern replicas the
// proxies list by stable name, readiness from /ready, PodDisruptionBudgets, anti-affinity, resource requests, TLS
// and auth on, every secret from a Secret volume.

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const DIR = `${ROOT}/deploy/k8s/ha`;
const kustomization = parseAllDocuments(readFileSync(`${DIR}/kustomization.yaml`, "utf8"))[0]!.toJS() as { resources: string[] };
const objects: Obj[] = kustomization.resources.flatMap((f) =>
  parseAllDocuments(readFileSync(`${DIR}/${f}`, "utf8")).map((d) => {
    if (d.errors.length) throw new Error(`${f}: ${d.errors[0]!.message}`);
    return d.toJS() as Obj;
  }),
);
const named = <T>(kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as unknown as T;
const proxy = named<Deployment>("Deployment", "prism-proxy");
const pattern = named<StatefulSet>("StatefulSet", "prism-redis-pattern");
const workloads: { name: string; replicas: number; pod: IPodSpec; labels: Record<string, string> }[] = [proxy, pattern].map((w) => ({
  name: w.metadata!.name!,
  replicas: w.spec!.replicas!,
  pod: w.spec!.template.spec!,
  labels: w.spec!.selector.matchLabels as Record<string, string>,
}));
const proxyCm = named<ConfigMap>("ConfigMap", "prism-proxy-ha-config");
// The admin token is read while parsing; it lives in a Secret this checkout does not have (checked below by path).
const proxyConfig = parseProxyConfig(parseYaml(proxyCm.data!["proxy.yaml"]!.replace(/token: \{ file: [^}]+\}/, 'token: "from-a-secret"'), "proxy.yaml"), {
  patternsDir: "/usr/local/bin",
});

/** The Secret mounted at the directory holding `file` in this pod, if any. */
function secretOf(pod: IPodSpec, file: string): string | undefined {
  for (const c of pod.containers) {
    for (const m of c.volumeMounts ?? []) {
      if (!file.startsWith(`${m.mountPath}/`)) continue;
      return pod.volumes!.find((v) => v.name === m.name)?.secret?.secretName;
    }
  }
  return undefined;
}

describe("deploy/k8s/ha", () => {
  test("every object is valid against the Kubernetes API schema", () => {
    const models: Record<string, new (o: never) => { validate(): void }> = { Deployment, StatefulSet, Service, ConfigMap, PodDisruptionBudget };
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).toSorted()).toEqual(
      [
        "ConfigMap/prism-proxy-ha-config",
        "ConfigMap/prism-redis-pattern-config",
        "Deployment/prism-proxy",
        "PodDisruptionBudget/prism-proxy",
        "PodDisruptionBudget/prism-redis-pattern",
        "Service/prism-proxy",
        "Service/prism-redis-pattern",
        "StatefulSet/prism-redis-pattern",
      ].toSorted(),
    );
    for (const o of objects) expect(() => new models[o.kind]!(o as never).validate()).not.toThrow();
  });

  test("the schema check can fail: a wrong type is rejected", () => {
    const broken = structuredClone(objects.find((o) => o.kind === "PodDisruptionBudget")!) as unknown as { spec: { selector: unknown } };
    broken.spec.selector = "prism-proxy";
    expect(() => new PodDisruptionBudget(broken as never).validate()).toThrow(/selector/);
  });

  for (const w of workloads) {
    test(`${w.name}: replicated, spread over nodes, a PodDisruptionBudget keeping a majority, readiness from /ready, resource requests`, () => {
      expect(w.replicas).toBeGreaterThanOrEqual(3);
      const anti = w.pod.affinity!.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution![0]!.podAffinityTerm;
      expect(anti.topologyKey).toBe("kubernetes.io/hostname");
      expect(anti.labelSelector!.matchLabels).toEqual(w.labels);
      const pdb = objects.find((o) => o.kind === "PodDisruptionBudget" && o.metadata.name === w.name) as unknown as PodDisruptionBudget;
      expect(pdb.spec!.selector!.matchLabels).toEqual(w.labels);
      expect(pdb.spec!.minAvailable).toBeGreaterThan(w.replicas / 2);
      expect(pdb.spec!.minAvailable).toBeLessThan(w.replicas);
      for (const c of w.pod.containers) {
        expect(c.readinessProbe!.httpGet!.path).toBe("/ready");
        expect(c.livenessProbe!.httpGet!.path).toBe("/health");
        expect(c.resources!.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        expect(c.resources!.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      }
      expect(w.pod.securityContext!.runAsNonRoot).toBe(true);
    });
  }

  test("the proxies: one Service over them; TLS, authentication and an admin token on, every secret file from a Secret volume", () => {
    const svc = named<Service>("Service", "prism-proxy");
    expect(proxy.spec!.template.metadata!.labels).toMatchObject(svc.spec!.selector!);
    expect(proxy.spec!.strategy!.rollingUpdate!.maxUnavailable).toBe(0);
    const pod = proxy.spec!.template.spec!;
    const c = pod.containers[0]!;
    expect(c.args).toEqual(["--config", "/etc/prism/config/proxy.yaml"]);
    expect(pod.volumes!.find((v) => v.name === "config")!.configMap!.name).toBe("prism-proxy-ha-config");
    const sec = proxyConfig.security;
    expect(sec.tls).toBeDefined();
    expect(sec.auth).toBeDefined();
    expect(sec.authz.length).toBeGreaterThan(0);
    const files = [sec.tls!.certFile, sec.tls!.keyFile, sec.auth!.apiKeysFile!, ...proxyConfig.namespaces.flatMap((n) => Object.values(n.remote?.tls ?? {}))];
    const adminToken = (parseYaml(proxyCm.data!["proxy.yaml"]!, "proxy.yaml").value as { admin: { token: { file: string } } }).admin.token.file;
    for (const f of [...files.filter((f) => f.startsWith("/")), adminToken]) expect(secretOf(pod, f)).toBeDefined();
    // The drain bound fits in the pod's grace period.
    expect(proxyConfig.shutdownTimeoutMs / 1000).toBeLessThan(pod.terminationGracePeriodSeconds!);
  });

  test("the proxies list one address per pattern pod (stable names through the headless Service), over mTLS", () => {
    const svc = named<Service>("Service", "prism-redis-pattern");
    expect(svc.spec!.clusterIP).toBe("None");
    expect(pattern.spec!.serviceName).toBe(svc.metadata!.name);
    const port = svc.spec!.ports!.find((p) => p.name === "grpc")!.port;
    const ns = proxyConfig.namespaces.find((n) => n.name === "sessions")!;
    expect(ns.addresses).toEqual(Array.from({ length: pattern.spec!.replicas! }, (_, i) => `prism-redis-pattern-${i}.prism-redis-pattern:${port}`));
    expect(ns.replicas).toBe(pattern.spec!.replicas!);
    expect(ns.remote!.tls).toMatchObject({ caFile: expect.any(String), certFile: expect.any(String), keyFile: expect.any(String) });
  });

  test("the pattern's config is valid for the Redis pattern, serves mTLS, and reads its password and certificates from Secrets", () => {
    const cm = named<ConfigMap>("ConfigMap", "prism-redis-pattern-config");
    const raw = parseYaml(cm.data!["redis.yaml"]!, "redis.yaml").value as Record<string, unknown>;
    const { security, lifecycle: _lifecycle, password, ...own } = raw;
    expect(() => validate(own, redisConfigSchema, { file: "redis.yaml" })).not.toThrow();
    const tls = (validate(security, securitySchema, { file: "redis.yaml" }) as { tls: { cert_file: string; key_file: string; client_ca_file: string } }).tls;
    expect(tls.client_ca_file).toBeDefined();
    const pod = pattern.spec!.template.spec!;
    for (const f of [tls.cert_file, tls.key_file, tls.client_ca_file, (password as { file: string }).file]) expect(secretOf(pod, f)).toBeDefined();
    expect(pod.containers[0]!.args).toEqual(["--config", "/etc/prism/config/redis.yaml"]);
  });
});
