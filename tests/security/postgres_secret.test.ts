/**
 * PostgreSQL reached with its password from a file ({file: PATH}, contract §4) over
 * verified TLS (the CA `make services` made), through the proxy: the password never
 * shows in the proxy's or the pattern's output or a status message (checked with a wrong one).
 */
import { afterAll, beforeAll, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Code } from "../../sdk/grpc/errors";
import { ROOT } from "../helpers/process";
import { parseEndpoint, postgresUrl, requireService } from "../helpers/services";
import { clientsFor, startProxy, text, utf8 } from "../proxy/harness";
import { codeOf, messageOf } from "./clients";
import { makePki, type Pki } from "./pki";

// Processes start and stop here; a loaded 2-core machine can take seconds for that.
setDefaultTimeout(30_000);

let pki: Pki;
beforeAll(async () => {
  await requireService("postgres");
  pki = makePki();
});
afterAll(() => pki?.cleanup());

test("password from a file, TLS verify-full; a wrong one is UNAVAILABLE; neither is printed", async () => {
  const ep = parseEndpoint(postgresUrl(), 5432);
  const ca = join(ROOT, ".services", "postgres", "tls", "ca.crt");
  expect(existsSync(ca)).toBe(true);
  writeFileSync(pki.path("pg-password"), `${ep.password}\n`);
  writeFileSync(pki.path("pg-wrong"), "pg-wrong-password-5d5d5d\n");
  const ns = (name: string, file: string) => `
  - name: ${name}
    pattern: postgres
    config:
      host: localhost
      port: ${ep.port}
      user: ${ep.username}
      password: { file: ${file} }
      tls: { mode: verify-full, ca_file: ${ca} }
      retry: { max_attempts: 1 }
      table: prism_sec_${name}`;
  const proxy = await startProxy(`namespaces:${ns("good", pki.path("pg-password"))}\n`);
  try {
    const c = clientsFor(proxy.address, "good");
    await c.kv.set({ key: "k", value: utf8("over TLS") }, c.opts());
    expect(text((await c.kv.get({ key: "k" }, c.opts())).value)).toBe("over TLS");
    c.close();
    // The shared server's password is "prism", like its user and database: not greppable; the wrong one below is.
    expect((await proxy.pattern("good")).health?.details.tls).toBe("verify-full");
  } finally {
    await proxy.stop();
    proxy.cleanup();
  }
  const bad = await startProxy(`namespaces:${ns("bad", pki.path("pg-wrong"))}\n`).catch((err: Error) => err);
  if (bad instanceof Error) {
    // Refused at start-up (the pattern cannot initialize): the message must not carry the password.
    expect(bad.message).not.toContain("pg-wrong-password-5d5d5d");
  } else {
    try {
      const c = clientsFor(bad.address, "bad");
      expect(await codeOf(() => c.kv.get({ key: "k" }, c.opts()))).toBe(Code.UNAVAILABLE);
      expect(await messageOf(() => c.kv.get({ key: "k" }, c.opts()))).not.toContain("pg-wrong-password-5d5d5d");
      c.close();
      expect(bad.output()).not.toContain("pg-wrong-password-5d5d5d");
    } finally {
      await bad.stop();
      bad.cleanup();
    }
  }
});
