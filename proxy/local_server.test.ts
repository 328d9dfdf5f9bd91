import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import type { DescService } from "@bufbuild/protobuf";
import { join } from "node:path";
import { REFLECTED_SERVICES } from "./local_server";

/** Services of proto/ that clients never call through the proxy. */
const NOT_FOR_CLIENTS = new Set(["prism.interfaces.ProxyControlPlane"]);

describe("reflection through the proxy", () => {
  test("describes every service of proto/ a client can call (a new pattern cannot be forgotten)", async () => {
    const gen = join(import.meta.dir, "../proto/gen/prism");
    const declared: string[] = [];
    for await (const file of new Glob("**/*_pb.ts").scan(gen)) {
      const mod = (await import(join(gen, file))) as Record<string, unknown>;
      for (const v of Object.values(mod)) {
        const d = v as Partial<DescService>;
        if (d?.kind === "service" && !NOT_FOR_CLIENTS.has(d.typeName!)) declared.push(d.typeName!);
      }
    }
    expect(declared).toContain("prism.patterns.multicast_registry.MulticastRegistryPattern");
    expect(REFLECTED_SERVICES.map((s) => s.typeName)).toEqual(expect.arrayContaining(declared));
  });
});
