import type { Info as ActivityInfo } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, type LogLevel } from '@temporalio/worker';

export interface IdempotencyCheckOptions {
  /**
   * Counts the activity's side effects as they stand: rows it wrote, calls a fake service applied, files, mails. Called
   * before the first run and after every run.
   */
  effects: () => number | Promise<number>;
  /** The activity's name in the error. @default the function's name */
  name?: string;
  /** Activity info for every run besides `attempt` and `heartbeatDetails` (e.g. `heartbeatTimeoutMs`). */
  info?: Partial<ActivityInfo>;
  /** Level of the activity's own log lines (`Context.current().log`). @default 'WARN' */
  logLevel?: LogLevel;
}

export interface IdempotencyCheck {
  /** The activity's name. */
  activity: string;
  /** What `effects()` counted before the first run. */
  before: number;
  /** After the first run (attempt 1). */
  once: number;
  /**
   * After running it again with the same input, first as a retry (attempt 2, handed the first run's last heartbeat
   * details), then as the retry after a crash that followed its effect (attempt 2, nothing heartbeated): no more
   * than `once`, or the check throws.
   */
  again: number;
  /** What each run returned: the first, the retry, the retry after a crash. */
  results: [unknown, unknown, unknown];
}

/**
 * The property the idempotency pattern exists for: an activity run again with the same input — which Temporal does
 * whenever an attempt fails or times out, including when the worker crashed after the work was done but before it
 * reported it — does its work once. Runs `activity(...input)` in `@temporalio/testing`'s `MockActivityEnvironment`
 * (an activity context: `Context.current()`, heartbeats and `keepAlive` work) once, then again as a retry would
 * (attempt 2, with the first run's last heartbeat details) and as the retry after a crash that followed the effect
 * would (attempt 2, no heartbeat recorded), counting `effects()` before and after. Throws an Error naming the activity
 * and both counts if the effects grew on the runs again; also if a run throws, or if the first run had no effect to
 * count (the check would prove nothing). Returns the counts.
 *
 * ```ts
 * await checkIdempotentActivity(activities.generateInvoice, [invoiceId], {
 *   effects: async () => (await db.selectFrom('invoice_documents').selectAll().where('invoice_id', '=', invoiceId).execute()).length,
 * });
 * ```
 */
export async function checkIdempotentActivity<A extends (...args: any[]) => Promise<unknown>>(
  activity: A,
  input: Parameters<A>,
  options: IdempotencyCheckOptions,
): Promise<IdempotencyCheck> {
  if (typeof activity !== 'function') throw new TypeError('activity must be the activity function');
  if (!Array.isArray(input))
    throw new TypeError('input must be the array of the arguments the activity is called with');
  if (typeof options?.effects !== 'function')
    throw new TypeError('options.effects must be a function counting effects');
  const name = options.name ?? (activity.name || 'activity');
  const logger = new DefaultLogger(options.logLevel ?? 'WARN');
  const count = async (when: string): Promise<number> => {
    const n = await options.effects();
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      throw new TypeError(`effects() must return a number, got ${JSON.stringify(n)} ${when}`);
    }
    return n;
  };
  const runAs = async (what: string, info: Partial<ActivityInfo>) => {
    const env = new MockActivityEnvironment({ activityType: name, ...options.info, ...info }, { logger });
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => heartbeats.push(details));
    try {
      return { result: await env.run<Parameters<A>, unknown, A>(activity, ...input), heartbeats };
    } catch (err) {
      throw new Error(`activity "${name}" threw ${what}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  };

  const before = await count('before the first run');
  const first = await runAs('on its first run', { attempt: 1 });
  const once = await count('after the first run');
  if (once === before) {
    throw new Error(
      `activity "${name}": effects() counted ${before} before and after its first run; with no effect to count, ` +
        'running it again proves nothing (does effects() count what this activity does?)',
    );
  }
  const lastHeartbeat = first.heartbeats.at(-1);
  const retry = await runAs('when run again as a retry (attempt 2)', {
    attempt: 2,
    heartbeatDetails: lastHeartbeat,
  });
  const afterRetry = await count('after the retry');
  const crash = await runAs('when run again after a crash that followed its effect (attempt 2)', {
    attempt: 2,
    heartbeatDetails: undefined,
  });
  const again = await count('after the retry after a crash');
  if (afterRetry > once || again > once) {
    throw new Error(
      `activity "${name}" is not idempotent: effects() counted ${once} after one run and ${again} after running it ` +
        `again with the same input (${afterRetry} after a retry, attempt 2; ${again} after a retry following a crash ` +
        `after its effect)${before === 0 ? '' : `, ${before} before the first`}`,
    );
  }
  return { activity: name, before, once, again, results: [first.result, retry.result, crash.result] };
}
