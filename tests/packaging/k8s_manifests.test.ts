import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { parseAllDocuments } from "yaml";
import { parseYaml } from "../../sdk/config/yaml";
import { parseProxyConfig } from "../../proxy/config";
import { ROOT } from "../helpers/process";
import { renderDockerfile } from "../../scripts/dockerfiles";
import { executables } from "../../scripts/executables";
import { parseDockerfile } from "./dockerfile";

// deploy/k8s is checked offline: every object against the Kubernetes API schemas
// (kubernetes-models), then against what the images and the proxy actually do.

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const DIR = `${ROOT}/deploy/k8s`;
const kustomization = parseAllDocuments(readFileSync(`${DIR}/kustomization.yaml`, "utf8"))[0]!.toJS() as { resources: string[] };
const objects: Obj[] = kustomization.resources.flatMap((f) =>
  parseAllDocuments(readFileSync(`${DIR}/${f}`, "utf8")).map((d) => {
    if (d.errors.length) throw new Error(`${f}: ${d.errors[0]!.message}`);
    return d.toJS() as Obj;
  }),
);
const byKind = <T>(kind: string) => objects.filter((o) => o.kind === kind) as unknown as T[];
const deployments = byKind<Deployment>("Deployment");
const services = byKind<Service>("Service");

describe("deploy/k8s", () => {
  test("holds the proxy (ConfigMap, Deployment, Service) and the memstore pattern (Deployment, Service)", () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).toSorted()).toEqual(
      ["ConfigMap/prism-proxy-config", "Deployment/prism-memstore", "Deployment/prism-proxy", "Service/prism-memstore", "Service/prism-proxy"].toSorted(),
    );
  });

  test("every object is valid against the Kubernetes API schema", () => {
    const models: Record<string, new (o: never) => { validate(): void }> = { Deployment, Service, ConfigMap };
    for (const o of objects) {
      const Model = models[o.kind];
      expect(Model).toBeDefined();
      expect(() => new Model!(o as never).validate()).not.toThrow();
    }
  });

  test("the schema check can fail: a wrong type is rejected", () => {
    const broken = structuredClone(deployments[0]!) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = "two";
    expect(() => new Deployment(broken as never).validate()).toThrow(/replicas/);
  });

  for (const d of deployments) {
    const name = d.metadata!.name!;
    const pod = d.spec!.template.spec!;
    const c = pod.containers[0]!;
    const image = executables().find((e) => `${e.image}:latest` === c.image);
    if (!image) throw new Error(`${name}: no executable has the image ${c.image}`);
    const df = parseDockerfile(renderDockerfile(image));

    test(`${name}: liveness /health and readiness /ready on the admin/metrics port the image exposes`, () => {
      const portOf = (p: string | number | undefined) => c.ports!.find((x) => x.name === p || x.containerPort === p)!.containerPort;
      expect(c.livenessProbe!.httpGet!.path).toBe("/health");
      expect(c.readinessProbe!.httpGet!.path).toBe("/ready");
      const probePort = portOf(c.livenessProbe!.httpGet!.port);
      expect(portOf(c.readinessProbe!.httpGet!.port)).toBe(probePort);
      expect(probePort).toBe(9090);
      expect(df.expose).toContain(probePort);
      for (const p of c.ports!) expect(df.expose).toContain(p.containerPort);
    });

    test(`${name}: runs as the image's non-root user, without privileges, with bounded resources`, () => {
      const [uid, gid] = df.user!.split(":").map(Number);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid });
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
      expect(c.resources!.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
      expect(c.resources!.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    });

    test(`${name}: a Service selects its pods and targets ports it declares`, () => {
      const svc = services.find((s) => s.metadata!.name === name)!;
      expect(svc).toBeDefined();
      expect(d.spec!.template.metadata!.labels).toMatchObject(svc.spec!.selector!);
      expect(d.spec!.selector.matchLabels).toMatchObject(svc.spec!.selector!);
      for (const p of svc.spec!.ports!) expect(c.ports!.map((x) => x.name)).toContain(p.targetPort as string);
    });
  }

  test("the proxy's mounted proxy.yaml is a valid proxy config pointing at the memstore Service", () => {
    const cm = byKind<ConfigMap>("ConfigMap")[0]!;
    const proxy = deployments.find((d) => d.metadata!.name === "prism-proxy")!;
    const c = proxy.spec!.template.spec!.containers[0]!;
    const mount = c.volumeMounts!.find((m) => proxy.spec!.template.spec!.volumes!.some((v) => v.name === m.name && v.configMap?.name === cm.metadata!.name))!;
    expect(c.args).toEqual(["--config", `${mount.mountPath}/proxy.yaml`]);
    const config = parseProxyConfig(parseYaml(cm.data!["proxy.yaml"]!, "proxy.yaml"), { patternsDir: "/usr/local/bin" });
    expect(config.listen).toEqual({ host: "0.0.0.0", port: 8980 });
    expect(config.adminPort).toBe(9090);
    const memstore = services.find((s) => s.metadata!.name === "prism-memstore")!;
    const grpcPort = memstore.spec!.ports!.find((p) => p.name === "grpc")!.port;
    expect(config.namespaces.map((n) => n.address)).toEqual([`prism-memstore:${grpcPort}`]);
    // The proxy's drain bound fits in the pod's grace period.
    expect(config.shutdownTimeoutMs / 1000).toBeLessThan(proxy.spec!.template.spec!.terminationGracePeriodSeconds!);
  });
});
