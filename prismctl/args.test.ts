import { describe, expect, test } from "bun:test";
import { Operator } from "../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { parseInvocation, UsageError } from "./args";
import { filterOf, metadataOf } from "./commands/multicast";
import { COMMANDS } from "./commands";
import { resolve } from "./run";

describe("parseInvocation", () => {
  test("flags win over PRISM_* variables, which win over defaults", () => {
    const env = { PRISM_ADDR: "a:1,b:2", PRISM_NAMESPACE: "env-ns", PRISM_TOKEN: "t", PRISM_TLS_CA: "/ca.pem", PRISM_TIMEOUT: "250ms" };
    const fromEnv = parseInvocation(["kv", "get", "k"], env);
    expect(fromEnv).toMatchObject({ addresses: ["a:1", "b:2"], namespace: "env-ns", token: "t", timeoutMs: 250, tls: { caFile: "/ca.pem" } });
    const fromFlags = parseInvocation(["--addr", "c:3", "--addr", "d:4", "-n", "flag-ns", "kv", "get", "k", "--json"], env);
    expect(fromFlags).toMatchObject({ addresses: ["c:3", "d:4"], namespace: "flag-ns", json: true, words: ["kv", "get", "k"] });
    expect(parseInvocation([], {})).toMatchObject({ addresses: ["127.0.0.1:8980"], admin: "127.0.0.1:9090", timeoutMs: 5000, tls: undefined });
  });

  test("mistakes are usage errors", () => {
    expect(() => parseInvocation(["--bogus"], {})).toThrow(UsageError);
    expect(() => parseInvocation(["--timeout", "soon"], {})).toThrow(/--timeout/);
    expect(() => parseInvocation(["--tls-cert", "c.pem"], {})).toThrow(/--tls-cert and --tls-key go together/);
  });
});

describe("the command table", () => {
  test("words resolve to a command, aliases included; wrong arity and unknown verbs are usage errors", () => {
    expect(resolve(COMMANDS, ["kv", "delete", "k"]).command.verb).toBe("del");
    expect(resolve(COMMANDS, ["multicast", "register", "id", "a=1", "b=2"]).args).toEqual(["id", "a=1", "b=2"]);
    expect(resolve(COMMANDS, ["health"]).command.group).toBe("health");
    expect(() => resolve(COMMANDS, ["kv", "get"])).toThrow("usage: prismctl kv get KEY");
    expect(() => resolve(COMMANDS, ["kv", "frob"])).toThrow(/unknown kv command "frob"/);
    expect(() => resolve(COMMANDS, ["nope"])).toThrow(/unknown command/);
  });

  test("every group and verb is unique", () => {
    const ids = COMMANDS.flatMap((c) => [c.verb, ...(c.aliases ?? [])].map((v) => `${c.group} ${v ?? ""}`));
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("multicast words", () => {
  test("FIELD=VALUE metadata takes JSON values where the text is JSON", () => {
    expect(metadataOf(["room=lobby", "load=3", "vip=true", 'name="7"'])).toEqual({ room: "lobby", load: 3, vip: true, name: "7" });
    expect(() => metadataOf(["novalue"])).toThrow(UsageError);
  });

  test("filters: each operator, ANDed", () => {
    const f = filterOf(["room=lobby", "load<5", "name~a*", "tag?"]);
    expect(f?.kind?.case).toBe("and");
    const ops = (f!.kind!.value as { filters: { kind: { value: { op: Operator } } }[] }).filters.map((x) => x.kind.value.op);
    expect(ops).toEqual([Operator.EQ, Operator.LT, Operator.WILDCARD, Operator.EXISTS]);
    expect(filterOf([])).toBeUndefined();
    expect(() => filterOf(["load<many"])).toThrow(/needs a number/);
  });
});
