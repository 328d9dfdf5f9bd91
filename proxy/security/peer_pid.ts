import { dlopen, FFIType, ptr } from "bun:ffi";

/** Linux <sys/socket.h>: SOL_SOCKET and SO_PEERCRED (struct ucred {pid_t pid; uid_t uid; gid_t gid}). */
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

let getsockopt: ((fd: number, level: number, name: number, value: number, len: number) => number) | null | undefined;

function libcGetsockopt() {
  if (getsockopt !== undefined) return getsockopt;
  try {
    const lib = dlopen("libc.so.6", { getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 } });
    getsockopt = (fd, level, name, value, len) => lib.symbols.getsockopt(fd, level, name, value, len) as number;
  } catch {
    getsockopt = null;
  }
  return getsockopt;
}

/** The file descriptor under a node:net socket accepted by Bun (undefined elsewhere). */
function fdOf(socket: unknown): number | undefined {
  const fd = (socket as { _handle?: { fd?: unknown } })?._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/**
 * The pid of the process at the other end of a connected Unix-domain socket, as the kernel recorded it when
 * that process connected (SO_PEERCRED): a peer cannot claim another's pid. Undefined when it cannot be read
 * (not Linux, not a Unix socket, no file descriptor).
 */
export function peerPid(socket: unknown): number | undefined {
  const fd = fdOf(socket);
  const call = process.platform === "linux" ? libcGetsockopt() : null;
  if (fd === undefined || !call) return undefined;
  const cred = new Int32Array(3);
  const len = new Uint32Array([cred.byteLength]);
  if (call(fd, SOL_SOCKET, SO_PEERCRED, ptr(cred), ptr(len)) !== 0) return undefined;
  return cred[0]! > 0 ? cred[0] : undefined;
}

/** Metadata the proxy's control-plane server sets (over anything the caller sent) to the peer pid of the call's connection. */
export const PEER_PID_HEADER = "x-prism-peer-pid";
