/**
 * The Session Store behind dist/proxy with its shard list in the namespace's `slots:` (a list slot, issue 22's
 * deviation removed) rather than in `config:`: the same suite, and a bad shard refused at start-up by the proxy,
 * naming the entry (`namespaces[0].slots.store[1].driver`) and its line.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startProcess } from "../helpers/process";
import { requireBuilt } from "../proxy/harness";
import { runSessionSuite, SUITE_SETTINGS } from "./suite";
import { type ShardKind, viaProxySlotsTarget } from "./targets";

for (const kind of ["memstore", "redis"] as ShardKind[])
  runSessionSuite(`${kind} shards in the proxy's slots: list`, () => viaProxySlotsTarget(kind, SUITE_SETTINGS));

test("a shard whose driver is not built in is refused by the proxy, naming slots.store[1].driver", async () => {
  requireBuilt("session-store");
  const yaml = [
    "namespaces:",
    "  - name: sessions",
    "    pattern: session-store",
    "    slots:",
    "      store:",
    "        - { driver: memstore, name: a }",
    "        - { driver: etcd, name: b }",
    "",
  ].join("\n");
  const dir = mkdtempSync(join(tmpdir(), "prism-session-slots-"));
  const file = join(dir, "proxy.yaml");
  writeFileSync(file, yaml);
  const p = startProcess([`${ROOT}/dist/proxy`, "--config", file, "--listen", "127.0.0.1:0", "--admin-port", "0", "--patterns-dir", `${ROOT}/dist`]);
  const timer = setTimeout(() => p.proc.kill("SIGKILL"), 20_000);
  const code = await p.exited;
  clearTimeout(timer);
  rmSync(dir, { recursive: true, force: true });
  expect(code).toBe(1);
  expect(p.output()).toContain(
    `${file}:7: namespaces[0].slots.store[1].driver: namespace "sessions": slot "store": driver "etcd" is not built into pattern session-store`,
  );
}, 30_000);
