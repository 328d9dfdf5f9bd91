import type { DescService } from "@bufbuild/protobuf";
import { Code, PrismError } from "./errors";
import type { ServiceClient } from "./types";

/**
 * Why an OK reply still reports a failure, or undefined: `success` false where the message has that field, or
 * `error` set. Other implementations of the protos (the original Go patterns) answer some failures that way,
 * so a client that only looks at the status would think the data was stored.
 */
export function replyFailure(reply: unknown): string | undefined {
  if (typeof reply !== "object" || reply === null) return undefined;
  const r = reply as { success?: unknown; error?: unknown };
  if (typeof r.error === "string" && r.error !== "") return r.error;
  if (r.success === false) return "the reply says success=false";
  return undefined;
}

/**
 * The same client, but a unary call whose OK reply reports a failure (replyFailure) rejects with
 * PrismError(UNKNOWN, "<Service>/<Method>: <error>"): whether the operation took effect is not known. Prism's
 * own tools (prismctl, prism-load) use it; streams are passed through.
 */
export function failOnErrorReply<S extends DescService, C extends object = ServiceClient<S>>(service: S, client: C): C {
  const out: Record<string, unknown> = { ...(client as Record<string, unknown>) };
  for (const method of service.methods) {
    if (method.methodKind !== "unary") continue;
    const call = (client as Record<string, (req: unknown, opts?: unknown) => Promise<unknown>>)[method.localName];
    if (call === undefined) continue;
    out[method.localName] = async (req: unknown, opts?: unknown) => {
      const reply = await call(req, opts);
      const why = replyFailure(reply);
      if (why !== undefined) throw new PrismError(Code.UNKNOWN, `${service.name}/${method.name} answered OK but failed: ${why}`);
      return reply;
    };
  }
  return out as C;
}
