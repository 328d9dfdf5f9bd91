import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { join } from "node:path";
import { AUTHENTICATED_SERVICES, OPEN_SERVICES, operationClass } from "./operations";

const ROOT = join(import.meta.dir, "../..");

describe("operation classes", () => {
  test("every method of every generated service is classified (or answered by the proxy itself)", async () => {
    const missing: string[] = [];
    let methods = 0;
    for (const f of new Glob("proto/gen/**/*_pb.ts").scanSync(ROOT)) {
      const mod = (await import(join(ROOT, f))) as Record<string, unknown>;
      for (const v of Object.values(mod)) {
        const s = v as { kind?: string; typeName: string; methods: { name: string }[] };
        if (s?.kind !== "service") continue;
        if (OPEN_SERVICES.includes(s.typeName) || AUTHENTICATED_SERVICES.includes(s.typeName)) continue;
        for (const m of s.methods) {
          methods++;
          if (operationClass(`/${s.typeName}/${m.name}`) === undefined) missing.push(`${s.typeName}/${m.name}`);
        }
      }
    }
    expect(methods).toBeGreaterThan(40);
    expect(missing).toEqual([]);
  });

  test("the issue's examples land in their class", () => {
    const kv = "/prism.interfaces.keyvalue.KeyValueBasicInterface/";
    expect(operationClass(`${kv}Get`)).toBe("read");
    expect(operationClass(`${kv}Set`)).toBe("write");
    expect(operationClass("/prism.interfaces.keyvalue.KeyValueScanInterface/Scan")).toBe("read");
    expect(operationClass("/prism.interfaces.pubsub.PubSubBasicInterface/Subscribe")).toBe("read");
    expect(operationClass("/prism.interfaces.pubsub.PubSubBasicInterface/Publish")).toBe("write");
    expect(operationClass("/prism.interfaces.stream.StreamBasicInterface/Append")).toBe("write");
    expect(operationClass("/prism.interfaces.stream.StreamBasicInterface/Trim")).toBe("admin");
    expect(operationClass("/prism.patterns.multicast_registry.MulticastRegistryPattern/Register")).toBe("write");
    expect(operationClass("/prism.patterns.multicast_registry.MulticastRegistryPattern/Multicast")).toBe("write");
    expect(operationClass("/no.Such/Method")).toBeUndefined();
  });
});
