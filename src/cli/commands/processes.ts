import { Command, Option } from 'commander';
import type { DevOptions } from '../dev';
import { LOG_FORMATS } from '../../instrumentation/log-format';
import type { FaultKind } from '../../testing/fake-vendor';
import { DEFAULT_CONCURRENCY, parseQueueSpec } from '../../worker/queue-spec';
import { lazy } from '../lazy';
import { parseFraction, parsePort, parsePositiveInt } from '../parsers';
import { untilSignal } from '../signals';

/** Long-running processes: worker, server, dev, fake-vendor, http. */
export function addProcessCommands(program: Command): void {
  program
    .command('worker')
    .description(
      'run a worker process for some or all priority queues, and for the rate-limited activity queues of the jobs on ' +
        'them (<prefix>-rate-<activity>, at the declared rate or JOBS_RATE_LIMITS)',
    )
    .option('--queues <queues...>', 'queues to serve, each optionally with its concurrency: critical:5,default:3,low:1')
    .option('--concurrency <n>', 'concurrency for queues listed without one', parsePositiveInt, DEFAULT_CONCURRENCY)
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics (SDK, job and task-queue series) on this port at /metrics',
      parsePort,
    )
    .action(async (opts: { queues?: string[]; concurrency: number; metricsPort?: number }) => {
      const queues = parseQueueSpec(opts.queues, opts.concurrency);
      const settings = lazy.config().readSettings();
      const { createJobLogger } = lazy.logger();
      const { startWorkerProcess } = lazy.workerProcess();
      const logger = createJobLogger({ level: process.env.JOBS_LOG_LEVEL === undefined ? 'info' : settings.logLevel });
      // Waits for the server (with backoff) before anything else, so a worker can start before its server.
      const worker = await startWorkerProcess({ settings, queues, logger, metricsPort: opts.metricsPort });
      try {
        const encryption = settings.encryption
          ? `; payloads encrypted with key "${settings.encryption.active.id}"`
          : '';
        const bundled = settings.workflowBundlePath ? `; workflows from ${settings.workflowBundlePath}` : '';
        const metrics = opts.metricsPort ? `; metrics on :${opts.metricsPort}/metrics` : '';
        const version = worker.version
          ? ` as version ${worker.version.deploymentName}:${worker.version.buildId}`
          : ' unversioned';
        process.stderr.write(
          `jobctl worker: serving ${worker.served}${version} on ${settings.temporalAddress}; ` +
            `database ${worker.app.database.location}` +
            `${bundled}${encryption}${metrics}. Ctrl-C drains and stops.\n`,
        );
        await worker.run();
      } finally {
        await worker.close();
      }
    });

  withDevServerOptions(
    program
      .command('server')
      .description('run a local Temporal dev server with the Web UI; state persists in a SQLite file'),
  )
    .option('--headless', 'no Web UI')
    .option(
      '--ui-codec-endpoint <url>',
      'codec endpoint the Web UI decrypts payloads with, e.g. http://localhost:3000/codec/<JOBS_CODEC_TOKEN>',
    )
    .action(
      async (opts: {
        port: number;
        uiPort: number;
        dbFilename: string;
        host: string;
        headless?: boolean;
        uiCodecEndpoint?: string;
      }) => {
        const server = await lazy.devServer().startDevServer({
          port: opts.port,
          uiPort: opts.uiPort,
          dbFilename: opts.dbFilename,
          headless: opts.headless,
          ip: opts.host,
          uiCodecEndpoint: opts.uiCodecEndpoint,
        });
        process.stderr.write(
          `Temporal dev server listening on ${server.address} (state in ${opts.dbFilename})` +
            (server.uiUrl ? `; Web UI at ${server.uiUrl}` : '') +
            '. Ctrl-C stops it.\n',
        );
        await untilSignal();
        await server.stop();
      },
    );

  withDevServerOptions(
    program.command('dev').description('server + worker + demo data in one process, for trying things out (npm start)'),
  )
    .option(
      '--http-port <port>',
      'HTTP service (POST /jobs/<name>; /codec when payloads are encrypted)',
      parsePort,
      3000,
    )
    .option('--insecure-no-auth', 'with --host beyond loopback: serve the HTTP service without API tokens')
    .addOption(
      new Option(
        '--log-format <format>',
        'job events as one short coloured line each (pretty) or JSON lines (json) [default: pretty on a terminal]',
      ).choices(LOG_FORMATS),
    )
    .action((opts: DevOptions) => lazy.dev().runDev(opts));

  program
    .command('fake-vendor')
    .description('run the local fake of the webhook vendor API, optionally failing at random')
    .option('--port <port>', 'port', parsePort, 4010)
    .option(
      '--fault-rate <fraction>',
      'share of requests that fail (timeouts, 429, 4xx, 5xx, resets)',
      parseFraction,
      0,
    )
    .option('--seed <n>', 'seed of the random faults', parsePositiveInt, 1)
    .option(
      '--path <path>',
      'the route that applies requests: /v1/process (vendor) or /v1/charges (payment gateway)',
      '/v1/process',
    )
    .action(async (opts: { port: number; faultRate: number; seed: number; path: string }) => {
      const vendor = new (lazy.fakeVendor().FakeVendor)({ path: opts.path });
      const url = await vendor.start(opts.port, '0.0.0.0');
      if (opts.faultRate > 0) {
        const each = opts.faultRate / 5;
        const weights: Partial<Record<FaultKind, number>> = {
          ok: 1 - opts.faultRate,
          timeout: each,
          rate_limit: each,
          client_error: each,
          server_error: each,
          reset: each,
        };
        vendor.randomFaults({ seed: opts.seed, weights });
      }
      process.stderr.write(
        `Fake vendor API on ${url.replace('127.0.0.1', 'localhost')} ` +
          `(fault rate ${opts.faultRate}). Ctrl-C stops it.\n`,
      );
      await untilSignal();
      await vendor.stop();
    });

  program
    .command('http')
    .description(
      'run the HTTP service: POST /jobs/<name> enqueues, GET /jobs/<workflowId> reports, ' +
        'DELETE /jobs/<workflowId> cancels',
    )
    .option('--port <port>', 'port', parsePort, 3000)
    .option('--host <host>', 'interface to listen on; beyond loopback it needs JOBS_API_TOKENS', '127.0.0.1')
    .option('--insecure-no-auth', 'serve beyond loopback without API tokens (anyone who reaches it can enqueue)')
    .action(async (opts: { port: number; host: string; insecureNoAuth?: boolean }) => {
      const settings = lazy.config().readSettings();
      const { httpAccess, listenUrl } = lazy.httpTokens();
      const access = httpAccess(settings.apiTokens, opts.host, opts.insecureNoAuth);
      const client = await lazy.client().JobClient.connect(settings);
      const codec = lazy.httpCodec().codecEndpointOptions(settings);
      if (settings.encryption && !codec)
        process.stderr.write(
          'jobctl http: payloads are encrypted but JOBS_CODEC_TOKEN is not set, ' +
            "so /codec (the Web UI's decoder) is off.\n",
        );
      const app = lazy.httpServer().buildHttpService(client, {
        logger: true,
        codec,
        tokens: access.tokens,
        rateLimit: settings.apiRateLimit,
      });
      await app.listen({ port: opts.port, host: opts.host });
      if (access.warning) process.stderr.write(`jobctl http: ${access.warning}\n`);
      process.stderr.write(`jobctl http: listening on ${listenUrl(opts.host, opts.port)}; ${access.summary}.\n`);
      await untilSignal();
      await app.close();
      await client.close();
    });
}

/** Where a dev server listens and keeps its state: `jobctl server` and `jobctl dev` alike. */
function withDevServerOptions(command: Command): Command {
  return command
    .option('--port <port>', 'gRPC port', parsePort, 7233)
    .option('--ui-port <port>', 'Web UI port', parsePort, 8233)
    .option('--db-filename <file>', 'SQLite file for the server state', '.data/temporal.sqlite')
    .option(
      '--host <ip>',
      'interface the server, the Web UI (and the HTTP service of dev) listen on: 0.0.0.0 opens them to the network',
      '127.0.0.1',
    );
}
