/**
 * Bounds on what an HTTP/2 server may make one connection do (floods, control replies it does not read, streams
 * waiting) and the connection's defaults; the bounds on header blocks are in codec/limits.ts.
 */

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
