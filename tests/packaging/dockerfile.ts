import { chmodSync, copyFileSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

/** What a FROM-scratch Dockerfile says, as far as assembling its root file system goes. */
export interface Dockerfile {
  from: string;
  copies: Array<{ src: string; dst: string }>;
  user?: string;
  expose: number[];
  env: Record<string, string>;
  entrypoint: string[];
}

/**
 * Parses the instructions a scratch image uses. Anything else (RUN, ADD, a
 * second stage…) is an error, so the rootfs the tests assemble can never
 * silently differ from what `docker build` would produce.
 */
export function parseDockerfile(text: string): Dockerfile {
  const df: Dockerfile = { from: "", copies: [], expose: [], env: {}, entrypoint: [] };
  const lines = text.replace(/\\\n/g, " ").split("\n");
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [, instr, rest] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    switch (instr?.toUpperCase()) {
      case "FROM":
        if (df.from) throw new Error("more than one FROM: multi-stage builds are not assembled by this test");
        df.from = rest!.trim();
        break;
      case "COPY": {
        const parts = rest!.trim().split(/\s+/);
        if (parts.length !== 2 || parts[0]!.startsWith("--")) throw new Error(`COPY must be "COPY src dst", got: ${line}`);
        df.copies.push({ src: parts[0]!, dst: parts[1]! });
        break;
      }
      case "USER":
        df.user = rest!.trim();
        break;
      case "EXPOSE":
        df.expose.push(
          ...rest!
            .trim()
            .split(/\s+/)
            .map((p) => Number(p.replace(/\/tcp$/, ""))),
        );
        break;
      case "ENV":
        for (const kv of rest!.trim().split(/\s+/)) {
          const eq = kv.indexOf("=");
          if (eq < 1) throw new Error(`ENV must be KEY=VALUE pairs, got: ${line}`);
          df.env[kv.slice(0, eq)] = kv.slice(eq + 1);
        }
        break;
      case "ENTRYPOINT":
        df.entrypoint = JSON.parse(rest!) as string[];
        break;
      default:
        throw new Error(`instruction not supported in a scratch image test: ${line}`);
    }
  }
  return df;
}

/**
 * Builds the image's root file system in `root` as `docker build` would:
 * each COPY from the build context (files only, permissions kept, parent
 * folders 0755), and an empty /proc for the runtime to mount.
 */
export function assembleRootfs(df: Dockerfile, context: string, root: string): void {
  if (df.from !== "scratch") throw new Error(`expected FROM scratch, got FROM ${df.from}`);
  chmodSync(root, 0o755);
  for (const { src, dst } of df.copies) {
    const from = join(context, src);
    const to = join(root, dst);
    if (!statSync(from).isFile()) throw new Error(`COPY ${src}: only single files are copied by this test`);
    mkdirSync(dirname(to), { recursive: true, mode: 0o755 });
    copyFileSync(from, to);
    chmodSync(to, statSync(from).mode & 0o777);
  }
  mkdirSync(join(root, "proc"), { mode: 0o555 });
}
