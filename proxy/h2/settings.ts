import type http2 from "node:http2";

/**
 * The stream window the proxy's client listener announces (the pattern side's is h2/'s). The relay only
 * moves bytes between two streams, so a large window costs nothing but lets clients send WINDOW_UPDATE frames
 * rarely instead of every 64 KiB. (A 32 MiB connection window stalled messages over 4 MiB under Bun 1.4.)
 */
export const STREAM_WINDOW = 4 * 1024 * 1024;
/** SETTINGS the proxy announces on every session. */
export const H2_SETTINGS: http2.Settings = { enablePush: false, initialWindowSize: STREAM_WINDOW };
