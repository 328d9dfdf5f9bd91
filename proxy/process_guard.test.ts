import { expect, test } from "bun:test";
import { join } from "node:path";

test("an uncaught exception and an unhandled rejection are logged and counted; the process keeps running", async () => {
  const script = `
    import { installProcessGuard } from ${JSON.stringify(join(import.meta.dir, "process_guard.ts"))};
    const counts = { exception: 0, rejection: 0 };
    const logged = [];
    installProcessGuard({ error: (msg) => logged.push(msg) }, (kind) => counts[kind]++);
    setTimeout(() => { throw new Error("boom"); }, 1);
    setTimeout(() => void Promise.reject(new Error("nobody listens")), 2);
    setTimeout(() => console.log(JSON.stringify({ counts, logged })), 50);
  `;
  const p = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  expect(code).toBe(0);
  const r = JSON.parse(out.trim().split("\n").at(-1)!);
  expect(r.counts).toEqual({ exception: 1, rejection: 1 });
  expect(r.logged).toEqual(["uncaught exception; the proxy keeps serving", "unhandled promise rejection; the proxy keeps serving"]);
}, 10_000);
