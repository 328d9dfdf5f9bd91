import type { DescService } from "@bufbuild/protobuf";
import { rmSync } from "node:fs";
import { createServer, type Server as NetServer } from "node:net";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ProxyControlPlane } from "../proto/gen/prism/interfaces/proxy_control_plane_pb";
import { HealthService, Serving, addReflection, addService, bindServer, serverOptions, stopServer } from "@prism/sdk";
import { NamespaceAdmin } from "../proto/gen/prism/admin/namespace_admin_pb";
import { CLIENT_SERVICES } from "./client_services";
import type { namespaceAdminService } from "./namespace_admin";
import type { ControlPlane } from "./lifecycle/control_plane";
import type { PatternRegistry } from "./pattern_registry";
import { localSecretInterceptor, visibleNamespaces } from "./security/local_access";
import { PEER_PID_HEADER, peerPid } from "./security/peer_pid";

/** The pid the kernel recorded for a control-plane connection travels as its socket's remoteAddress ("pid:N"). */
const PID_ADDRESS = /^pid:(\d+)$/;

/**
 * Overwrites whatever x-prism-peer-pid a caller sent with the pid of the process at the other end of its
 * connection, so the control plane can bind a launch secret to the pid it launched.
 */
const peerPidInterceptor: grpc.ServerInterceptor = (_method, call) =>
  new grpc.ServerInterceptingCall(
    call,
    new grpc.ResponderBuilder()
      .withStart((next) =>
        next(
          new grpc.ServerListenerBuilder()
            .withOnReceiveMetadata((md, pass) => {
              md.set(PEER_PID_HEADER, PID_ADDRESS.exec(call.getPeer())?.[1] ?? "");
              pass(md);
            })
            .build(),
        ),
      )
      .build(),
  );

/**
 * Services clients can discover through the proxy with grpc.reflection: every service
 * of proto/ a client may call (local_server.test.ts keeps it complete). Forwarding
 * does not depend on this list: any service a pattern serves is forwarded.
 */
export const REFLECTED_SERVICES: readonly DescService[] = CLIENT_SERVICES;

/**
 * The proxy's own gRPC server, on a loopback port: ProxyControlPlane for the
 * patterns it launches, and grpc.health.v1 / grpc.reflection, which the router
 * relays to from the client port. Health "" is SERVING while the proxy can route
 * (started, not shutting down); each namespace name has its own status, SERVING
 * while its pattern is serving and its backend reachable (pushed on Watch).
 */
export class LocalServer {
  /** Set when authentication is on: calls must carry it (the router's gate adds it), see protect(). */
  private secret: string | undefined;
  private readonly server = new grpc.Server({
    ...serverOptions,
    interceptors: [...(serverOptions.interceptors ?? []), localSecretInterceptor(() => this.secret)],
  });
  /**
   * ProxyControlPlane alone, on a Unix socket in the proxy's private directory: no other local user can dial it,
   * and each connection carries the pid of the process that dialled (SO_PEERCRED).
   */
  private readonly controlServer = new grpc.Server({ ...serverOptions, interceptors: [...(serverOptions.interceptors ?? []), peerPidInterceptor] });
  private controlListener: NetServer | undefined;
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
    // With authentication on, a namespace's status only to callers the gate says may see it; "" to anyone.
    this.health.addTo(this.server, (service, md) => this.secret === undefined || service === "" || visibleNamespaces(md).has(service));
    addReflection(this.server, REFLECTED_SERVICES);
    const track = (set: { namespace: string; onChange(fn: () => void): void }) => {
      this.health.set(set.namespace, Serving.NOT_SERVING);
      set.onChange(() => this.refresh());
    };
    for (const set of registry.all()) track(set);
    // Namespaces added while serving (a live configuration change).
    registry.onAdd((set) => {
      track(set);
      this.refresh();
    });
  }

  /**
   * Authentication is on: refuse calls that did not pass the router's gate (which adds `secret`), so the
   * loopback port is no way around it, and show each caller only the namespaces the gate lists for it.
   */
  protect(secret: string): void {
    this.secret = secret;
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
    rmSync(path, { force: true });
    // Accepted here rather than by grpc-js, to read each connection's peer pid before HTTP/2 starts on it.
    const injector = this.controlServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const listener = createServer((socket) => {
      Object.defineProperty(socket, "remoteAddress", { value: `pid:${peerPid(socket) ?? "unknown"}`, configurable: true });
      injector.injectConnection(socket);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(path, () => {
        listener.off("error", reject);
        resolve();
      });
    });
    this.controlListener = listener;
    return `unix:${path}`;
  }

  /** Serves prism.admin.NamespaceAdmin (only with authentication on: the router's gate authorizes each call). */
  serveNamespaceAdmin(impl: ReturnType<typeof namespaceAdminService>): void {
    addService(this.server, NamespaceAdmin, impl);
  }

  /** A namespace removed while serving: its status is that of a namespace that never existed. */
  forget(namespace: string): void {
    this.health.set(namespace, Serving.SERVICE_UNKNOWN);
  }

  /** Every status NOT_SERVING (shutdown has begun). */
  notServing(): void {
    this.stopping = true;
    this.health.setAll(Serving.NOT_SERVING);
  }

  /** Ends open health Watch streams, then stops the server (forced after timeoutMs); false when forced. */
  stop(timeoutMs: number): Promise<boolean> {
    this.health.close();
    this.controlListener?.close();
    return Promise.all([stopServer(this.server, timeoutMs), stopServer(this.controlServer, timeoutMs)]).then(([a, b]) => a || b);
  }
}
