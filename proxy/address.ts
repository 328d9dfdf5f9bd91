/** A TCP address the proxy binds or dials. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses "host:port", "[::1]:port" or ":port" (loopback). Returns undefined when
 * the text is not an address, so callers can name the offending key.
 */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? (m[2] || "127.0.0.1");
  return { host, port };
}

/** host:port with IPv6 hosts bracketed. */
export function formatHostPort(a: HostPort): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
