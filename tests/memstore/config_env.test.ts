import { afterAll, expect, test } from "bun:test";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { ROOT, startProcess, type StartedProcess } from "../helpers/process";
import { utf8 } from "../acceptance/target";
import { freePort, tempConfig } from "./helpers";

const started: StartedProcess[] = [];
afterAll(async () => {
  for (const p of started) await p.stop();
});

test("--config with an unknown key exits non-zero naming the key and its line", async () => {
  const config = tempConfig("max_keys: 10\nsubscriber_buffer: 8\nmax_kyes: 20\n");
  try {
    const p = startProcess([`${ROOT}/dist/memstore`, "--grpc-port", "0", "--config", config.path]);
    started.push(p);
    const code = await Promise.race([p.exited, Bun.sleep(10_000).then(() => "still running")]);
    expect(code).not.toBe(0);
    expect(typeof code).toBe("number");
    expect(p.output()).toContain(`${config.path}:3: max_kyes: unknown key`);
    expect(p.output()).not.toContain("grpc listening");
  } finally {
    config.remove();
  }
});

test("a bad value exits non-zero naming the key and its line", async () => {
  const config = tempConfig("# capacity\nmax_keys: many\n");
  try {
    const p = startProcess([`${ROOT}/dist/memstore`, "--grpc-port", "0", "--config", config.path]);
    started.push(p);
    expect(await Promise.race([p.exited, Bun.sleep(10_000).then(() => "still running")])).not.toBe(0);
    expect(p.output()).toContain(`${config.path}:2: max_keys: must be a number`);
  } finally {
    config.remove();
  }
});

test("PRISM_GRPC_PORT sets the gRPC port when no flag does", async () => {
  const port = await freePort();
  const p = startProcess([`${ROOT}/dist/memstore`], { env: { PRISM_GRPC_PORT: String(port) } });
  started.push(p);
  await p.waitFor(new RegExp(`grpc listening on 127\\.0\\.0\\.1:${port}\\b`));
  const kv = createClient(KeyValueBasicInterface, `127.0.0.1:${port}`);
  try {
    await kv.client.set({ key: "env", value: utf8("ok") });
    expect((await kv.client.exists({ key: "env" })).exists).toBe(true);
  } finally {
    kv.close();
  }
  expect(await p.stop()).toBe(0);
});
