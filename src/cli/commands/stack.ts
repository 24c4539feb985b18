import path from 'node:path';
import type { Command } from 'commander';
import { APP_DATABASE } from '../../stack/app-database';
import { resolveStackBinaries, TEMPORAL_SERVER_VERSION } from '../../stack/binaries';
import type { Stack } from '../../stack/stack';
import { lazy } from '../lazy';
import { fields } from '../output';
import { parseDynamicConfigValue, parsePort } from '../parsers';

/** `jobctl stack`: the production shape (Temporal server on PostgreSQL, separate services) on this machine. */
export function addStackCommand(program: Command): void {
  program
    .command('stack')
    .description(
      `run the production stack here: a Temporal server ${TEMPORAL_SERVER_VERSION} on PostgreSQL (SQL visibility) as ` +
        'separate history, matching, frontend and worker processes with the dynamic config compose mounts ' +
        '(docker/dynamicconfig.yaml), PostgreSQL for the app too, and jobctl worker processes; state persists ' +
        'under --data-dir. Builds the server with Go on first use (minutes). Ctrl-C stops it all in order',
    )
    .option('--data-dir <dir>', "PostgreSQL's data, the rendered server config, logs", '.data/stack')
    .option('--port <port>', "the frontend's gRPC port (history +1, matching +2, worker +6)", parsePort, 7233)
    .option('--postgres-port <port>', "port of the stack's own PostgreSQL (127.0.0.1)", parsePort, 5433)
    .option(
      '--database-url <url>',
      'use this PostgreSQL server instead of our own (a user that may create databases: temporal, ' +
        `temporal_visibility and ${APP_DATABASE} are created on it when missing)`,
      parseDatabaseUrl,
    )
    .option('--workers <n>', 'jobctl worker processes, each serving every queue', parseWorkerCount, 2)
    .option('--no-workers', 'start no worker processes (run your own with the environment it prints)')
    .option(
      '--dynamic-config-value <key=value>',
      'a Temporal dynamic config value on top of docker/dynamicconfig.yaml (repeatable; value as JSON, or a string; ' +
        'key=null removes a key), e.g. matching.longPollExpirationInterval=10s',
      parseDynamicConfigValue,
    )
    .action(
      async (opts: {
        dataDir: string;
        port: number;
        postgresPort: number;
        databaseUrl?: string;
        workers: number | false;
        dynamicConfigValue?: Record<string, unknown>;
      }) => {
        const startedAt = Date.now();
        let stopping = false;
        let failed: string | undefined;
        let wake: () => void = () => undefined;
        const stopped = new Promise<void>((resolve) => (wake = resolve));
        // A wrapper (npm, tsx) relays the same Ctrl-C: the first signal stops in order, a third one forces.
        let signals = 0;
        const onSignal = () => {
          signals++;
          if (signals === 1) wake();
          if (signals >= 3) {
            started.stack?.killNow();
            process.exit(130);
          }
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        const started: { stack?: Stack } = {};
        process.once('exit', () => started.stack?.killNow());
        const stack = await lazy.stack().startStack({
          dataDir: opts.dataDir,
          port: opts.port,
          postgresPort: opts.postgresPort,
          databaseUrl: opts.databaseUrl,
          workers: opts.workers === false ? 0 : opts.workers,
          dynamicConfig: opts.dynamicConfigValue,
          onUnexpectedExit: (name, code, signal) => {
            if (stopping) return;
            failed = `${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the stack`;
            wake();
          },
        });
        started.stack = stack;
        if (signals > 0) {
          await stack.stop();
          return;
        }
        const { servicePorts, TEMPORAL_SERVICES } = lazy.serverConfig();
        const { SEARCH_ATTRIBUTES } = lazy.searchAttributes();
        const ports = servicePorts(opts.port);
        const relative = path.relative(process.cwd(), stack.logDir);
        const logs = relative.startsWith('..') ? stack.logDir : relative;
        const logNames = [...TEMPORAL_SERVICES, ...(stack.postgres ? ['postgres'] : []), 'worker-N'];
        const address = stack.address;
        process.stderr.write(
          [
            '',
            `The durable-jobs stack is running (up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s):`,
            fields([
              ['Temporal frontend', `${address} (namespace ${stack.namespace}; no Web UI: the server has none)`],
              [
                'Temporal services',
                TEMPORAL_SERVICES.map((s) => `${s} :${ports[s].grpc} (pid ${stack.services[s].pid})`).join(', '),
              ],
              [
                'Server config',
                `${stack.configFile} (dynamic config: ${
                  opts.dynamicConfigValue ? stack.dynamicConfigFile : 'docker/dynamicconfig.yaml'
                })`,
              ],
              [
                'PostgreSQL',
                stack.postgres
                  ? `${new URL(stack.postgres.adminUrl).host} (data in ${path.join(stack.dataDir, 'postgres')})`
                  : `${new URL(stack.databaseUrl).host} (--database-url)`,
              ],
              ['App database', stack.databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')],
              ['Search attributes', SEARCH_ATTRIBUTES.map((k) => k.name).join(', ')],
              [
                'Workers',
                stack.workers.length ? stack.workers.map((w) => `${w.name} (pid ${w.pid})`).join(', ') : 'none',
              ],
              ...stack.applicationServices.map(([label, value]): [string, string] => [label, value]),
              ['Logs', `${logs}/{${logNames.join(',')}}.log`],
            ]),
            '',
            'In another terminal:',
            `  export TEMPORAL_ADDRESS=${address} DATABASE_URL=${stack.databaseUrl}`,
            `  npx jobctl enqueue invoice-generation '{"invoiceId":42}' --wait`,
            '  npx jobctl list',
            `  temporal workflow list --address ${address} --namespace ${stack.namespace}`,
            '',
            'Ctrl-C stops the workers, then the worker, frontend, matching and history services' +
              (stack.postgres ? ', then PostgreSQL.' : '.'),
            '',
          ].join('\n'),
        );
        await stopped;
        stopping = true;
        if (failed) process.stderr.write(`jobctl stack: ${failed}\n`);
        await stack.stop();
        process.stderr.write('jobctl stack: stopped.\n');
        if (failed) process.exitCode = 1;
      },
    );
}

/**
 * `jobctl install-temporal-server`: what `jobctl stack` needs, provisioned ahead of time (CI runs it as a step of its
 * own, so a cold build shows as such): the server and temporal-sql-tool, found or built with Go, and PostgreSQL.
 */
export function addInstallTemporalServerCommand(program: Command): void {
  program
    .command('install-temporal-server')
    .description(
      `find or build (Go, once per machine: minutes) the Temporal server ${TEMPORAL_SERVER_VERSION} and ` +
        'temporal-sql-tool that jobctl stack runs, find PostgreSQL, and print their paths',
    )
    .action(async () => {
      const binaries = await resolveStackBinaries();
      process.stdout.write(
        fields([
          ['temporal-server', `${binaries.server.path} (${binaries.server.source})`],
          ['temporal-sql-tool', `${binaries.sqlTool.path} (${binaries.sqlTool.source})`],
          ['PostgreSQL', lazy.postgres().findPostgresBinDir()],
        ]) + '\n',
      );
    });
}

function parseDatabaseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--database-url: not a URL: ${value}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new Error('--database-url: must be a postgres:// URL');
  return value;
}

function parseWorkerCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--workers: must be a whole number ≥ 0, got "${value}"`);
  return n;
}
