import { Code, PrismClientError } from "./errors";
import { definePattern, type ModuleContext } from "./pattern";

/** One namespace as the proxy's admin port lists it (GET /patterns). */
export interface PatternInfo {
  namespace: string;
  pattern: string;
  status: string;
  ready: boolean;
  pid: number | null;
  endpoint: string | null;
  restarts: number;
  health: { status: string; message: string; details: Record<string, string> } | null;
  last_error: string | null;
  /** Calls in flight and placed so far (a proxy running replicas). */
  in_flight?: number;
  calls?: number;
  /** Every instance of the namespace's pattern (`replicas: N` or `addresses: [...]`). */
  replicas?: (PatternInfo & { replica: number })[];
}

/** The proxy's admin HTTP port: the namespaces it serves, their patterns, processes and health. */
export class AdminClient {
  constructor(private readonly ctx: ModuleContext) {}

  async patterns(opts: { signal?: AbortSignal; deadline?: number } = {}): Promise<PatternInfo[]> {
    const admin = this.ctx.transport.options.adminAddress;
    if (!admin)
      throw new PrismClientError(Code.INVALID_ARGUMENT, "patterns(): connect with adminAddress (the proxy's admin HTTP host:port)", {
        reason: "invalid_argument",
      });
    const signal = AbortSignal.any([AbortSignal.timeout(opts.deadline ?? this.ctx.transport.options.deadline), ...(opts.signal ? [opts.signal] : [])]);
    let res: Response;
    try {
      res = await fetch(`http://${admin.replace(/^https?:\/\//, "")}/patterns`, { signal });
    } catch (err) {
      throw new PrismClientError(Code.UNAVAILABLE, `cannot reach the proxy admin port at ${admin}: ${(err as Error).message}`, { cause: err });
    }
    if (!res.ok) throw new PrismClientError(Code.UNKNOWN, `admin ${admin}/patterns answered HTTP ${res.status}`);
    return (await res.json()) as PatternInfo[];
  }
}

export const admin = definePattern({ name: "admin", service: undefined, create: (ctx: ModuleContext) => new AdminClient(ctx) });
