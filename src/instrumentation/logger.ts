import pino, { type DestinationStream, type Logger } from 'pino';
import pretty, { type MessageFormatFunc } from 'pino-pretty';

import type { LogFormat } from './log-format';

export { LOG_FORMATS, type LogFormat } from './log-format';

/**
 * The structured log of a worker: one JSON object per line on stdout (pino), ready for any log pipeline.
 * `JOBS_LOG_LEVEL` sets the level. With `format: 'pretty'` (what `npm start` uses on a terminal) the same events are
 * printed as one short line each, coloured when `colorize` (pino-pretty); every other process keeps JSON.
 */
export function createJobLogger(
  options: { level?: string; destination?: DestinationStream; format?: LogFormat; colorize?: boolean } = {},
): Logger {
  const settings = {
    level: (options.level ?? 'info').toLowerCase(),
    base: { service: 'durable-jobs' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.format === 'pretty') {
    return pino(
      settings,
      pretty({
        destination: options.destination ?? 1,
        colorize: options.colorize ?? true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,service',
        hideObject: true,
        messageFormat: formatEvent,
        sync: true, // a terminal reader: lines in order with the banner, never lost at exit
      }),
    );
  }
  // Asynchronous writes: a synchronous write per line would put the disk on every job's path.
  return pino(settings, options.destination ?? pino.destination({ dest: 1, sync: false }));
}

type Colors = Parameters<MessageFormatFunc>[3]['colors'];

/** `38 ms`, `2.4 s`, `3.1 min`. */
function duration(ms: unknown): string {
  if (typeof ms !== 'number') return '';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** `key=value` of the fields a line did not already say, for events without a format of their own. */
function rest(log: Record<string, unknown>, said: readonly string[]): string {
  const skip = new Set(['level', 'time', 'pid', 'hostname', 'service', 'msg', 'event', ...said]);
  return Object.entries(log)
    .filter(([key, value]) => !skip.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
}

/** One line per event: what happened, to which job run, how long it took, and why it failed. */
export const formatEvent: MessageFormatFunc = (log, messageKey, _levelLabel, { colors }) => {
  const c: Colors = colors;
  const s = (value: unknown) => (typeof value === 'string' ? value : value === undefined ? '' : String(value));
  const run = c.dim(s(log.workflowId));
  const error = log.error_type ? c.red(`${s(log.error_type)}: ${s(log.error_message)}`) : '';
  const attempt = typeof log.attempt === 'number' && log.attempt > 1 ? c.yellow(`attempt ${log.attempt}`) : '';
  const parts = (...items: string[]) => items.filter((item) => item !== '').join('  ');
  switch (log.event) {
    case 'job_started':
      return parts(c.cyan('▶ started  '), c.bold(s(log.job)), run, log.enqueued_by ? `by ${s(log.enqueued_by)}` : '');
    case 'job_succeeded':
      return parts(c.green('✓ succeeded'), c.bold(s(log.job)), run, duration(log.duration_ms));
    case 'job_failed':
      return parts(c.red('✗ failed   '), c.bold(s(log.job)), run, duration(log.duration_ms), error);
    case 'job_cancelled':
      return parts(c.yellow('■ cancelled'), c.bold(s(log.job)), run, duration(log.duration_ms));
    case 'job_expired':
      return parts(c.yellow('⌛ expired  '), c.bold(s(log.job)), run, `${duration(log.late_ms)} late`);
    case 'activity_started':
    case 'activity_succeeded':
    case 'activity_failed': {
      const outcome = s(log.event).slice('activity_'.length);
      const mark = outcome === 'failed' ? c.red('  ↳ failed') : c.dim(`  ↳ ${outcome}`);
      return parts(mark, s(log.activity), run, attempt, duration(log.duration_ms), error);
    }
    case 'alert_fired':
    case 'alert_recovered':
      return parts(log.event === 'alert_fired' ? c.red('! alert') : c.green('✓ recovered'), s(log.text));
    default:
      return parts(s(log.event ?? log[messageKey]), c.dim(rest(log, [messageKey])));
  }
};
