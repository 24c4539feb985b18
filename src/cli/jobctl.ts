import { Command } from 'commander';
import { addCancelCommand } from './commands/cancel';
import { addJobCommands } from './commands/jobs';
import { addProcessCommands } from './commands/processes';
import { addScheduleCommands } from './commands/schedules';
import { addSetupCommands } from './commands/setup';
import { addStackCommand } from './commands/stack';
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

program.parseAsync(process.argv).catch(fail);
