import { redact } from "../config/secrets";

/** Structured logging: one JSON line per event (or key=value text), to stderr. */
export type Level = "debug" | "info" | "warn" | "error";
const rank: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  readonly debugEnabled: boolean;
}

export interface LoggerOptions {
  level?: Level;
  format?: "json" | "text";
  fields?: Record<string, unknown>;
  write?: (line: string) => void;
}

function errorFields(v: unknown): unknown {
  return v instanceof Error ? { message: v.message, name: v.name, ...(v.cause ? { cause: String(v.cause) } : {}) } : v;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = rank[opts.level ?? "info"];
  const format = opts.format ?? "json";
  const base = opts.fields ?? {};
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (rank[level] < min) return;
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level, msg, ...base };
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = errorFields(v);
    // Secrets from {file} / {env} config never reach a log line, whatever field carries them.
    if (format === "json") write(redact(JSON.stringify(rec)));
    else
      write(
        redact(
          Object.entries(rec)
            .map(([k, v]) => `${k}=${typeof v === "string" ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
            .join(" "),
        ),
      );
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
    debugEnabled: min <= rank.debug,
  };
}
