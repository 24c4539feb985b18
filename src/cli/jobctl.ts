import { Command } from 'commander';
import { addCancelCommand } from './commands/cancel';
import { addDeployCommands } from './commands/deploy';
import { addJobCommands } from './commands/jobs';
import { addProcessCommands } from './commands/processes';
import { addScheduleCommands } from './commands/schedules';
import { addSetupCommands } from './commands/setup';
import { addInstallTemporalServerCommand, addStackCommand } from './commands/stack';
import { addInitCommand } from './init';
import { fail } from './output';
import { loadApplication } from '../application';
import { lazy } from './lazy';

const program = new Command('jobctl')
  .description('Start, inspect and run durable background jobs on Temporal.')
  .option(
    '--app <module>',
    'the application module (default: JOBS_APP, then package.json "durable-jobs".app, then ./app.ts or ./app.js)',
  )
  .configureOutput({ outputError: (str, write) => write(`jobctl: ${str.replace(/^error: /, '')}`) });

/** Commands that need no application: installing and running Temporal, keys, fakes, scaffolding. */
const WITHOUT_APPLICATION = new Set([
  'install-temporal',
  'install-temporal-server',
  'keygen',
  'server',
  'fake-vendor',
  'new',
  'init',
]);

addJobCommands(program);
addCancelCommand(program);
addProcessCommands(program);
addScheduleCommands(program);
addDeployCommands(program);
addSetupCommands(program);
addStackCommand(program);
addInstallTemporalServerCommand(program);
addInitCommand(program);

// Traces (README "Traces"), when OTEL_* asks for them: started before the command runs, flushed when it ends. The
// tracing module (and through it the OpenTelemetry SDK) is only loaded when some OTEL_* variable is set.
const SERVICE_NAMES: Record<string, string> = {
  worker: 'durable-jobs-worker',
  http: 'durable-jobs-http',
  dev: 'durable-jobs-dev',
};
const tracing = Object.keys(process.env).some((name) => name.startsWith('OTEL_')) ? lazy.tracing() : undefined;
program.hook('preAction', (_program, command) => {
  tracing?.startTracing({ serviceName: SERVICE_NAMES[command.name()] ?? 'jobctl' });
  // The application's jobs: what enqueue, list, the worker, the HTTP service and the rest know (README "Layout").
  if (!WITHOUT_APPLICATION.has(command.name())) loadApplication(program.opts<{ app?: string }>().app);
});

program
  .parseAsync(process.argv)
  .finally(() => tracing?.stopTracing())
  .catch(fail);
