import { CancelledFailure, Context } from '@temporalio/activity';

/**
 * Runs `work` (one slow external call) while heartbeating, so a worker that dies mid-call is noticed within the
 * activity's `heartbeatTimeout` — seconds — instead of its whole `startToCloseTimeout`,
 * and the retry runs on another
 * worker. Beats every third of the timeout (the SDK throttles what it sends); does nothing outside an activity or
 * when the activity has no heartbeat timeout. Activities that heartbeat progress details themselves do not use this.
 *
 * Heartbeats are also how a cancellation reaches an activity (the job was cancelled, or its run closed): `work` gets
 * the activity's cancellation signal, to hand to its HTTP call, which is then aborted and fails with the
 * cancellation (a `CancelledFailure`) — so the activity ends as cancelled, neither retried nor dead. The one
 * cancellation `work` does not get is the worker's own shutdown past its grace time (`WORKER_SHUTDOWN`): the call
 * finishes, within its client timeout, on the stopping worker, which reports its result (README "Workers") — however
 * the activity reached the worker, eagerly with its workflow task or from a rate-limited queue.
 */
export async function keepAlive<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timeoutMs = ctx.info.heartbeatTimeoutMs;
  const signal = unlessWorkerShutdown(ctx.cancellationSignal);
  if (!timeoutMs) return work(signal);
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), Math.max(200, Math.floor(timeoutMs / 3)));
  try {
    return await work(signal);
  } finally {
    clearInterval(timer);
  }
}

/** A signal that follows `source`, except for the SDK's cancellation of running activities at worker shutdown. */
function unlessWorkerShutdown(source: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const follow = () => {
    const reason: unknown = source.reason;
    if (!(reason instanceof CancelledFailure && reason.message === 'WORKER_SHUTDOWN')) controller.abort(reason);
  };
  if (source.aborted) follow();
  else source.addEventListener('abort', follow, { once: true });
  return controller.signal;
}
