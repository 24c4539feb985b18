/**
 * `durable-jobs/health-check`: the failure-rate, backlog and no-worker alerts, as a job the library offers. An
 * application opts in with one line in its workflows module — `export * from 'durable-jobs/health-check';` — and the
 * worker registers its activity; `jobctl schedules sync` (and `npm start`) then runs it every minute.
 */
export * from './sandbox/health-check';
