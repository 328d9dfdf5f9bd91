import type { BunPlugin } from "bun";
import { dirname, join } from "node:path";

/**
 * Packages that read files next to their own code at run time, which a
 * compiled executable does not have unless they are embedded: module path
 * pattern → the `path.join(__dirname, '<relative>')` expression to replace.
 * Without this, @grpc/reflection fails at start-up anywhere but in this
 * checkout ("ENOENT ... reflection.proto"), e.g. in a scratch image.
 */
const RUNTIME_FILES: Array<{ module: RegExp; expression: RegExp }> = [
  {
    module: /@grpc\/reflection\/build\/src\/implementations\/reflection-v1(alpha)?\.js$/,
    expression: /path\.join\(__dirname, '(\.\.\/\.\.\/proto\/grpc\/reflection\/v1(?:alpha)?\/reflection\.proto)'\)/,
  },
];

/**
 * A Bun.build plugin that embeds those files in the executable: the
 * `path.join(__dirname, …)` becomes a require of the file, which the "file"
 * loader turns into the embedded copy's path. Fails the build if a package
 * changed shape, rather than shipping an executable that cannot start.
 */
export const embedRuntimeFiles: BunPlugin = {
  name: "embed-runtime-files",
  setup(build) {
    for (const { module, expression } of RUNTIME_FILES) {
      build.onLoad({ filter: module }, async (args) => {
        const source = await Bun.file(args.path).text();
        const m = expression.exec(source);
        if (!m) throw new Error(`${args.path}: expected ${expression} (a file it reads at run time); update scripts/embed_files.ts`);
        return { loader: "js", contents: source.replace(expression, `require(${JSON.stringify(join(dirname(args.path), m[1]!))})`) };
      });
    }
  },
};

/** Loaders for the embedded file types (the path of the embedded copy is what require returns). */
export const embeddedLoaders = { ".proto": "file" } as const;
