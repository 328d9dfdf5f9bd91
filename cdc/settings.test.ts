import { expect, test } from "bun:test";
import { Registry } from "prom-client";
import { createLogger } from "@prism/sdk";
import { parseSettings } from "./settings";

const env = { logger: createLogger({ level: "error", write: () => {} }), namespace: "", configFile: "cdc.yaml", registry: new Registry() };

test("defaults, and table names qualified with public", () => {
  const s = parseSettings({ tables: [{ name: "orders" }, { name: "billing.invoices", mask: ["iban"] }] }, env);
  expect(s.tables.map((t) => t.name)).toEqual(["public.orders", "billing.invoices"]);
  expect(s).toMatchObject({
    encoding: "protobuf",
    stream: "cdc",
    snapshot: false,
    max_in_flight: 512,
    max_lag_bytes: 256 * 1024 * 1024,
    sink_idempotency: true,
  });
});

test("configuration errors name the file and the key", () => {
  expect(() => parseSettings({ tables: [] }, env)).toThrow("cdc.yaml: tables: must name at least one table");
  expect(() => parseSettings({ tables: [{ name: "a;drop" }] }, env)).toThrow('cdc.yaml: tables[0].name: "a;drop" is not a plain [schema.]table name');
  expect(() => parseSettings({ tables: [{ name: "a" }, { name: "public.a" }] }, env)).toThrow("tables[1].name: public.a is listed twice");
  expect(() => parseSettings({ tables: [{ name: "a", mask: ["x"], rename: { x: "y" } }] }, env)).toThrow("tables[0].mask: column x is both masked and renamed");
  expect(() => parseSettings({ tables: [{ name: "a", where: [{ column: "x", op: "like" }] }] }, env)).toThrow("tables[0].where[0].op: must be one of eq");
  expect(() => parseSettings({ tables: [{ name: "a" }], encoding: "avro" }, env)).toThrow("encoding");
});
