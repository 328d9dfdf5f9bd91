import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { CONFIG_DOC, configReference, schemaRows } from "../../scripts/docs_config";
import { replaceBlock } from "../../scripts/docs_markdown";
import type { Schema } from "@prism/sdk";

describe("docs/configuration.md", () => {
  test("holds the reference scripts/docs_config.ts generates from the schemas (run it after changing a schema)", () => {
    const doc = readFileSync(CONFIG_DOC, "utf8");
    expect(doc).toBe(replaceBlock(doc, "config-reference", configReference()));
  });

  test("rows name nested keys as operators write them, with defaults as the code applies them", () => {
    const schema: Schema = {
      type: "object",
      required: ["items"],
      fields: {
        timeout: { type: "duration", default: "1500ms" },
        window: { type: "duration", default: 120_000 },
        size: { type: "bytes", default: "8MiB" },
        mode: { type: "string", enum: ["a", "b"], default: "a" },
        items: { type: "array", items: { type: "object", required: ["name"], fields: { name: { type: "string" } } } },
      },
    };
    expect(schemaRows(schema).map((r) => [r.key, r.type, r.default, r.allowed])).toEqual([
      ["`timeout`", "duration", "`1500ms`", ""],
      ["`window`", "duration", "`2m`", ""],
      ["`size`", "size", "`8MiB`", ""],
      ["`mode`", "string", "`a`", "`a`, `b`"],
      ["`items`", "list of section", "", "required"],
      ["`items[].name`", "string", "", "required"],
    ]);
  });
});
