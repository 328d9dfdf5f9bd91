import type { Logger } from "../observability/logger";

/** Exit codes of contract §3. */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_TIMEOUT = 2;

/**
 * Runs the shutdown sequence once, whatever asked for it (signal, Stop command,
 * lost proxy), bounded by timeoutMs: exit 0 when clean, 1 on error, 2 when forced.
 */
export function shutdownController(steps: () => Promise<void>, timeoutMs: number, logger: Logger) {
  let started = false;
  const shutdown = (reason: string) => {
    if (started) return;
    started = true;
    logger.info("shutting down", { reason, timeout_ms: timeoutMs });
    const timer = setTimeout(() => {
      logger.error("shutdown exceeded its bound; forcing exit", { timeout_ms: timeoutMs });
      process.exit(EXIT_TIMEOUT);
    }, timeoutMs);
    steps().then(
      () => {
        clearTimeout(timer);
        logger.info("shutdown complete");
        process.exit(EXIT_OK);
      },
      (err) => {
        clearTimeout(timer);
        logger.error("shutdown failed", { err });
        process.exit(EXIT_ERROR);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  return shutdown;
}
