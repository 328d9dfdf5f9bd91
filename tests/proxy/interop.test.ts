/**
 * Interoperability with other implementations of the protocol (issue 9, item 7), against a stand-in for a
 * pattern built on the original Go SDK behind dist/proxy: interfaces declared by short name are forwarded like
 * full names, and Prism's own clients (the SDK client with failOnErrorReply, prismctl, prism-load) treat an OK
 * reply with success=false or error set as a failure.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValuePattern } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { failOnErrorReply, replyFailure } from "../../sdk/grpc/reply_check";
import { ROOT } from "../helpers/process";
import { startGoStylePattern, type GoStylePattern } from "./go_style_pattern";
import { requireBuilt, startProxy, utf8, text, type StartedProxy } from "./harness";

/** Runs an executable without blocking this process (the stand-in pattern answers from it). */
async function exec(cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

async function failure(call: () => Promise<unknown> | AsyncIterable<unknown>): Promise<PrismError | undefined> {
  try {
    const r = call();
    if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") await Array.fromAsync(r as AsyncIterable<unknown>);
    else await r;
    return undefined;
  } catch (err) {
    return PrismError.from(err);
  }
}

test("replyFailure: success=false or a non-empty error is a failure; other replies are not", () => {
  expect(replyFailure({ success: false, error: "" })).toBe("the reply says success=false");
  expect(replyFailure({ found: false, error: "disk full" })).toBe("disk full");
  expect(replyFailure({ success: true, error: "" })).toBeUndefined();
  expect(replyFailure({ found: false, value: new Uint8Array() })).toBeUndefined();
  expect(replyFailure({ exists: false })).toBeUndefined();
});

describe("a Go-SDK-style pattern behind the proxy", () => {
  let go: GoStylePattern;
  let proxy: StartedProxy;
  const md = { metadata: { "x-prism-namespace": "legacy" }, timeoutMs: 10_000 };
  beforeAll(async () => {
    requireBuilt("proxy", "prismctl", "prism-load");
    go = await startGoStylePattern();
    proxy = await startProxy(`
namespaces:
  - name: legacy
    address: ${go.address}
`);
  }, 30_000);
  afterAll(async () => {
    await proxy?.stop();
    proxy?.cleanup();
    go?.stop();
  });

  test("interfaces declared by short name are forwarded; an undeclared one is still UNIMPLEMENTED", async () => {
    const kv = createClient(KeyValueBasicInterface, proxy.address);
    const kvp = createClient(KeyValuePattern, kv.raw);
    const scan = createClient(KeyValueScanInterface, kv.raw);
    try {
      expect((await kv.client.set({ key: "a", value: utf8("1") }, md)).success).toBe(true);
      expect(text((await kvp.client.retrieve({ key: "a" }, md)).value)).toBe("1");
      expect((await kvp.client.getCapabilities({}, md)).slots?.primaryBackendType).toBe("go-memory");
      const err = await failure(() => scan.client.count({ prefix: "" }, md));
      expect(err?.code).toBe(Code.UNIMPLEMENTED);
      expect(err?.message).toContain("does not implement prism.interfaces.keyvalue.KeyValueScanInterface");
    } finally {
      kv.close();
    }
  });

  test("the SDK client with failOnErrorReply rejects OK replies that report a failure", async () => {
    const h = createClient(KeyValueBasicInterface, proxy.address);
    const kv = failOnErrorReply(KeyValueBasicInterface, h.client);
    try {
      // The plain client sees an OK reply…
      expect(await h.client.set({ key: "fail-1", value: utf8("x") }, md)).toMatchObject({ success: false, error: "disk full" });
      // …the strict one a failure that names the method and the reason.
      const set = await failure(() => kv.set({ key: "fail-1", value: utf8("x") }, md));
      expect(set?.code).toBe(Code.UNKNOWN);
      expect(set?.message).toBe("KeyValueBasicInterface/Set answered OK but failed: disk full");
      expect((await failure(() => kv.get({ key: "fail-2" }, md)))?.message).toContain("disk full");
      expect((await kv.set({ key: "ok", value: utf8("y") }, md)).success).toBe(true);
      expect((await kv.get({ key: "missing" }, md)).found).toBe(false);
    } finally {
      h.close();
    }
  });

  test("prismctl kv set/get exit 1 with the reported error", async () => {
    const ctl = (...args: string[]) => exec([`${ROOT}/dist/prismctl`, "--addr", proxy.address, "-n", "legacy", ...args]);
    const set = await ctl("kv", "set", "fail-x", "v");
    expect(set.code).toBe(1);
    expect(set.stderr).toBe("prismctl: UNKNOWN: KeyValuePattern/Store answered OK but failed: disk full\n");
    expect((await ctl("kv", "get", "fail-x")).code).toBe(1);
    expect(await ctl("kv", "set", "fine", "v")).toMatchObject({ code: 0, stdout: "OK\n" });
  });

  test("prism-load counts such replies as errors, for both services", async () => {
    const load = async (service: string) => {
      const p = await exec([
        `${ROOT}/dist/prism-load`,
        "--proxy",
        proxy.address,
        "--namespace",
        "legacy",
        "--service",
        service,
        "--operation",
        "set",
        "--requests",
        "20",
        "--concurrency",
        "4",
        "--warmup",
        "0s",
        "--keys",
        "10",
        "--json",
        "-",
        "--progress",
        "never",
      ]);
      return JSON.parse(p.stdout) as { ok: number; errors: Record<string, number> };
    };
    try {
      go.failAll = true;
      for (const service of ["interface", "pattern"]) expect(await load(service)).toMatchObject({ ok: 0, errors: { UNKNOWN: 20 } });
    } finally {
      go.failAll = false;
    }
    for (const service of ["interface", "pattern"]) expect(await load(service)).toMatchObject({ ok: 20, errors: {} });
  });
});
