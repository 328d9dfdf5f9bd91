import { ListBasicInterface } from "../../proto/gen/prism/interfaces/list/list_basic_pb";
import { definePattern, type ModuleContext } from "./pattern";
import type { CallOptions } from "./transport";

const bytes = (v: string | Uint8Array): Uint8Array => (typeof v === "string" ? new TextEncoder().encode(v) : v);

/** Lists over the namespace's ListBasicInterface. Pushes and pops are not idempotent: never sent twice. */
export class ListClient {
  constructor(private readonly ctx: ModuleContext) {}

  private async push(side: "pushLeft" | "pushRight", key: string, values: (string | Uint8Array)[], opts?: CallOptions): Promise<bigint> {
    return (await this.ctx.transport.unary<{ length: bigint }>(ListBasicInterface, side, { key, values: values.map(bytes) }, "write", opts)).length;
  }
  private async pop(side: "popLeft" | "popRight", key: string, count: number, opts?: CallOptions): Promise<Uint8Array[]> {
    return (await this.ctx.transport.unary<{ values: Uint8Array[] }>(ListBasicInterface, side, { key, count }, "write", opts)).values;
  }
  /** Pushes at the head; resolves with the new length. */
  pushLeft = (key: string, values: (string | Uint8Array)[], opts?: CallOptions) => this.push("pushLeft", key, values, opts);
  pushRight = (key: string, values: (string | Uint8Array)[], opts?: CallOptions) => this.push("pushRight", key, values, opts);
  popLeft = (key: string, count = 1, opts?: CallOptions) => this.pop("popLeft", key, count, opts);
  popRight = (key: string, count = 1, opts?: CallOptions) => this.pop("popRight", key, count, opts);
  async length(key: string, opts?: CallOptions): Promise<bigint> {
    return (await this.ctx.transport.unary<{ length: bigint }>(ListBasicInterface, "length", { key }, "read", opts)).length;
  }
  /** Elements start..stop inclusive; negative indices count from the end (-1 = last). */
  async range(key: string, start = 0n, stop = -1n, opts?: CallOptions): Promise<Uint8Array[]> {
    return (await this.ctx.transport.unary<{ values: Uint8Array[] }>(ListBasicInterface, "range", { key, start, stop }, "read", opts)).values;
  }
}

export const list = definePattern({ name: "list", service: ListBasicInterface, create: (ctx) => new ListClient(ctx) });
