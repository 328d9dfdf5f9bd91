import { PrismClientError, type Session } from "../../client/src/index";
import { intFlag, listFlag, secondsFlag, UsageError } from "../args";
import type { Command, CommandContext } from "../command";
import { table, toJson } from "../output";

const decoder = new TextDecoder();
const time = (ms: bigint) => (ms === 0n ? "-" : new Date(Number(ms)).toISOString());

/** KEY=VALUE words of a repeated flag as attributes. */
function attributesOf(flag: string, words: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    const i = w.indexOf("=");
    if (i <= 0) throw new UsageError(`--${flag} must be KEY=VALUE, got "${w}"`);
    out[w.slice(0, i)] = w.slice(i + 1);
  }
  return out;
}

/** A session as JSON: attributes as UTF-8 text, times in Unix ms. */
const sessionJson = (s: Session) => ({
  session_id: s.sessionId,
  owner: s.owner,
  version: s.version,
  attributes: Object.fromEntries(Object.entries(s.attributes).map(([k, v]) => [k, decoder.decode(v)])),
  created_at: s.createdAt,
  expires_at: s.expiresAt,
  ttl_seconds: s.ttlSeconds,
  region: s.region,
});

function printSession(ctx: CommandContext, s: Session): void {
  if (ctx.inv.json) {
    ctx.io.out(toJson(sessionJson(s)));
    return;
  }
  ctx.io.out(
    `session ${s.sessionId}  owner ${s.owner}  version ${s.version}  expires ${time(s.expiresAt)} (ttl ${s.ttlSeconds}s)${s.region ? `  region ${s.region}` : ""}`,
  );
  for (const [k, v] of Object.entries(s.attributes).sort(([a], [b]) => a.localeCompare(b))) ctx.io.out(`  ${k}=${decoder.decode(v)}`);
}

/** Prints "(not found) ID" (or {"found":false} with --json) and answers exit code 1. */
function notFound(ctx: CommandContext, id: string): number {
  if (ctx.inv.json) ctx.io.out(toJson({ session_id: id, found: false }));
  else ctx.io.err(`(not found) ${id}`);
  return 1;
}

/** Session Store commands over SessionStorePattern (prism.patterns.session). */
export const SESSION_COMMANDS: Command[] = [
  {
    group: "session",
    verb: "create",
    args: "",
    arity: 0,
    flags: ["owner", "attr", "ttl"],
    summary: "create a session (--owner O, --attr KEY=VALUE repeated, --ttl 30m); prints its id",
    async run(ctx) {
      const owner = ctx.inv.flags.owner;
      if (!owner) throw new UsageError("session create needs --owner OWNER");
      const s = await (await ctx.client()).session.create(owner, {
        attributes: attributesOf("attr", listFlag(ctx.inv, "attr")),
        ttlSeconds: secondsFlag(ctx.inv, "ttl"),
      });
      ctx.io.out(ctx.inv.json ? toJson(sessionJson(s)) : s.sessionId);
      return 0;
    },
  },
  {
    group: "session",
    verb: "get",
    args: "ID",
    arity: 1,
    summary: "print a session (exit 1 when not found or expired)",
    async run(ctx, [id]) {
      const s = await (await ctx.client()).session.get(id!);
      if (s === undefined) return notFound(ctx, id!);
      printSession(ctx, s);
      return 0;
    },
  },
  {
    group: "session",
    verb: "update",
    args: "ID",
    arity: 1,
    flags: ["set", "remove", "expect-version"],
    summary: "set / remove attributes (--set K=V, --remove K; --expect-version N: exit 1 naming the current version when it moved on)",
    async run(ctx, [id]) {
      const expected = ctx.inv.flags["expect-version"];
      if (expected !== undefined && !/^\d+$/.test(expected)) throw new UsageError(`--expect-version must be a whole number, got "${expected}"`);
      const change = {
        set: attributesOf("set", listFlag(ctx.inv, "set")),
        remove: listFlag(ctx.inv, "remove"),
        expectedVersion: expected === undefined ? undefined : BigInt(expected),
      };
      if (Object.keys(change.set).length === 0 && change.remove.length === 0) throw new UsageError("session update needs --set KEY=VALUE or --remove KEY");
      try {
        printSession(ctx, await (await ctx.client()).session.update(id!, change));
        return 0;
      } catch (err) {
        if (!(err instanceof PrismClientError)) throw err;
        if (err.reason === "not_found") return notFound(ctx, id!);
        if (err.reason !== "version_conflict") throw err;
        const current = err.currentVersion;
        if (ctx.inv.json)
          ctx.io.out(toJson({ session_id: id, conflict: true, expected_version: Number(expected), current_version: current ? Number(current) : null }));
        else ctx.io.err(`prismctl: version conflict: session ${id} is at version ${current || "?"}, not ${expected}`);
        return 1;
      }
    },
  },
  {
    group: "session",
    verb: "touch",
    args: "ID",
    arity: 1,
    flags: ["ttl"],
    summary: "slide the expiry (--ttl 30m; default the session's own ttl); exit 1 when not found",
    async run(ctx, [id]) {
      try {
        printSession(ctx, await (await ctx.client()).session.touch(id!, { ttlSeconds: secondsFlag(ctx.inv, "ttl") }));
        return 0;
      } catch (err) {
        if (err instanceof PrismClientError && err.reason === "not_found") return notFound(ctx, id!);
        throw err;
      }
    },
  },
  {
    group: "session",
    verb: "delete",
    aliases: ["del"],
    args: "ID",
    arity: 1,
    summary: "delete a session (exit 1 when not found)",
    async run(ctx, [id]) {
      if (!(await (await ctx.client()).session.delete(id!))) return notFound(ctx, id!);
      ctx.io.out(ctx.inv.json ? toJson({ session_id: id, found: true }) : "deleted");
      return 0;
    },
  },
  {
    group: "session",
    verb: "list",
    args: "OWNER",
    arity: 1,
    flags: ["limit", "cursor", "all"],
    summary: "an owner's sessions: one page (--limit N, --cursor C; prints the next cursor) or --all",
    async run(ctx, [owner]) {
      const sessions = (await ctx.client()).session;
      const limit = intFlag(ctx.inv, "limit");
      const all = ctx.inv.flags.all === "true";
      if (all && ctx.inv.flags.cursor !== undefined) throw new UsageError("--all and --cursor exclude each other");
      const rows: Session[] = [];
      let next = "";
      if (all) for await (const s of sessions.list(owner!, { pageSize: limit || undefined })) rows.push(s);
      else {
        const page = await sessions.listPage(owner!, { limit, cursor: ctx.inv.flags.cursor ?? "" });
        rows.push(...page.sessions);
        next = page.nextCursor;
      }
      if (ctx.inv.json) {
        ctx.io.out(toJson({ owner, sessions: rows.map(sessionJson), next_cursor: next }));
        return 0;
      }
      for (const line of table(
        ctx.io,
        ["SESSION", "VERSION", "EXPIRES", "ATTRIBUTES"],
        rows.map((s) => [s.sessionId, String(s.version), time(s.expiresAt), Object.keys(s.attributes).sort().join(",")]),
      ))
        ctx.io.out(line);
      if (next) ctx.io.out(`next cursor: ${next}`);
      return 0;
    },
  },
];
