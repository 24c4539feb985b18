import { Context } from '@temporalio/activity';

/**
 * Runs `work` (one slow external call) while heartbeating, so a worker that dies mid-call is noticed within the
 * activity's `heartbeatTimeout` — seconds — instead of its whole `startToCloseTimeout`,
 * and the retry runs on another
 * worker. Beats every third of the timeout (the SDK throttles what it sends); does nothing outside an activity or
 * when the activity has no heartbeat timeout. Activities that heartbeat progress details themselves do not use this.
 *
 * Heartbeats are also how a cancellation reaches an activity (the job was cancelled, or its run closed): `work` gets
 * the activity's cancellation signal, to hand to its HTTP call, which is then aborted and fails with the
 * cancellation (a `CancelledFailure`) — so the activity ends as cancelled, neither retried nor dead.
 */
export async function keepAlive<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timeoutMs = ctx.info.heartbeatTimeoutMs;
  if (!timeoutMs) return work(ctx.cancellationSignal);
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), Math.max(200, Math.floor(timeoutMs / 3)));
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
