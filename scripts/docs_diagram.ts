// Renders docs/architecture.json (columns of boxes, arrows between them) as docs/architecture.svg: plain SVG,
// no fonts or tools beyond this file, the same bytes for the same source. `bun scripts/docs_diagram.ts` writes it;
// `--check` exits 1 when the checked-in SVG differs (tests/docs/diagram.test.ts does the same).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface DiagramBox {
  id: string;
  label: string;
  note: string;
}

export interface DiagramSource {
  title: string;
  columns: { heading: string; boxes: DiagramBox[] }[];
  arrows: { from: string; to: string; label: string }[];
}

const BOX_W = 190;
const BOX_H = 46;
const COL_GAP = 130;
const ROW_GAP = 18;
const MARGIN = 24;
const TOP = 78;

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The SVG text of a diagram source. */
export function renderDiagram(src: DiagramSource): string {
  const rows = Math.max(...src.columns.map((c) => c.boxes.length));
  const columnHeight = rows * BOX_H + (rows - 1) * ROW_GAP;
  const width = MARGIN * 2 + src.columns.length * BOX_W + (src.columns.length - 1) * COL_GAP;
  const height = TOP + columnHeight + MARGIN;
  const at = new Map<string, { x: number; y: number }>();
  const parts: string[] = [];
  src.columns.forEach((col, c) => {
    const x = MARGIN + c * (BOX_W + COL_GAP);
    const own = col.boxes.length * BOX_H + (col.boxes.length - 1) * ROW_GAP;
    const y0 = TOP + (columnHeight - own) / 2;
    parts.push(`<text x="${x + BOX_W / 2}" y="${TOP - 14}" class="heading">${escape(col.heading)}</text>`);
    col.boxes.forEach((b, r) => {
      const y = y0 + r * (BOX_H + ROW_GAP);
      if (at.has(b.id)) throw new Error(`box id ${b.id} appears twice`);
      at.set(b.id, { x, y });
      parts.push(`<rect x="${x}" y="${y}" width="${BOX_W}" height="${BOX_H}" rx="6" class="box"/>`);
      const labelY = b.note ? y + 19 : y + BOX_H / 2 + 5;
      parts.push(`<text x="${x + BOX_W / 2}" y="${labelY}" class="label">${escape(b.label)}</text>`);
      if (b.note) parts.push(`<text x="${x + BOX_W / 2}" y="${y + 36}" class="note">${escape(b.note)}</text>`);
    });
  });
  for (const a of src.arrows) {
    const from = at.get(a.from);
    const to = at.get(a.to);
    if (!from || !to) throw new Error(`arrow ${a.from} → ${a.to} names an unknown box`);
    const x1 = from.x + BOX_W;
    const y1 = from.y + BOX_H / 2;
    const x2 = to.x - 4;
    const y2 = to.y + BOX_H / 2;
    parts.push(`<path d="M${x1},${y1} C${x1 + COL_GAP / 2},${y1} ${x2 - COL_GAP / 2},${y2} ${x2},${y2}" class="arrow"/>`);
    if (a.label) parts.push(`<text x="${(x1 + x2) / 2}" y="${Math.min(y1, y2) - 6}" class="edge">${escape(a.label)}</text>`);
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape(src.title)}">`,
    "<style>",
    "  text { font-family: sans-serif; text-anchor: middle; fill: #1f2933; }",
    "  .title { font-size: 17px; font-weight: bold; }",
    "  .heading { font-size: 12px; fill: #52606d; }",
    "  .label { font-size: 14px; font-weight: bold; }",
    "  .note, .edge { font-size: 11px; fill: #52606d; }",
    "  .box { fill: #f0f4f8; stroke: #486581; stroke-width: 1.5; }",
    "  .arrow { fill: none; stroke: #486581; stroke-width: 1.3; marker-end: url(#head); }",
    "</style>",
    `<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#486581"/></marker></defs>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="30" class="title">${escape(src.title)}</text>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

const ROOT = join(import.meta.dir, "..");
export const DIAGRAM_SOURCE = join(ROOT, "docs/architecture.json");
export const DIAGRAM_SVG = join(ROOT, "docs/architecture.svg");

export function renderDiagramFile(): string {
  return renderDiagram(JSON.parse(readFileSync(DIAGRAM_SOURCE, "utf8")) as DiagramSource);
}

if (import.meta.main) {
  const svg = renderDiagramFile();
  if (process.argv.includes("--check")) {
    const same = readFileSync(DIAGRAM_SVG, "utf8") === svg;
    console.log(same ? "docs/architecture.svg is up to date" : "docs/architecture.svg is stale: run bun scripts/docs_diagram.ts");
    process.exit(same ? 0 : 1);
  }
  writeFileSync(DIAGRAM_SVG, svg);
  console.log("wrote docs/architecture.svg");
}
