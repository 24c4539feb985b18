import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { loadApplication } from '../../application';
import { PRIORITIES, type Priority } from '../../sandbox/queues';
import { resolveTemporalCli } from '../../temporal-cli';
import { lazy } from '../lazy';
import { generateJob } from '../new-job';
import { print } from '../output';
import { parsePositiveInt } from '../parsers';

/** Setting a project up: new, seed, bundle, keygen, token, install-temporal. */
export function addSetupCommands(program: Command): void {
  program
    .command('seed')
    .description('create demo users and invoices (ids 1..N) if the database is empty')
    .option('--count <n>', 'how many', parsePositiveInt, 100)
    .action(async (opts: { count: number }) => {
      const app = loadApplication();
      if (!app.seed) throw new Error('this application has no demo data (its app.ts declares no seed)');
      const settings = lazy.config().readSettings();
      const database = await lazy.database().openDatabase({ ...settings, migrations: app.migrations });
      try {
        const seeded = await app.seed(database.db, opts.count);
        process.stderr.write(
          seeded ? `Seeded ${seeded} in ${database.location}\n` : 'Database already has data; nothing seeded.\n',
        );
      } finally {
        await database.close();
      }
    });

  program
    .command('bundle')
    .description(
      'write the workflow bundle, so worker processes load it (JOBS_WORKFLOW_BUNDLE) instead of bundling at start',
    )
    .option('--out <file>', 'where to write it', 'workflow-bundle.js')
    .option(
      '--no-tracing',
      'leave the OpenTelemetry workflow interceptors out (README "Traces"): workers with OTEL_* set then refuse it',
    )
    .action(async (opts: { out: string; tracing: boolean }) => {
      // With tracing by default: the image's bundle is built before anyone knows whether its workers will trace.
      const { code } = await lazy.workers().bundleWorkflows({ tracing: opts.tracing });
      const file = path.resolve(opts.out);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, code);
      process.stderr.write(
        `Workflow bundle written to ${file} (${(code.length / 1024).toFixed(0)} KiB, build ID ` +
          `${lazy.workers().buildIdOf({ code })}); run workers with JOBS_WORKFLOW_BUNDLE=${file}\n`,
      );
    });

  program
    .command('new')
    .description(
      'add a job: writes workflows/<job>.ts, activities/<job>.ts and test/<job>.test.ts, lists it in both indexes ' +
        'and records its first history for the replay test (where the project has test/record-histories.ts)',
    )
    .argument('<job-name>', 'kebab-case, e.g. sync-crm-contact')
    .addOption(new Option('--queue <queue>', 'priority queue it runs on').choices(PRIORITIES).default('default'))
    .option('--no-record', 'do not record its first history now (the replay test fails until one is recorded)')
    .action((name: string, opts: { queue: Priority; record: boolean }) => {
      const root = process.cwd(); // the application, as npm runs its scripts: at its root
      const { created, updated, recordHistory } = generateJob(name, { root, queue: opts.queue });
      const lines = [...created.map((f) => `created  ${f}`), ...updated.map((f) => `updated  ${f}`)];
      process.stdout.write(`${lines.join('\n')}\n`);
      if (opts.record && recordHistory) {
        process.stderr.write('Recording its first history for the replay test (a dev server, a worker, one run)…\n');
        const recorded = spawnSync(process.execPath, ['-r', 'tsx/cjs', ...recordHistory.args], {
          cwd: root,
          stdio: 'inherit',
        });
        if (recorded.status !== 0) {
          throw new Error(
            `the job's files are written, but recording its history failed; run: ${recordHistory.command}`,
          );
        }
      }
      const next = opts.record || !recordHistory ? '' : `, record its first history (${recordHistory.command})`;
      const again = recordHistory ? ' After changing the workflow, record again.' : '';
      process.stdout.write(`\nNext: fill in the TODOs${next}, then npm test.${again}\n`);
    });

  program
    .command('keygen')
    .description('print a new AES-256 key as id:base64 for JOBS_ENCRYPTION_KEYS (put it first to rotate)')
    .argument('[id]', 'key id stored with every payload it encrypts', `key-${new Date().toISOString().slice(0, 10)}`)
    .action((id: string) => {
      process.stdout.write(`${lazy.encryption().Keyring.generate(id)}\n`);
    });

  program
    .command('token')
    .description('API tokens of the HTTP service')
    .command('create')
    .description('print a new API token, and the JOBS_API_TOKENS entry (its hash) that accepts it')
    .argument('<id>', 'who will use it, e.g. web or billing-service: recorded with every job it enqueues')
    .option(
      '--scopes <scopes>',
      'joined by "+": enqueue:<job>, enqueue:* (every job open to HTTP), read, cancel:<job>, cancel:*, * (all)',
      'enqueue:*+read',
    )
    .option('--json', 'print {id, token, entry} as JSON')
    .action((id: string, opts: { scopes: string; json?: boolean }) => {
      const { token, entry } = lazy.httpTokens().createApiToken(id, opts.scopes);
      print(opts.json === true, { id, token, entry }, () =>
        [
          `API token "${id}" (shown once; the caller sends "Authorization: Bearer <token>"):`,
          `  ${token}`,
          'Add this entry to the HTTP service\'s JOBS_API_TOKENS (entries joined by ","); it holds only the hash:',
          `  ${entry}`,
        ].join('\n'),
      );
    });

  program
    .command('install-temporal')
    .description('find or build the Temporal CLI (dev server) and print its path')
    .action(async () => {
      const cli = await resolveTemporalCli();
      if (!cli)
        throw new Error(
          'no Temporal CLI found and Go is not installed; `jobctl server` will download one through the Temporal SDK',
        );
      process.stdout.write(`${cli.path}\n`);
    });
}
