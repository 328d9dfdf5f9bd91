import { afterAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { Health } from "../../proto/gen/grpc/health/v1/health_pb";
import { createClient } from "./client";
import { Code } from "./errors";
import { HealthService, Serving } from "./health";
import { bindServer, serverOptions } from "./server_factory";

const server = new grpc.Server(serverOptions);
const health = new HealthService(Serving.NOT_SERVING);
health.set("svc", Serving.NOT_SERVING);
health.addTo(server);
const address = bindServer(server, "127.0.0.1", 0).then((p) => `127.0.0.1:${p}`);
afterAll(() => server.forceShutdown());

describe("grpc.health.v1", () => {
  test("Check answers per service; an unknown service is NOT_FOUND", async () => {
    const { client, close } = createClient(Health, await address);
    expect((await client.check({ service: "svc" })).status).toBe(Serving.NOT_SERVING);
    const err = await client.check({ service: "nope" }).catch((e) => e);
    expect(err.code).toBe(Code.NOT_FOUND);
    close();
  });

  test("Watch streams every change, and close() ends the stream with UNAVAILABLE", async () => {
    const { client, close } = createClient(Health, await address);
    const seen: Serving[] = [];
    const watching = (async () => {
      for await (const r of client.watch({ service: "svc" }, { timeoutMs: 5000 })) {
        seen.push(r.status);
        if (seen.length === 1) health.setAll(Serving.SERVING);
        if (seen.length === 2) health.close();
      }
    })().catch((e) => e);
    expect((await watching)?.code).toBe(14);
    expect(seen).toEqual([Serving.NOT_SERVING, Serving.SERVING]);
    close();
  });
});

describe("grpc.health.v1 with a visibility rule", () => {
  const hidden = new grpc.Server(serverOptions);
  const h = new HealthService(Serving.SERVING);
  h.set("secret-ns", Serving.SERVING);
  h.addTo(hidden, (service, md) => service === "" || md.get("may-see")[0] === service);
  const at = bindServer(hidden, "127.0.0.1", 0).then((p) => `127.0.0.1:${p}`);
  afterAll(() => hidden.forceShutdown());

  test("a service the caller may not see answers exactly as one that does not exist, on Check and on Watch", async () => {
    const { client, close } = createClient(Health, await at);
    const errOf = (service: string, md = {}) => client.check({ service }, { metadata: md }).catch((e) => `${e.code} ${e.message}`.replace(service, "X"));
    expect(await errOf("secret-ns")).toBe(await errOf("nope"));
    expect((await client.check({ service: "secret-ns" }, { metadata: { "may-see": "secret-ns" } })).status).toBe(Serving.SERVING);
    expect((await client.check({ service: "" })).status).toBe(Serving.SERVING);
    for await (const r of client.watch({ service: "secret-ns" }, { timeoutMs: 5000 })) {
      expect(r.status).toBe(Serving.SERVICE_UNKNOWN);
      break;
    }
    close();
  });
});
