import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * The structured log of a worker: one JSON object per line on stdout (pino), ready for any log pipeline.
 * `JOBS_LOG_LEVEL` sets the level.
 */
export function createJobLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: (options.level ?? 'info').toLowerCase(),
      base: { service: 'durable-jobs' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Asynchronous writes: a synchronous write per line would put the disk on every job's path.
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
