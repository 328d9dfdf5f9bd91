/**
 * The namespace admin API (issue 24 item 4): prism.admin.NamespaceAdmin, answered by the proxy, authorized per
 * namespace with class `admin`. An admin of `ops-*` adds, changes (new instances before the old drain), reads
 * and removes namespaces; a bad entry is refused with its reason and nothing changes; a caller with only
 * read/write, or none, is refused; without auth the API is closed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NamespaceAdmin } from "../../proto/gen/prism/admin/namespace_admin_pb";
import { hashApiKey } from "../../proxy/security/authn";
import { createClient } from "../../sdk/grpc/client";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { clientsFor, killIfAlive, startProxy, utf8, type PatternSnapshot, type StartedProxy } from "./harness";

const ADMIN_KEY = "admin-key-5d4c3b2a1f0e9";
const WRITER_KEY = "writer-key-9a8b7c6d5e4f3";

type Namespace = PatternSnapshot & { replicas: PatternSnapshot[] };

async function failure(p: Promise<unknown>): Promise<PrismError> {
  try {
    await p;
  } catch (err) {
    return PrismError.from(err);
  }
  throw new Error("the call succeeded");
}

describe("namespace admin API", () => {
  let proxy: StartedProxy;
  const dir = mkdtempSync(join(tmpdir(), "prism-ns-admin-"));
  const pids = new Set<number>();
  let client: ReturnType<typeof createClient<typeof NamespaceAdmin>>;
  const as = (key: string, namespace: string) => ({ metadata: { "x-api-key": key, "x-prism-namespace": namespace }, timeoutMs: 30_000 });

  beforeAll(async () => {
    writeFileSync(join(dir, "keys"), `ops: sha256:${hashApiKey(ADMIN_KEY)}\nwriter: sha256:${hashApiKey(WRITER_KEY)}\n`);
    proxy = await startProxy(`
auth: { api_keys_file: ${join(dir, "keys")} }
authz:
  - { principals: ["key:ops"], namespaces: ["ops-*"], allow: [read, write, admin] }
  - { principals: ["key:writer"], namespaces: ["*"], allow: [read, write] }
namespaces:
  - { name: ops-base, pattern: memstore }
`);
    client = createClient(NamespaceAdmin, proxy.address);
  }, 30_000);
  afterAll(async () => {
    for (const n of ((await proxy?.patterns().catch(() => [])) ?? []) as Namespace[]) for (const r of n.replicas) if (r.pid) pids.add(r.pid);
    client?.close();
    await proxy?.stop();
    proxy?.cleanup();
    killIfAlive([...pids]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("an admin of the namespace adds, changes, reads and removes it; data calls follow", async () => {
    const put = await client.client.putNamespace({ entry: "pattern: memstore\nsettings: { drain_timeout: 2s }" }, as(ADMIN_KEY, "ops-new"));
    expect(put).toMatchObject({ success: true, action: "added" });
    const data = clientsFor(proxy.address, "ops-new");
    const md = { "x-api-key": WRITER_KEY };
    await data.kv.set({ key: "k", value: utf8("v") }, data.opts({ metadata: md }));
    const first = (await proxy.pattern("ops-new")) as Namespace;
    for (const r of first.replicas) pids.add(r.pid!);

    const changed = await client.client.putNamespace(
      { entry: '{"name": "ops-new", "pattern": "memstore", "replicas": 2, "settings": {"drain_timeout": "2s"}}' },
      as(ADMIN_KEY, "ops-new"),
    );
    expect(changed).toMatchObject({ success: true, action: "changed" });
    const second = (await proxy.pattern("ops-new")) as Namespace;
    expect(second.replicas).toHaveLength(2);
    expect(second.replicas.every((r) => r.ready)).toBe(true);
    expect(second.replicas.map((r) => r.pid)).not.toContain(first.pid);
    for (const r of second.replicas) pids.add(r.pid!);
    const same = await client.client.putNamespace({ entry: "pattern: memstore\nreplicas: 2\nsettings: { drain_timeout: 2s }" }, as(ADMIN_KEY, "ops-new"));
    expect(same.action).toBe("unchanged");

    const got = await client.client.getNamespace({}, as(ADMIN_KEY, "ops-new"));
    expect(JSON.parse(got.entryJson)).toMatchObject({ name: "ops-new", pattern: "memstore", replicas: 2 });
    expect(JSON.parse(got.statusJson)).toMatchObject({ namespace: "ops-new", status: "serving" });

    const removed = await client.client.deleteNamespace({}, as(ADMIN_KEY, "ops-new"));
    expect(removed).toMatchObject({ success: true, action: "removed" });
    expect((await failure(data.kv.get({ key: "k" }, data.opts({ metadata: md })))).code).toBe(Code.NOT_FOUND);
    expect((await failure(client.client.getNamespace({}, as(ADMIN_KEY, "ops-new")))).code).toBe(Code.NOT_FOUND);
    data.close();
    // The namespace of the file was never touched.
    expect((await proxy.pattern("ops-base")).status).toBe("serving");
  }, 60_000);

  test("a bad entry is refused with the reason and nothing changes", async () => {
    const before = JSON.stringify((await proxy.patterns()).map((n) => [n.namespace, n.pid]));
    const missing = await failure(client.client.putNamespace({ entry: "pattern: no-such-pattern" }, as(ADMIN_KEY, "ops-bad")));
    expect(missing.code).toBe(Code.INVALID_ARGUMENT);
    expect(missing.message).toContain("no pattern executable");
    const unknownKey = await failure(client.client.putNamespace({ entry: "pattern: memstore\ncolour: blue" }, as(ADMIN_KEY, "ops-bad")));
    expect(unknownKey.code).toBe(Code.INVALID_ARGUMENT);
    expect(unknownKey.message).toContain("colour: unknown key");
    const otherName = await failure(client.client.putNamespace({ entry: "name: ops-other\npattern: memstore" }, as(ADMIN_KEY, "ops-bad")));
    expect(otherName.code).toBe(Code.INVALID_ARGUMENT);
    expect(otherName.message).toContain('the call is for namespace "ops-bad"');
    expect(JSON.stringify((await proxy.patterns()).map((n) => [n.namespace, n.pid]))).toBe(before);
    const config = (await (await fetch(`${proxy.admin}/config`)).json()) as { changes: { applied: boolean; error?: string }[] };
    expect(config.changes.at(-1)?.applied).toBe(false);
  }, 30_000);

  test("only a caller granted admin on that namespace may change it", async () => {
    // The ops key has admin on ops-* only; the writer key has read and write everywhere, never admin.
    const outside = await failure(client.client.putNamespace({ entry: "pattern: memstore" }, as(ADMIN_KEY, "prod")));
    expect(outside.code).toBe(Code.PERMISSION_DENIED);
    expect(outside.message).toContain('may not admin namespace "prod"');
    const writer = await failure(client.client.deleteNamespace({}, as(WRITER_KEY, "ops-base")));
    expect(writer.code).toBe(Code.PERMISSION_DENIED);
    const nobody = await failure(client.client.deleteNamespace({}, { metadata: { "x-prism-namespace": "ops-base" } }));
    expect(nobody.code).toBe(Code.UNAUTHENTICATED);
    expect((await proxy.pattern("ops-base")).status).toBe("serving");
  });

  test("without auth the API is closed", async () => {
    const open = await startProxy("namespaces:\n  - { name: default, pattern: memstore }\n");
    const c = createClient(NamespaceAdmin, open.address);
    try {
      const refused = await failure(c.client.putNamespace({ entry: "pattern: memstore" }, { metadata: { "x-prism-namespace": "x" } }));
      expect(refused.code).toBe(Code.PERMISSION_DENIED);
      expect(refused.message).toContain("needs auth");
    } finally {
      const p = await open.pattern("default");
      c.close();
      await open.stop();
      open.cleanup();
      killIfAlive([p.pid]);
    }
  }, 30_000);
});
