import type { Logger } from "../observability/logger";

/** Exit codes of contract §3. */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_TIMEOUT = 2;

/**
 * Runs the shutdown sequence once, whatever asked for it (signal, Stop command,
 * lost proxy), bounded by timeoutMs: exit 0 when clean, 1 on error, 2 when
 * forced. `steps` resolves true when it had to cut something short (calls still
 * in flight at its own budget): the process still closes and flushes, then exits 2.
 */
export function shutdownController(steps: () => Promise<boolean | void>, timeoutMs: number, logger: Logger) {
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
      (forced) => {
        clearTimeout(timer);
        if (forced) {
          logger.warn("shutdown complete, but calls in flight were cut off at the bound", { timeout_ms: timeoutMs });
          process.exit(EXIT_TIMEOUT);
        }
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
  // `on`, not `once`: a second signal must not fall back to the default action (death without clean-up).
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  return shutdown;
}
