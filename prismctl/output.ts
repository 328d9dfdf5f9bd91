/** Where a command writes: stdout lines and raw bytes, stderr lines; `color` only when stdout is a terminal. */
export interface Output {
  out(line: string): void;
  bytes(b: Uint8Array): void;
  err(line: string): void;
  /** True when stdout is a terminal and NO_COLOR is unset. */
  color: boolean;
}

const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[[0-9;]*m`, "g");

const CODES = { bold: 1, red: 31, green: 32, yellow: 33, dim: 2 } as const;

/** Text in a colour, or unchanged when the output is not a terminal. */
export function paint(io: Output, style: keyof typeof CODES, text: string): string {
  return io.color ? `${ESC}[${CODES[style]}m${text}${ESC}[0m` : text;
}

/** A status word coloured by what it means (green serving/healthy/native, yellow degraded/emulated, red otherwise). */
export function status(io: Output, word: string): string {
  const w = word.toLowerCase();
  if (/^(serving|healthy|native|true|ready)/.test(w)) return paint(io, "green", word);
  if (/^(degraded|emulated|starting|pipeline)/.test(w)) return paint(io, "yellow", word);
  if (/^(not_serving|unhealthy|unavailable|false|failed|crashed)/.test(w)) return paint(io, "red", word);
  return word;
}

/** Columns padded to the widest cell (the last one unpadded); the header bold on a terminal. */
export function table(io: Output, header: string[], rows: string[][]): string[] {
  // Widths from the plain text: colour codes take no room on screen.
  const plain = (s: string) => s.replace(ANSI, "");
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => plain(r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i]! - plain(c).length)))
      .join("  ")
      .trimEnd();
  return [io.color ? paint(io, "bold", line(header)) : line(header), ...rows.map(line)];
}

/** JSON with bigints as numbers and bytes as UTF-8 text (what a person or jq expects from a CLI). */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    function (this: Record<string, unknown>, k, v) {
      if (k === "$typeName") return undefined;
      if (typeof v === "bigint") return Number(v);
      // The holder's own value: a Buffer has already been turned into {type, data} by its toJSON.
      const raw = this[k];
      if (raw instanceof Uint8Array) return new TextDecoder().decode(raw);
      return v;
    },
    indent,
  );
}
