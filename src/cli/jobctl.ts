import { Command } from 'commander';
import { addCancelCommand } from './commands/cancel';
import { addJobCommands } from './commands/jobs';
import { addProcessCommands } from './commands/processes';
import { addScheduleCommands } from './commands/schedules';
import { addSetupCommands } from './commands/setup';
import { addInstallTemporalServerCommand, addStackCommand } from './commands/stack';
import { startTracing, stopTracing } from '../instrumentation/tracing';
import { fail } from './output';

const program = new Command('jobctl')
  .description('Start, inspect and run durable background jobs on Temporal.')
  .configureOutput({ outputError: (str, write) => write(`jobctl: ${str.replace(/^error: /, '')}`) });

addJobCommands(program);
addCancelCommand(program);
addProcessCommands(program);
addScheduleCommands(program);
addSetupCommands(program);
addStackCommand(program);
addInstallTemporalServerCommand(program);

// Traces (README "Traces"), when OTEL_* asks for them: started before the command runs, flushed when it ends.
const SERVICE_NAMES: Record<string, string> = {
  worker: 'durable-jobs-worker',
  http: 'durable-jobs-http',
  dev: 'durable-jobs-dev',
};
program.hook('preAction', (_program, command) => {
  startTracing({ serviceName: SERVICE_NAMES[command.name()] ?? 'jobctl' });
});

program.parseAsync(process.argv).finally(stopTracing).catch(fail);
