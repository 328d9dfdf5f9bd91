import { describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { PatternMessageSchema, type PatternMessage } from "../../proto/gen/prism/interfaces/proxy_control_plane_pb";
import type { CallContext } from "../../sdk/grpc/context";
import { createLogger } from "../../sdk/observability/logger";
import { ControlPlane } from "./control_plane";
import type { OutgoingCommand } from "./stream_channel";

function register(pid: number, name = "memstore"): PatternMessage {
  return create(PatternMessageSchema, {
    correlationId: "register",
    message: { case: "register", value: { patternName: name, patternVersion: "1", processId: pid } },
  });
}

/**
 * Runs one ManagePattern session claiming `pid`, with this launch token, on a connection of process `peer` (the
 * control-plane server sets x-prism-peer-pid from SO_PEERCRED), and returns the registration answer.
 */
async function session(cp: ControlPlane, pid: number, token: string | undefined, peer: number | null = pid): Promise<{ success: boolean; error: string }> {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set("x-prism-launch-token", token);
  if (peer !== null) md.set("x-prism-peer-pid", String(peer));
  const ctl = new AbortController();
  const ctx = { metadata: md, signal: ctl.signal, deadline: Infinity, namespace: "default" } as unknown as CallContext;
  async function* messages() {
    yield register(pid);
    await new Promise<void>((r) => ctl.signal.addEventListener("abort", () => r()));
  }
  const it = (cp.service.managePattern(messages(), ctx) as AsyncIterable<OutgoingCommand>)[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) throw new Error("no answer");
  // Let the session go on past its answer (an admitted one hands its stream over there), then end it.
  void it.next();
  await Bun.sleep(10);
  ctl.abort();
  return (first.value.command as { value: { success: boolean; error: string } }).value;
}

describe("control plane registration", () => {
  test("only the launched pid, on its own connection, with its one-time secret registers; every refusal is audited", async () => {
    const refused: { pid: number; reason: string }[] = [];
    const cp = new ControlPlane(createLogger({ write: () => undefined }), (e) => refused.push(e));
    const wait = cp.expect(4242, "s3cret-launch-token");
    expect(await session(cp, 4242, undefined)).toEqual({ success: false, error: "registration refused" });
    expect(await session(cp, 4242, "guessed")).toEqual({ success: false, error: "registration refused" });
    expect(await session(cp, 999, "s3cret-launch-token")).toEqual({ success: false, error: "registration refused" });
    // The right secret from another process (it read the secret somewhere) claiming the launched pid.
    expect(await session(cp, 4242, "s3cret-launch-token", 5555)).toEqual({ success: false, error: "registration refused" });
    expect(await session(cp, 4242, "s3cret-launch-token", null)).toEqual({ success: false, error: "registration refused" });
    expect(refused.map((r) => `${r.pid}: ${r.reason}`)).toEqual([
      "4242: no launch token",
      "4242: wrong launch token",
      "999: process 999 was not launched by this proxy (or has registered already)",
      "4242: the registering connection belongs to pid 5555, not 4242",
      "4242: the registering connection belongs to pid unknown, not 4242",
    ]);
    // The refusals did not use up the launch: the real pattern still gets in, once.
    expect((await session(cp, 4242, "s3cret-launch-token")).success).toBe(true);
    expect((await wait.channel).registration.processId).toBe(4242);
    expect((await session(cp, 4242, "s3cret-launch-token")).success).toBe(false);
  });
});
