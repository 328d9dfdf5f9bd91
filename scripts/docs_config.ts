// Writes the configuration reference of docs/configuration.md (between <!-- config-reference:begin --> and
// <!-- config-reference:end -->) from the schemas the code validates with, and the flags from the usage texts the
// executables print: `bun scripts/docs_config.ts` rewrites it, `--check` exits 1 when it is stale
// (tests/docs/configuration.test.ts does the same), so the reference cannot drift from the code.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kafkaConfigSchema } from "../kafka/config";
import { memstoreConfigSchema } from "../memstore/config";
import { settingsSchema as multicastSettingsSchema } from "../multicast-registry/pattern";
import { settingsSchema as sessionStoreSettingsSchema } from "../session-store/pattern";
import { natsConfigSchema } from "../nats/config";
import { postgresConfigSchema } from "../postgres/config";
import { proxyConfigSchema } from "../proxy/config";
import { USAGE as PROXY_USAGE } from "../proxy/settings";
import { redisConfigSchema } from "../redis/config";
import { type Schema, validate } from "@prism/sdk";
import { lifecycleSchema, securitySchema, USAGE as PATTERN_USAGE } from "../sdk/config/settings";
import { sdkConfigSchema } from "../sdk/lifecycle/runtime";
import { slotsSchema } from "../sdk/lifecycle/slots";
import { replaceBlock } from "./docs_markdown";

const ROOT = join(import.meta.dir, "..");
export const CONFIG_DOC = join(ROOT, "docs/configuration.md");
const BLOCK = "config-reference";

interface Row {
  key: string;
  type: string;
  default: string;
  allowed: string;
}

const code = (s: string) => `\`${s}\``;

function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function formatBytes(b: number): string {
  if (b > 0 && b % (1 << 30) === 0) return `${b / (1 << 30)}GiB`;
  if (b > 0 && b % (1 << 20) === 0) return `${b / (1 << 20)}MiB`;
  if (b > 0 && b % 1024 === 0) return `${b / 1024}KiB`;
  return String(b);
}

/** The default as the code applies it: what validation puts in place of a missing value. */
function effectiveDefault(s: Schema): string {
  if (!("default" in s) || s.default === undefined) return "";
  const v = validate<unknown>(undefined, s, { file: "default" });
  if (s.type === "duration") return code(formatDuration(v as number));
  if (s.type === "bytes") return code(formatBytes(v as number));
  return code(typeof v === "string" && v !== "" ? v : JSON.stringify(v));
}

function typeName(s: Schema): string {
  switch (s.type) {
    case "array":
      return `list of ${typeName(s.items)}`;
    case "map":
      return `map of ${typeName(s.values)}`;
    case "object":
      return "section";
    case "bytes":
      return "size";
    case "any":
      return "any";
    default:
      return s.type;
  }
}

function allowed(s: Schema, required: boolean): string {
  const parts: string[] = [];
  if (required) parts.push("required");
  if (s.type === "string" && s.enum) parts.push(s.enum.map(code).join(", "));
  if ((s.type === "integer" || s.type === "number") && s.min !== undefined) parts.push(`≥ ${s.min}`);
  if (s.type === "integer" && s.max !== undefined) parts.push(`≤ ${s.max}`);
  if (s.type === "object" && s.required?.length) parts.push(`needs ${s.required.map(code).join(", ")}`);
  return parts.join("; ");
}

/** One row per key, nested keys written as operators write them: `a.b`, `list[].key`, `map.<name>.key`. */
export function schemaRows(s: Schema, prefix = "", required = false): Row[] {
  const rows: Row[] = [];
  if (prefix) rows.push({ key: code(prefix), type: typeName(s), default: effectiveDefault(s), allowed: allowed(s, required) });
  if (s.type === "object") {
    for (const [k, f] of Object.entries(s.fields)) rows.push(...schemaRows(f, prefix ? `${prefix}.${k}` : k, s.required?.includes(k) ?? false));
  } else if (s.type === "array" && (s.items.type === "object" || s.items.type === "map")) {
    rows.push(...schemaRows(s.items, `${prefix}[]`).slice(1));
  } else if (s.type === "map" && s.values.type === "object") {
    rows.push(...schemaRows(s.values, `${prefix}.<name>`).slice(1));
  }
  return rows;
}

function table(rows: Row[]): string {
  return [
    "| key | type | default | allowed |",
    "| --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.key} | ${r.type} | ${r.default} | ${r.allowed.replace(/\|/g, "\\|")} |`),
  ].join("\n");
}

interface Section {
  heading: string;
  source: string;
  intro: string;
  schema: Schema;
  prefix?: string;
}

const SECTIONS: Section[] = [
  {
    heading: "Proxy file (`dist/proxy --config FILE`)",
    source: "proxy/config.ts `proxyConfigSchema` (with proxy/security/config.ts)",
    intro:
      "Unknown keys and wrong types stop start-up with `file:line: key: reason`. Explained: [proxy/README.md](../proxy/README.md), [security.md](security.md).",
    schema: proxyConfigSchema,
  },
  {
    heading: "Every pattern: keys the SDK reads",
    source: "sdk/lifecycle/runtime.ts `sdkConfigSchema`, sdk/emulation/policy.ts `emulationSchema`",
    intro: "In a pattern's config file or a namespace's `config:`; never passed to the driver. `emulation`: [client-api.md](client-api.md).",
    schema: sdkConfigSchema,
  },
  {
    heading: "Every pattern: `lifecycle`",
    source: "sdk/config/settings.ts `lifecycleSchema`",
    intro: "",
    schema: lifecycleSchema,
    prefix: "lifecycle",
  },
  {
    heading: "Every pattern: `security` (its own port, when run on its own)",
    source: "sdk/config/settings.ts `securitySchema`",
    intro: "`admin_token` takes a value, `{file: PATH}` or `{env: NAME}` ([security.md](security.md)).",
    schema: securitySchema,
    prefix: "security",
  },
  {
    heading: "Patterns with slots: `slots`",
    source: "sdk/lifecycle/slots.ts `slotsSchema`",
    intro:
      "Each slot names a driver and that driver's config (the config of the pattern of the same name). A slot the pattern declares `list` (the Session Store's `store`) takes a list of them, `[{driver, config}, …]`, as well as one. The proxy's `namespaces[].slots` takes the same form.",
    schema: slotsSchema,
    prefix: "slots",
  },
  {
    heading: "memstore",
    source: "memstore/config.ts `memstoreConfigSchema`",
    intro: "[memstore/README.md](../memstore/README.md)",
    schema: memstoreConfigSchema,
  },
  { heading: "redis", source: "redis/config.ts `redisConfigSchema`", intro: "[redis/README.md](../redis/README.md)", schema: redisConfigSchema },
  { heading: "kafka", source: "kafka/config.ts `kafkaConfigSchema`", intro: "[kafka/README.md](../kafka/README.md)", schema: kafkaConfigSchema },
  { heading: "nats", source: "nats/config.ts `natsConfigSchema`", intro: "[nats/README.md](../nats/README.md)", schema: natsConfigSchema },
  {
    heading: "postgres",
    source: "postgres/config.ts `postgresConfigSchema`",
    intro: "[postgres/README.md](../postgres/README.md)",
    schema: postgresConfigSchema,
  },
  {
    heading: "multicast-registry",
    source: "multicast-registry/pattern.ts `settingsSchema`",
    intro: "Beside `slots` (above). [multicast-registry/README.md](../multicast-registry/README.md)",
    schema: multicastSettingsSchema,
  },
  {
    heading: "session-store",
    source: "session-store/pattern.ts `settingsSchema`",
    intro: "Beside `slots` (`store`: one backend or a list of shards; `replication`, optional). [session-store/README.md](../session-store/README.md)",
    schema: sessionStoreSettingsSchema,
  },
];

/** The generated reference: flags, then one table per schema. */
export function configReference(): string {
  const out = [
    "Generated by `bun scripts/docs_config.ts` from the schemas the code validates with and the usage texts the executables print; edit those, then run it (`tests/docs/configuration.test.ts` fails when this is stale).",
    "",
    "### Flags of `dist/proxy` (proxy/settings.ts)",
    "",
    "```text",
    PROXY_USAGE.trimEnd(),
    "```",
    "",
    "### Flags of every pattern executable (sdk/config/settings.ts)",
    "",
    "```text",
    PATTERN_USAGE.trimEnd(),
    "```",
  ];
  for (const s of SECTIONS) {
    const rows = schemaRows(s.schema, s.prefix ?? "");
    out.push("", `### ${s.heading}`, "", `From ${s.source}.${s.intro ? ` ${s.intro}` : ""}`, "", table(rows));
  }
  return `${out.join("\n")}\n`;
}

if (import.meta.main) {
  const before = readFileSync(CONFIG_DOC, "utf8");
  const after = replaceBlock(before, BLOCK, configReference());
  if (process.argv.includes("--check")) {
    console.log(before === after ? "docs/configuration.md is up to date" : "docs/configuration.md is stale: run bun scripts/docs_config.ts");
    process.exit(before === after ? 0 : 1);
  }
  writeFileSync(CONFIG_DOC, after);
  console.log("wrote docs/configuration.md");
}
