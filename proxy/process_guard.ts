import { type Logger } from "@prism/sdk";

/** What escaped: a thrown error nobody caught, or a rejected promise nobody handled. */
export type UncaughtKind = "exception" | "rejection";

/**
 * The last line of defence of a process that serves every namespace: an error no code of ours caught (an
 * 'error' event without a listener, a rejection without a handler) is logged and counted, and the proxy keeps
 * serving. Each such error is a bug to fix where it arose; this only keeps one client's call from ending
 * every other client's.
 */
export function installProcessGuard(logger: Logger, count: (kind: UncaughtKind) => void): () => void {
  const onException = (err: unknown) => {
    count("exception");
    logger.error("uncaught exception; the proxy keeps serving", { err });
  };
  const onRejection = (reason: unknown) => {
    count("rejection");
    logger.error("unhandled promise rejection; the proxy keeps serving", { err: reason });
  };
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}
