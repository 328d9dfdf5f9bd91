import { createHash } from "node:crypto";
import { invalidArgument, type JsonFilterScanDriver, type JsonFilterScanOptions, type JsonFilterScanPage } from "@prism/sdk";
import type { RedisContext } from "./context";

/**
 * JsonFilterScan evaluated inside Redis: one SCAN step over the prefix's string keys per call, each value decoded
 * with cjson and tested against the filter tree (the same JSON JsonFilter the reference evaluator takes, with the
 * same rules: sdk/drivers/json_filter.ts), so only matching entries cross the network. A value that is not JSON
 * is skipped. Arguments: full key prefix, SCAN cursor, COUNT, filter JSON ("" = none).
 */
export const FILTER_SCRIPT = `
local prefix, cursor, count, ftext = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local filter = nil
if ftext ~= "" then filter = cjson.decode(ftext) end
local NULL = cjson.null

local function lookup(m, path)
  local cur = m
  for i = 1, #path do
    if type(cur) ~= "table" then return nil end
    cur = cur[path[i]]
    if cur == nil then return nil end
  end
  return cur
end

local function scalar(v)
  local t = type(v)
  return t == "string" or t == "number" or t == "boolean" or v == NULL
end

local function chars(s)
  local out = {}
  for c in string.gmatch(s, "[%z\\1-\\127\\194-\\244][\\128-\\191]*") do out[#out + 1] = c end
  return out
end

-- tokens: strings are literal characters, 1 is "?", 2 is "*" (filter.ts parseGlob)
local function glob(tokens, text)
  local t = chars(text)
  local i, j, star, mark = 1, 1, -1, 1
  local n, m = #t, #tokens
  while i <= n do
    local p = tokens[j]
    if j <= m and (p == 1 or p == t[i]) then
      i = i + 1; j = j + 1
    elseif j <= m and p == 2 then
      star = j; j = j + 1; mark = i
    elseif star >= 0 then
      j = star + 1; mark = mark + 1; i = mark
    else
      return false
    end
  end
  while j <= m and tokens[j] == 2 do j = j + 1 end
  return j > m
end

local function eval(f, m)
  local op = f.op
  if op == "and" then
    for _, c in ipairs(f.of) do if not eval(c, m) then return false end end
    return true
  elseif op == "or" then
    for _, c in ipairs(f.of) do if eval(c, m) then return true end end
    return false
  elseif op == "not" then
    return not eval(f.of, m)
  end
  local v = lookup(m, f.path)
  if op == "exists" then return v ~= nil
  elseif op == "eq" then return v ~= nil and scalar(v) and v == f.value
  elseif op == "ne" then return not (v ~= nil and scalar(v) and v == f.value)
  elseif op == "in" then
    if v == nil or not scalar(v) then return false end
    for _, x in ipairs(f.values) do if v == x then return true end end
    return false
  elseif op == "prefix" then return type(v) == "string" and string.sub(v, 1, #f.value) == f.value
  elseif op == "wildcard" then return type(v) == "string" and glob(f.glob, v)
  elseif op == "lt" then return type(v) == "number" and v < f.value
  elseif op == "lte" then return type(v) == "number" and v <= f.value
  elseif op == "gt" then return type(v) == "number" and v > f.value
  elseif op == "gte" then return type(v) == "number" and v >= f.value
  end
  return false
end

local function escape(s) return (string.gsub(s, "([%*%?%[%]\\\\])", "\\\\%1")) end

local r = redis.call("SCAN", cursor, "MATCH", escape(prefix) .. "*", "COUNT", count, "TYPE", "string")
local out = {}
for _, k in ipairs(r[2]) do
  local v = redis.call("GET", k)
  if v then
    local ok, doc = pcall(cjson.decode, v)
    if ok and (filter == nil or eval(filter, doc)) then
      out[#out + 1] = k
      out[#out + 1] = v
    end
  end
end
return {r[1], out}
`;

interface BufferEval {
  evalshaBuffer(sha: string, keys: number, ...args: string[]): Promise<unknown>;
  evalBuffer(script: string, keys: number, ...args: string[]): Promise<unknown>;
}

const SHA = createHash("sha1").update(FILTER_SCRIPT).digest("hex");

/**
 * JsonFilterScanDriver on one Redis server. The cursor is Redis's own SCAN cursor ("" for "0"): a forged one
 * at worst restarts or skips part of the scan, which a client can do anyway. Not on a cluster, where one script
 * cannot scan every node (callers filter scanned values themselves then).
 */
export class RedisJsonFilter implements JsonFilterScanDriver {
  readonly jsonFilterUnavailable: string | undefined;

  constructor(private readonly ctx: RedisContext) {
    this.jsonFilterUnavailable = ctx.cluster ? "a Redis cluster: one script cannot scan every node" : undefined;
  }

  async filterScan(opts: JsonFilterScanOptions): Promise<JsonFilterScanPage> {
    if (this.jsonFilterUnavailable) throw new Error(`filterScan is not available on ${this.jsonFilterUnavailable}`);
    if (opts.cursor !== "" && !/^\d{1,20}$/.test(opts.cursor)) throw invalidArgument("cursor is not one this driver returned");
    const args = [this.ctx.prefix + opts.prefix, opts.cursor || "0", String(Math.max(1, opts.count)), opts.filter ? JSON.stringify(opts.filter) : ""];
    // The Buffer forms, so values come back as stored bytes (ioredis defines them at run time; callBuffer mangles EVAL).
    const client = this.ctx.conn.client as unknown as BufferEval;
    const [next, flat] = (await this.ctx.guard.read(async () => {
      try {
        return await client.evalshaBuffer(SHA, 0, ...args);
      } catch (err) {
        if (!String((err as Error).message).startsWith("NOSCRIPT")) throw err;
        return await client.evalBuffer(FILTER_SCRIPT, 0, ...args);
      }
    }, opts.signal)) as [Buffer, Buffer[]];
    const entries: JsonFilterScanPage["entries"] = [];
    // Keys come back whole: the driver's own prefix (namespace) is cut here.
    const cut = Buffer.byteLength(this.ctx.prefix);
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ key: flat[i]!.subarray(cut).toString("utf8"), value: flat[i + 1]! });
    const cursor = next.toString();
    return { entries, nextCursor: cursor === "0" ? "" : cursor };
  }
}
