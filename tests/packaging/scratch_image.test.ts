import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { parseAllDocuments } from "yaml";
import { join } from "node:path";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { ROOT, startProcess, type StartedProcess } from "../helpers/process";
import { renderDockerfile } from "../../scripts/dockerfiles";
import { executables } from "../../scripts/executables";
import { assembleRootfs, parseDockerfile, type Dockerfile } from "./dockerfile";

// No Docker engine here: each executable's Dockerfile (scripts/dockerfiles.ts, as make images writes it) has its root file system
// assembled in a temporary folder exactly as its COPY lines say, /proc is
// mounted, and the executable runs there under chroot as the image's non-root
// user, with only the image's environment. Needs root (chroot, mount).

const CHROOT = "/usr/sbin/chroot";
const EXECUTABLES = executables();
const IMAGES = EXECUTABLES.map((e) => e.name);

const dockerfileOf = (name: string): Dockerfile => parseDockerfile(renderDockerfile(EXECUTABLES.find((e) => e.name === name)!));

/** Shared libraries the executable links, as ldd prints them. */
function lddLibraries(exe: string): string[] {
  const out = Bun.spawnSync(["ldd", exe]).stdout.toString();
  return [...out.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((m) => m[1]!);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** An image's root file system in a temp folder, with /proc mounted while it is in use. */
class ImageRoot {
  readonly root = mkdtempSync(join(tmpdir(), "prism-image-"));
  readonly df: Dockerfile;
  private mounted = false;
  private readonly started: StartedProcess[] = [];

  constructor(readonly name: string) {
    this.df = dockerfileOf(name);
    try {
      assembleRootfs(this.df, ROOT, this.root);
      const mount = Bun.spawnSync(["mount", "-t", "proc", "proc", join(this.root, "proc")], { stderr: "pipe" });
      if (mount.exitCode !== 0) throw new Error(`mount -t proc failed (root needed): ${mount.stderr.toString()}`);
    } catch (err) {
      rmSync(this.root, { recursive: true, force: true });
      throw err;
    }
    this.mounted = true;
  }

  /** Runs the ENTRYPOINT as the image's USER with only the image's environment (plus `env`, like docker run -e). */
  start(args: string[], env: Record<string, string> = {}): StartedProcess {
    const vars = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/", ...this.df.env, ...env };
    const cmd = [
      "/usr/bin/env",
      "-i",
      ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
      CHROOT,
      `--userspec=${this.df.user}`,
      this.root,
      ...this.df.entrypoint,
      ...args,
    ];
    const p = startProcess(cmd);
    this.started.push(p);
    return p;
  }

  /** Stops what it started (by pid), unmounts /proc, removes the folder. */
  async dispose(): Promise<void> {
    for (const p of this.started) await p.stop(5_000);
    if (this.mounted) Bun.spawnSync(["umount", join(this.root, "proc")]);
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Checks the process runs in `root` as the non-root uid. */
function expectConfined(pid: number, root: string, uid: string): void {
  expect(readlinkSync(`/proc/${pid}/root`)).toBe(root);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(uid);
}

async function setGet(address: string, key: string): Promise<string> {
  const { client, close } = createClient(KeyValueBasicInterface, address);
  try {
    const set = await client.set({ key, value: new TextEncoder().encode(`value of ${key}`) }, { timeoutMs: 5000 });
    expect(set.success).toBe(true);
    const got = await client.get({ key }, { timeoutMs: 5000 });
    expect(got.found).toBe(true);
    return new TextDecoder().decode(got.value);
  } finally {
    close();
  }
}

/** grpc.reflection.v1 list_services, raw bytes: proves the embedded reflection protos load in the image. */
function listServices(address: string): Promise<string> {
  const c = new grpc.Client(address, grpc.credentials.createInsecure());
  const id = (b: Buffer) => b;
  return new Promise<string>((resolve, reject) => {
    const call = c.makeBidiStreamRequest("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", id, id, new grpc.Metadata(), {
      deadline: Date.now() + 5000,
    });
    call.on("data", (b: Buffer) => {
      resolve(b.toString("latin1"));
      call.end();
    });
    call.on("error", reject);
    call.write(Buffer.from([0x3a, 0x01, 0x2a])); // field 7 list_services = "*"
  }).finally(() => c.close());
}

async function httpStatus(url: string, deadlineMs = 5_000): Promise<number> {
  const end = Date.now() + deadlineMs;
  let last = 0;
  while (Date.now() < end) {
    last = (await fetch(url).catch(() => undefined))?.status ?? 0;
    if (last === 200) return 200;
    await Bun.sleep(50);
  }
  return last;
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error("scratch image tests need root (chroot, mount -t proc)");
  const staged = Bun.spawnSync(["bash", `${ROOT}/docker/stage-glibc.sh`], { stderr: "pipe" });
  if (staged.exitCode !== 0) throw new Error(`docker/stage-glibc.sh failed: ${staged.stderr.toString()}`);
});

describe("Dockerfiles", () => {
  test("every built binary has one", () => {
    const built = readdirSync(`${ROOT}/dist`).filter((f) => existsSync(`${ROOT}/dist/${f}.meta.json`));
    expect(built.length).toBeGreaterThan(0);
    for (const b of built) expect(IMAGES).toContain(b);
  });

  for (const name of IMAGES) {
    test(`${name}: FROM scratch, the glibc files ldd lists, a numeric non-root USER, ENTRYPOINT on the copied executable`, () => {
      const df = dockerfileOf(name);
      expect(df.from).toBe("scratch");
      expect(df.user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
      const dsts = df.copies.map((c) => c.dst);
      const libs = lddLibraries(`${ROOT}/dist/${name}`);
      expect(libs.length).toBe(5);
      for (const lib of libs) expect(dsts).toContain(lib);
      expect(df.copies).toContainEqual({ src: `dist/${name}`, dst: df.entrypoint[0]! });
      // Nothing else but the passwd/group files of the non-root user.
      expect(df.copies.length).toBe(libs.length + 3);
    });
  }
});

describe("images run from their assembled root file system", () => {
  const roots: ImageRoot[] = [];
  const image = (name: string) => {
    const r = new ImageRoot(name);
    roots.push(r);
    return r;
  };
  afterAll(async () => {
    for (const r of roots) await r.dispose();
  });

  for (const name of IMAGES) {
    test(`${name}: the executable starts in its image as uid 65532 (--help)`, async () => {
      const r = image(name);
      const p = r.start(["--help"]);
      expect(await p.exited).toBe(0);
      expect(p.output()).toMatch(/--/);
    });
  }

  let memstoreAddress = "";
  test("memstore: serves Set/Get, reflection, /health and /ready; SIGTERM exits 0", async () => {
    const r = image("memstore");
    expect(r.df.expose).toEqual([50051, 9090]);
    const metrics = await freePort();
    // Ports are overridden like `docker run -e`: this machine's loopback is shared.
    const p = r.start([], { PRISM_GRPC_PORT: "0", PRISM_METRICS_PORT: String(metrics) });
    memstoreAddress = (await p.waitFor(/grpc listening on (\S+)/, 15_000))[1]!;
    expectConfined(p.pid, r.root, "65532");
    expect(await setGet(memstoreAddress, "scratch")).toBe("value of scratch");
    expect(await listServices(memstoreAddress)).toContain("prism.interfaces.keyvalue.KeyValueBasicInterface");
    expect(await httpStatus(`http://127.0.0.1:${metrics}/health`)).toBe(200);
    expect(await httpStatus(`http://127.0.0.1:${metrics}/ready`)).toBe(200);
    const second = image("memstore").start([], { PRISM_GRPC_PORT: "0" });
    const other = (await second.waitFor(/grpc listening on (\S+)/, 15_000))[1]!;
    expect(await second.stop()).toBe(0);
    expect(other).not.toBe(memstoreAddress);
  }, 30_000);

  test("prism-load: drives the memstore image from its own image", async () => {
    expect(memstoreAddress).not.toBe("");
    const p = image("prism-load").start(["--direct", memstoreAddress, "--operation", "mixed", "--requests", "300", "--warmup", "0s", "--json", "-"]);
    expect(await p.exited).toBe(0);
    const out = p.output();
    const report = JSON.parse(out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1)) as { ok: number; errors: object };
    expect(report.ok).toBe(300);
    expect(report.errors).toEqual({});
  }, 30_000);

  test("proxy: forwards to the memstore image, config mounted as Kubernetes would", async () => {
    expect(memstoreAddress).not.toBe("");
    const r = image("proxy");
    expect(r.df.expose).toEqual([8980, 9090]);
    mkdirSync(join(r.root, "etc/prism"), { recursive: true });
    // deploy/k8s's ConfigMap proxy.yaml, with the memstore Service name replaced by the memstore image's address.
    const configMap = parseAllDocuments(readFileSync(`${ROOT}/deploy/k8s/proxy.yaml`, "utf8"))
      .map((d) => d.toJS())
      .find((o) => o.kind === "ConfigMap");
    const proxyYaml = (configMap.data["proxy.yaml"] as string).replace("prism-memstore:50051", memstoreAddress);
    expect(proxyYaml).toContain(memstoreAddress);
    writeFileSync(join(r.root, "etc/prism/proxy.yaml"), proxyYaml);
    const admin = await freePort();
    const p = r.start(["--config", "/etc/prism/proxy.yaml"], { PRISM_LISTEN: "127.0.0.1:0", PRISM_ADMIN_PORT: String(admin) });
    const address = (await p.waitFor(/listening on (\S+)/, 15_000))[1]!;
    expectConfined(p.pid, r.root, "65532");
    expect(await httpStatus(`http://127.0.0.1:${admin}/ready`, 15_000)).toBe(200);
    expect(await httpStatus(`http://127.0.0.1:${admin}/health`)).toBe(200);
    expect(await setGet(address, "via-proxy")).toBe("value of via-proxy");
    // The write went through to the pattern.
    const { client, close } = createClient(KeyValueBasicInterface, memstoreAddress);
    expect((await client.get({ key: "via-proxy" })).found).toBe(true);
    close();
    expect(await p.stop()).toBe(0);
  }, 40_000);
});
