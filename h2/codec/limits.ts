/**
 * Bounds on everything an HTTP/2 server controls, so that one misbehaving peer costs the client a bounded amount
 * of memory and CPU and then loses its connection (GOAWAY), never the process.
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

/**
 * Frames that cost work without moving a response forward (PING, SETTINGS, PRIORITY, empty DATA, unknown types,
 * GOAWAY after the first, RST_STREAM for closed streams beyond one per stream ever opened) allowed per second;
 * beyond it the connection ends with GOAWAY ENHANCE_YOUR_CALM. WINDOW_UPDATE for closed streams is not counted:
 * servers credit request bodies after the response (Bun's does, for every body).
 */
export const MAX_IDLE_FRAMES_PER_SECOND = 1000;

/** Control replies (PING and SETTINGS acknowledgements) queued while the socket cannot take more; beyond it, ENHANCE_YOUR_CALM. */
export const MAX_QUEUED_CONTROL_FRAMES = 1000;

/** Bytes waiting in the socket beyond which request bodies wait for it to drain (a server that does not read). */
export const SOCKET_HIGH_WATER = 1024 * 1024;

/** Streams waiting for the server's first SETTINGS or for a free stream slot, by default. */
export const DEFAULT_MAX_QUEUED_STREAMS = 4096;

/** Reconnection backoff of LazyConnection by default: doubling from the initial delay up to the max, with jitter. */
export const DEFAULT_RECONNECT = { initialDelayMs: 100, maxDelayMs: 1_000 } as const;
