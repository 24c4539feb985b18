import path from 'node:path';
import { Command } from 'commander';
import { parseDynamicConfigValue } from '../src/cli/parsers';
import { positiveInt, runScenario, type Scenario } from './harness';
import { latency } from './latency';
import { batch } from './batch';
import { cli } from './cli';
import { concurrency } from './concurrency';
import { priority } from './priority';
import { scaling } from './scaling';
import { soak } from './soak';
import { throughput } from './throughput';

/** Every scenario is a subcommand with the common options; add new ones here. */
const scenarios: ReadonlyArray<Scenario<any>> = [throughput, latency, batch, priority, scaling, concurrency, soak, cli];

// jobctl processes a benchmark spawns run the test application: the example's jobs and noop, the probes (test/jobs).
process.env.JOBS_APP ??= path.resolve(__dirname, '../test/jobs/app.ts');

async function main() {
  const program = new Command('bench')
    .description('Benchmarks of durable-jobs against a real Temporal server')
    .showHelpAfterError();
  for (const scenario of scenarios) {
    const command = program
      .command(scenario.name)
      .description(scenario.description)
      .option('--json', 'print the result as one JSON object on the last line of stdout')
      .option('--address <host:port>', 'use this Temporal server instead of starting a dev server')
      .option('--concurrency <n>', 'worker activity slots per queue', positiveInt, 50)
      .option(
        '--server-config <key=value>',
        "the dev server's dynamic config on top of docker/dynamicconfig.yaml (repeatable; key=null removes a key)",
        parseDynamicConfigValue,
      );
    scenario.addOptions(command).action((options) => runScenario(scenario, options));
  }
  await program.parseAsync();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
