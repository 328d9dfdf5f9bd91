import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { peerPid } from "./peer_pid";

const dir = mkdtempSync(join(tmpdir(), "peer-pid-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Listens on a Unix socket and resolves with the peer pid of the first connection. */
function firstPeer(path: string, connect: () => unknown): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer((s: Socket) => {
      resolve(peerPid(s));
      s.destroy();
      server.close();
    });
    server.once("error", reject);
    server.listen(path, () => connect());
  });
}

describe("peerPid (SO_PEERCRED)", () => {
  test("is the pid of the process that connected, whatever it claims", async () => {
    const path = join(dir, "a.sock");
    let child!: ReturnType<typeof Bun.spawn>;
    const connect = `require("node:net").connect(${JSON.stringify(path)}).on("close", () => process.exit(0)).on("error", () => process.exit(0))`;
    const pid = await firstPeer(path, () => (child = Bun.spawn([process.execPath, "-e", connect], { stdout: "ignore", stderr: "inherit" })));
    expect(pid).toBe(child.pid);
    await child.exited;
  });

  test("is undefined for something that is not a socket Bun accepted", () => {
    expect(peerPid({})).toBeUndefined();
    expect(peerPid(undefined)).toBeUndefined();
  });
});
