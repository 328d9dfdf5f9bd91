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
