/** Resolves on the first SIGINT or SIGTERM: how a foreground command waits to be stopped. */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
