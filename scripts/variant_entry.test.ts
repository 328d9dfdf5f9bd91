import { expect, test } from "bun:test";
import { variantDrivers, variantEntry } from "./variant_entry";

test("a composed pattern's drivers are its backends/ modules; the entry serves its factory with the ones named", () => {
  for (const p of ["multicast-registry", "session-store"]) expect(variantDrivers(p)).toEqual(["kafka", "memstore", "nats", "postgres", "redis"]);
  const entry = variantEntry("session-store", ["redis", "nats"], ".build");
  expect(entry).toContain('import { sessionStorePattern } from "../session-store/pattern";');
  expect(entry).toContain('import { nats } from "../session-store/backends/nats";');
  expect(entry).toContain("await serve(sessionStorePattern([redis, nats]));");
  expect(variantEntry("multicast-registry", ["redis"], ".")).toContain('import { multicastRegistryPattern } from "./multicast-registry/pattern";');
});

test("an unknown driver or none at all is refused", () => {
  expect(() => variantEntry("session-store", ["redis", "mongo"], ".build")).toThrow("unknown driver(s) mongo; known: kafka, memstore, nats, postgres, redis");
  expect(() => variantEntry("session-store", [], ".build")).toThrow("a variant needs at least one driver");
});
