import type { DescService } from "@bufbuild/protobuf";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Health } from "../proto/gen/grpc/health/v1/health_pb";
import { KeyValueBasicInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueScanInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValueTTLInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import { LifecycleInterface } from "../proto/gen/prism/interfaces/lifecycle_pb";
import { ListBasicInterface } from "../proto/gen/prism/interfaces/list/list_basic_pb";
import { ProxyControlPlane } from "../proto/gen/prism/interfaces/proxy_control_plane_pb";
import { PubSubBasicInterface } from "../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { StreamBasicInterface } from "../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { KeyValuePattern } from "../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { HealthService, Serving } from "../sdk/grpc/health";
import { addReflection } from "../sdk/grpc/reflection";
import { addService } from "../sdk/grpc/server";
import { bindServer, bindUnixServer, serverOptions, stopServer } from "../sdk/grpc/server_factory";
import type { ControlPlane } from "./lifecycle/control_plane";
import type { PatternRegistry } from "./pattern_registry";

/**
 * Services clients can discover through the proxy with grpc.reflection. Forwarding
 * does not depend on this list: any service a pattern serves is forwarded.
 */
export const REFLECTED_SERVICES: readonly DescService[] = [
  KeyValueBasicInterface,
  KeyValueTTLInterface,
  KeyValueScanInterface,
  KeyValueBatchInterface,
  ListBasicInterface,
  PubSubBasicInterface,
  StreamBasicInterface,
  KeyValuePattern,
  LifecycleInterface,
  Health,
];

/**
 * The proxy's own gRPC server, on a loopback port: ProxyControlPlane for the
 * patterns it launches, and grpc.health.v1 / grpc.reflection, which the router
 * relays to from the client port. Health "" is SERVING while the proxy can route
 * (started, not shutting down); each namespace name has its own status, SERVING
 * while its pattern is serving and its backend reachable (pushed on Watch).
 */
export class LocalServer {
  private readonly server = new grpc.Server(serverOptions);
  /** ProxyControlPlane alone, on a Unix socket in the proxy's private directory: no other local user can dial it. */
  private readonly controlServer = new grpc.Server(serverOptions);
  readonly health = new HealthService(Serving.NOT_SERVING);
  port = 0;
  /** Set once the proxy's listener is up and every namespace was brought up (or is being retried). */
  routing = false;
  private stopping = false;

  constructor(
    controlPlane: ControlPlane,
    private readonly registry: PatternRegistry,
  ) {
    addService(this.controlServer, ProxyControlPlane, controlPlane.service);
    this.health.addTo(this.server);
    addReflection(this.server, REFLECTED_SERVICES);
    for (const i of registry.all()) {
      this.health.set(i.namespace, Serving.NOT_SERVING);
      i.onChange(() => this.refresh());
    }
  }

  /** Recomputes health statuses from the registry. */
  refresh(): void {
    if (this.stopping) return;
    for (const i of this.registry.all()) this.health.set(i.namespace, i.ready ? Serving.SERVING : Serving.NOT_SERVING);
    this.health.set("", this.routing ? Serving.SERVING : Serving.NOT_SERVING);
  }

  /** Binds health and reflection on a loopback port (the router relays to it); returns host:port. */
  async listen(): Promise<string> {
    this.port = await bindServer(this.server, "127.0.0.1", 0);
    return `127.0.0.1:${this.port}`;
  }

  /** Binds the control plane on `dir`/control.sock (dir must be private to this user); returns the unix: address patterns dial. */
  async listenControlPlane(dir: string): Promise<string> {
    const path = join(dir, "control.sock");
    await bindUnixServer(this.controlServer, path);
    return `unix:${path}`;
  }

  /** Every status NOT_SERVING (shutdown has begun). */
  notServing(): void {
    this.stopping = true;
    this.health.setAll(Serving.NOT_SERVING);
  }

  /** Ends open health Watch streams, then stops the server (forced after timeoutMs); false when forced. */
  stop(timeoutMs: number): Promise<boolean> {
    this.health.close();
    return Promise.all([stopServer(this.server, timeoutMs), stopServer(this.controlServer, timeoutMs)]).then(([a, b]) => a || b);
  }
}
