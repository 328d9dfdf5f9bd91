import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { DIAGRAM_SVG, renderDiagram, renderDiagramFile } from "../../scripts/docs_diagram";

describe("docs/architecture.svg", () => {
  test("is what scripts/docs_diagram.ts renders from docs/architecture.json (run it after editing the JSON)", () => {
    expect(readFileSync(DIAGRAM_SVG, "utf8")).toBe(renderDiagramFile());
  });

  test("shows every box of the source, client → proxy → pattern → backend", () => {
    const svg = readFileSync(DIAGRAM_SVG, "utf8");
    for (const label of ["gRPC client", "proxy :8980", "memstore", "redis", "Redis", "PostgreSQL"]) expect(svg).toContain(`>${label}<`);
  });

  test("refuses an arrow to a box that does not exist", () => {
    const src = { title: "t", columns: [{ heading: "h", boxes: [{ id: "a", label: "A", note: "" }] }], arrows: [{ from: "a", to: "nope", label: "" }] };
    expect(() => renderDiagram(src)).toThrow("unknown box");
  });
});
