import { DEFAULT_SETTINGS, readSettings } from '../config';
import { startDevServer } from '../dev-server';
import { codecEndpointOptions } from '../http/codec';
import { buildHttpService } from '../http/server';
import { httpAccess, listenUrl } from '../http/tokens';
import { describeJobSchedule, syncSchedules } from '../client/schedules';
import { jobs } from '../sandbox/jobs';
import { loadApplication } from '../application';
import { parseQueueSpec } from '../worker/workers';
import { startWorkerProcess } from '../worker/worker-process';
import { promoteWhenPolling } from '../client/deployments';
import { createJobLogger, type LogFormat } from '../instrumentation/logger';
import { fields } from './output';

/**
 * `jobctl dev` (`npm start`): a dev server with the Web UI, a worker on every queue, the HTTP service, local fakes of
 * the vendor API and payment gateway, demo data and the jobs' Schedules (synced on start), in one process.
 */
export interface DevOptions {
  port: number;
  uiPort: number;
  dbFilename: string;
  httpPort: number;
  /** Interface of the server, the Web UI and the HTTP service. @default '127.0.0.1' */
  host: string;
  insecureNoAuth?: boolean;
  /** @default 'pretty' when stdout is a terminal, else 'json' */
  logFormat?: LogFormat;
}

export async function runDev(opts: DevOptions): Promise<void> {
  const env = readSettings();
  // Refused before anything starts: an open HTTP service beyond this machine must be asked for.
  const access = httpAccess(env.apiTokens, opts.host, opts.insecureNoAuth);
  const codec = codecEndpointOptions({ ...env, temporalUiUrl: `http://localhost:${opts.uiPort}` });
  const uiCodecEndpoint = codec ? `http://localhost:${opts.httpPort}/codec/${codec.token}` : undefined;
  const server = await startDevServer({
    port: opts.port,
    uiPort: opts.uiPort,
    dbFilename: opts.dbFilename,
    ip: opts.host,
    uiCodecEndpoint,
    ownProcessGroup: true,
  });
  const stopServer = () => void server.stop();
  // The Temporal runtime drains the workers on the first SIGINT/SIGTERM; a second one (a wrapper such as npm or tsx
  // relays the same Ctrl-C) must not kill this process before it stops the server, so count and only force on a third.
  let signals = 0;
  const onSignal = () => {
    if (++signals < 3) return;
    server.process?.kill('SIGKILL');
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.once('exit', () => server.process?.kill('SIGTERM'));
  const application = loadApplication();
  const services = await application.dev?.({ anyPort: false });
  // The application's workers run in this process: its services read where the fakes are from the environment.
  Object.assign(process.env, services?.env);
  const settings = {
    ...env,
    temporalAddress: `${connectHost(opts.host)}:${opts.port}`,
    temporalUiUrl: server.uiUrl ?? DEFAULT_SETTINGS.temporalUiUrl,
  };
  // People read this log as it scrolls: one short line per job event on a terminal; JSON when piped to a file.
  const logger = createJobLogger({
    level: process.env.JOBS_LOG_LEVEL === undefined ? 'info' : settings.logLevel,
    format: opts.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json'),
    colorize: Boolean(process.stdout.isTTY),
  });
  const worker = await startWorkerProcess({ application, settings, queues: parseQueueSpec(undefined), logger });
  const http = buildHttpService(worker.client, { codec, tokens: access.tokens, rateLimit: settings.apiRateLimit });
  try {
    await http.listen({ port: opts.httpPort, host: opts.host });
    const seeded = await application.seed?.(worker.app.database.db);
    // The one deployment `dev` is: it syncs the declared schedules itself (README "Recurring jobs").
    const synced = await syncSchedules(worker.client);
    const changes = (['created', 'updated', 'deleted'] as const)
      .filter((kind) => synced[kind].length > 0)
      .map((kind) => `${synced[kind].length} ${kind}`);
    process.stderr.write(
      [
        '',
        'durable-jobs is running:',
        fields([
          ['Temporal server', `${server.address} (state in ${opts.dbFilename})`],
          ['Web UI', server.uiUrl],
          ['Worker', worker.served],
          ...(worker.version
            ? [
                ['Version', `${worker.version.deploymentName}:${worker.version.buildId} (Worker Versioning on)`] as [
                  string,
                  string,
                ],
              ]
            : []),
          ['Database', `${worker.app.database.location}${seeded ? ` (seeded ${seeded})` : ''}`],
          ...(services?.banner ?? []).map(([label, value]): [string, string] => [label, value]),
          [
            'Schedules',
            `${
              jobs
                .filter((j) => j.schedule)
                .map((j) => `${j.name} ${describeJobSchedule(j.schedule!)}`)
                .join(', ') || 'none declared'
            } (synced: ${changes.join(', ') || 'unchanged'}; jobctl schedules list)`,
          ],
          ['Alerts', `failure-rate alerts to ${settings.alertWebhookUrl ?? 'the log'}`],
          [
            'HTTP service',
            `${listenUrl(opts.host, opts.httpPort)} (POST /jobs/<name>, GET /jobs/<workflowId>); ${access.summary}`,
          ],
          [
            'Payloads',
            settings.encryption
              ? `encrypted with key "${settings.encryption.active.id}"; ` +
                (codec
                  ? 'the Web UI decrypts them through /codec'
                  : 'set JOBS_CODEC_TOKEN for the Web UI to decrypt them')
              : 'plain JSON (set JOBS_ENCRYPTION_KEYS to encrypt them)',
          ],
        ]),
        '',
        'In another terminal, try:',
        ...(
          services?.examples ?? [
            `npx jobctl enqueue ${jobs.find((j) => j.enqueueOverHttp !== false)?.name ?? '<job>'} '{…}'`,
          ]
        ).map((line) => `  ${line}`),
        '  npx jobctl list',
        '  npx jobctl dead',
        '',
        'Ctrl-C stops everything.',
        '',
        ...(access.warning ? [access.warning, ''] : []),
      ].join('\n'),
    );
    const running = worker.run();
    if (worker.version) {
      // The one deployment `dev` is: its version becomes current once its workers poll (README "Shipping changed
      // job code"), so runs do not wait for `jobctl deploy set-current`.
      const { deploymentName, buildId } = worker.version;
      promoteWhenPolling(worker.client.temporal, deploymentName, buildId, { timeoutMs: 60_000 }).then(
        ({ alreadyCurrent }) =>
          !alreadyCurrent && process.stderr.write(`Version ${deploymentName}:${buildId} is current.\n`),
        (err: Error) => process.stderr.write(`Could not make this version current: ${err.message}\n`),
      );
    }
    await running;
  } finally {
    await http.close();
    await worker.close();
    await services?.stop();
    stopServer();
  }
}

/** Where this process reaches a server listening on `host`: a wildcard address is reached on loopback. */
function connectHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
