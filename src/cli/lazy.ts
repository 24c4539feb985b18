/* eslint-disable @typescript-eslint/no-require-imports -- loading on first use is what this module is for */

/**
 * The modules jobctl's commands need only when they run, each loaded on its first use. Defining the commands (all of
 * them, on every start: `jobctl --help`, or any one command) then loads commander and a few small modules, where these
 * pull in the Temporal SDK (a native module), Fastify, OpenTelemetry, Kysely and zod: seconds of start-up under tsx,
 * about one under Node. A command's action (or an option parser) calls the function of what it needs; the module
 * itself is loaded once, by Node's cache. Types come from `import type`, which loads nothing.
 */
export const lazy = {
  client: () => require('../client/client') as typeof import('../client/client'),
  replay: () => require('../worker/replay') as typeof import('../worker/replay'),
  schedules: () => require('../client/schedules') as typeof import('../client/schedules'),
  stats: () => require('../client/stats') as typeof import('../client/stats'),
  config: () => require('../config') as typeof import('../config'),
  deployments: () => require('../client/deployments') as typeof import('../client/deployments'),
  database: () => require('../db/database') as typeof import('../db/database'),
  dev: () => require('./dev') as typeof import('./dev'),
  devServer: () => require('../dev-server') as typeof import('../dev-server'),
  encryption: () => require('../encryption') as typeof import('../encryption'),
  fakeVendor: () => require('../testing/fake-vendor') as typeof import('../testing/fake-vendor'),
  httpCodec: () => require('../http/codec') as typeof import('../http/codec'),
  httpServer: () => require('../http/server') as typeof import('../http/server'),
  httpTokens: () => require('../http/tokens') as typeof import('../http/tokens'),
  jobControls: () => require('../job-controls') as typeof import('../job-controls'),
  jobs: () => require('../sandbox/jobs') as typeof import('../sandbox/jobs'),
  jobTiming: () => require('../sandbox/job-timing') as typeof import('../sandbox/job-timing'),
  logger: () => require('../instrumentation/logger') as typeof import('../instrumentation/logger'),
  postgres: () => require('../stack/postgres') as typeof import('../stack/postgres'),
  searchAttributes: () => require('../sandbox/search-attributes') as typeof import('../sandbox/search-attributes'),
  serverConfig: () => require('../stack/server-config') as typeof import('../stack/server-config'),
  stack: () => require('../stack/stack') as typeof import('../stack/stack'),
  tracing: () => require('../instrumentation/tracing') as typeof import('../instrumentation/tracing'),
  validateArguments: () => require('../sandbox/validate-arguments') as typeof import('../sandbox/validate-arguments'),
  watch: () => require('./watch') as typeof import('./watch'),
  workerProcess: () => require('../worker/worker-process') as typeof import('../worker/worker-process'),
  temporalWorker: () => require('@temporalio/worker') as typeof import('@temporalio/worker'),
  workers: () => require('../worker/workers') as typeof import('../worker/workers'),
};
