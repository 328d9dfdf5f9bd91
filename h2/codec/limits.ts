/**
 * Bounds on what the server's header blocks may cost to receive and decode (the connection's own bounds are in
 * connection/limits.ts), so that one misbehaving peer costs the client a bounded amount of memory and CPU and
 * then loses its connection (GOAWAY), never the process.
 */

/**
 * SETTINGS_MAX_HEADER_LIST_SIZE this side announces and enforces on every response header block and trailer
 * block (RFC 9113 §6.5.2: the sum of name + value + 32 octets per field). gRPC metadata fits with room to
 * spare: gRPC's own implementations default to 8–16 KiB.
 */
export const MAX_HEADER_LIST_SIZE = 64 * 1024;

/** SETTINGS_HEADER_TABLE_SIZE this side announces: the HPACK dynamic table the server may use (the default, stated). */
export const HEADER_TABLE_SIZE = 4096;

/**
 * Compressed bytes of one header block (HEADERS + CONTINUATION) accumulated before it is decoded: beyond it the
 * connection ends (a CONTINUATION sequence that never ends, one huge header).
 */
export const MAX_HEADER_BLOCK_BYTES = 2 * MAX_HEADER_LIST_SIZE;

/** CONTINUATION frames in one header block (empty ones cost nothing in bytes). */
export const MAX_CONTINUATION_FRAMES = 128;
