import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, type Node } from "yaml";

/** A configuration error that names the file, the key path and the line. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly file: string,
    readonly key: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line ? `:${line}` : ""}: ${key ? `${key}: ` : ""}${reason}`);
  }
}

/** A parsed YAML document that can tell the line of any key path. */
export interface YamlSource {
  readonly file: string;
  readonly value: unknown;
  lineOf(path: readonly (string | number)[]): number | undefined;
}

/** Parses YAML text; syntax errors become ConfigError with the line. */
export function parseYaml(text: string, file: string): YamlSource {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigError(file, "", lc.linePos(e.pos[0]).line, e.message.split("\n")[0]!);
  }
  const lineOf = (path: readonly (string | number)[]) => {
    let node: unknown = doc.contents;
    let line: number | undefined = node && (node as Node).range ? lc.linePos((node as Node).range![0]).line : undefined;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return line;
        const keyNode = pair.key as Node;
        if (keyNode.range) line = lc.linePos(keyNode.range[0]).line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        node = node.items[seg];
        if (node && (node as Node).range) line = lc.linePos((node as Node).range![0]).line;
      } else return line;
    }
    return line;
  };
  return { file, value: doc.toJS() ?? {}, lineOf };
}

/** Reads and parses a YAML file. */
export async function loadYamlFile(file: string): Promise<YamlSource> {
  let text: string;
  try {
    text = await Bun.file(file).text();
  } catch (err) {
    throw new ConfigError(file, "", undefined, `cannot read file: ${(err as Error).message}`);
  }
  return parseYaml(text, file);
}
