import { Context } from '@temporalio/activity';

/**
 * Runs `work` (one slow external call) while heartbeating, so a worker that dies mid-call is noticed within the
 * activity's `heartbeatTimeout` — seconds — instead of its whole `startToCloseTimeout`,
 * and the retry runs on another
 * worker. Beats every third of the timeout (the SDK throttles what it sends); does nothing outside an activity or
 * when the activity has no heartbeat timeout. Activities that heartbeat progress details themselves do not use this.
 */
export async function keepAlive<T>(work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timeoutMs = ctx.info.heartbeatTimeoutMs;
  if (!timeoutMs) return work();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), Math.max(200, Math.floor(timeoutMs / 3)));
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
