import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { QueueAlertMessage } from '../src/worker/health-check-activities';
import { openDatabase, type OpenDatabase } from '../src/db/database';
import { freePort, startDevServer, type DevServer } from '../src/dev-server';
import { startStack, type Stack } from '../src/stack/stack';
import { taskQueueName } from '../src/sandbox/queues';
import { TASK_QUEUE_METRICS } from '../src/worker/task-queue-health';
import { healthCheck, processPayment } from './jobs';
import { capturedLogLines, createHarness, eventually, type Harness } from './harness';
import { spawnJobctl, startJobctlWorker, type JobctlProcess } from './jobctl';
import { freeStackPorts } from './stack/stack-helpers';
import { TEST_LOG_DIR } from './time-skipping-server';

/**
 * The health check's queue alerts, with real worker processes: `jobctl worker --queues critical` is stopped and started
 * again while the health check runs every PERIOD_MS, as its Schedule would with a short `every`. "No worker polling"
 * runs on a server of this test's own with a 2-second long poll (`matching.longPollExpirationInterval`, a minute by
 * default) so "no poll for NO_WORKER_AFTER" can be short too: an idle live worker polls again every long poll, so the
 * threshold must exceed it (README "Queue backlog and worker alerts"). That server is a dev server under `npm test`
 * and, under `npm run test:production`, a `jobctl stack` of its own (`dynamicConfig`, as `--dynamic-config-value`
 * gives it). The backlog alert does not depend on the long poll: it runs on the run's server.
 */
const PERIOD_MS = 8_000;
const LONG_POLL = { 'matching.longPollExpirationInterval': '2s' };
const onStack = inject('temporalServer') === 'stack';
const NO_WORKER_AFTER_MS = 6_000;
const BACKLOG_AGE_MS = 3_000;

for (const onOwnServer of [true, false])
  describe(`queue backlog and worker alerts (${onOwnServer ? `${onStack ? 'a stack' : 'a dev server'} of its own with a 2 s long poll` : "the run's server"})`, () => {
    let server: DevServer | undefined;
    let stack: Stack | undefined;
    let stackDir: string | undefined;
    let env: TestWorkflowEnvironment | undefined;
    let h: Harness;
    let receiver: http.Server;
    const received: QueueAlertMessage[] = [];
    const { logger, lines } = capturedLogLines();
    let workerEnv: NodeJS.ProcessEnv;
    let critical: JobctlProcess | undefined;
    let metricsWorker: JobctlProcess | undefined;
    let metricsPort: number;
    let checks = 0;
    let incidents: OpenDatabase;

    beforeAll(async () => {
      if (onOwnServer && onStack) {
        stackDir = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-alerts-stack-'));
        // PostgreSQL runs as the postgres user when the tests run as root: it must reach its data directory.
        fs.chmodSync(stackDir, 0o755);
        const log = path.join(TEST_LOG_DIR, 'queue-alerts-stack.log');
        stack = await startStack({
          dataDir: stackDir,
          ...(await freeStackPorts()),
          workers: 0,
          dynamicConfig: LONG_POLL,
          log: (line) => fs.appendFileSync(log, `${line}\n`),
        });
        env = await TestWorkflowEnvironment.createFromExistingServer({ address: stack.address });
      } else if (onOwnServer) {
        server = await startDevServer({
          port: 0,
          headless: true,
          logFile: path.join(TEST_LOG_DIR, 'queue-alerts-dev-server.log'),
          dynamicConfig: LONG_POLL,
        });
        env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address });
      }
      receiver = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          received.push(JSON.parse(body));
          res.end();
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      // The health check's incidents in a SQLite database of this test's own, whatever TEST_DATABASE_URL says.
      incidents = await openDatabase({
        sqlitePath: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'queue-alerts-')), 'incidents.sqlite'),
      });
      h = await createHarness({
        env,
        deps: {
          db: incidents.db,
          alertWebhookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`,
          alertLogger: logger,
          // This deployment runs workers for critical (payments) and high (the health check) only.
          queueAlerts: {
            queues: ['critical', 'high'],
            backlogAgeMs: BACKLOG_AGE_MS,
            noWorkerAfterMs: NO_WORKER_AFTER_MS,
          },
        },
      });
      await h.startWorkers(['high']); // the health check's own queue, in this process
      workerEnv = {
        TEMPORAL_ADDRESS: stack?.address ?? server?.address ?? inject('temporalAddress'),
        JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix,
        ...h.databaseEnv,
        JOBS_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
        PAYMENT_GATEWAY_URL: h.gateway.url,
        JOBS_ALERT_NO_WORKER_AFTER: `${NO_WORKER_AFTER_MS}ms`,
        JOBS_QUEUE_METRICS_INTERVAL: '500ms',
      };
      // A worker process serving metrics (on the low queue, which no alert here watches): its /metrics has every
      // declared queue's gauges.
      metricsPort = await freePort();
      metricsWorker = spawnJobctl(['worker', '--queues', 'low:1', '--metrics-port', String(metricsPort)], workerEnv);
    }, 120_000);

    afterAll(async () => {
      await critical?.stop();
      await metricsWorker?.stop();
      await h?.close();
      await incidents?.close();
      receiver?.close();
      await env?.teardown();
      await server?.stop();
      if (stack) {
        const logs = path.join(TEST_LOG_DIR, 'queue-alerts-stack');
        fs.rmSync(logs, { recursive: true, force: true });
        await stack.stop().finally(() => fs.cpSync(stack!.logDir, logs, { recursive: true }));
      }
      if (stackDir) fs.rmSync(stackDir, { recursive: true, force: true });
    });

    const criticalQueue = () => taskQueueName(h.taskQueuePrefix, 'critical');
    const rateQueue = () => `${h.taskQueuePrefix}-rate-chargePayment`;

    /** One health check now, as the Schedule would start it. */
    const check = () =>
      h.env.client.workflow.execute(healthCheck.workflowType, {
        workflowId: `health-check/${h.taskQueuePrefix}/${++checks}`,
        taskQueue: taskQueueName(h.taskQueuePrefix, healthCheck.queue),
        args: [{ windowMinutes: 10 }],
      }) as Promise<{ fired: string[]; recovered: string[] }>;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    /** A series' value on the metrics worker's /metrics, by its labels; undefined while absent. */
    async function gauge(name: string, taskQueue: string, type: 'workflow' | 'activity') {
      const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith(`${name}{`) &&
            l.includes(`task_queue="${taskQueue}"`) &&
            l.includes(`task_queue_type="${type}"`),
        );
      return line === undefined ? undefined : Number(line.split(' ').pop());
    }

    if (onOwnServer)
      it('a queue whose worker stops raises "no worker polling" within two check periods, and recovers when one returns', async () => {
        critical = await startJobctlWorker('critical:2', workerEnv);
        // Idle, live workers across several long polls: nothing fires.
        expect(await check()).toEqual({ fired: [], recovered: [] });
        await sleep(PERIOD_MS);
        expect(await check()).toEqual({ fired: [], recovered: [] });
        expect(received).toEqual([]);
        expect(await eventually(async () => gauge(TASK_QUEUE_METRICS.pollers, criticalQueue(), 'workflow'))).toBe(1);
        expect(await gauge(TASK_QUEUE_METRICS.pollers, rateQueue(), 'activity')).toBe(1);

        await critical.stop();
        critical = undefined;
        const fired: string[] = [];
        for (let period = 1; period <= 2; period++) {
          await sleep(PERIOD_MS);
          fired.push(...(await check()).fired);
        }
        // The payment queue and its rate-limited activity queue, both served by the stopped process only.
        expect(fired.sort()).toEqual([`no worker polling ${criticalQueue()}`, `no worker polling ${rateQueue()}`]);
        expect(received.map((m) => [m.kind, m.alert, m.taskQueue]).sort()).toEqual([
          ['alert', 'no_worker', criticalQueue()],
          ['alert', 'no_worker', rateQueue()],
        ]);
        expect(received.find((m) => m.taskQueue === criticalQueue())).toMatchObject({
          jobs: ['process-payment'],
          thresholdSeconds: NO_WORKER_AFTER_MS / 1000,
          text: expect.stringMatching(
            new RegExp(`^no worker polling ${criticalQueue()} \\(process-payment\\): last poll`),
          ),
        });
        expect(lines.filter((l) => l.event === 'alert_fired')).toHaveLength(2);
        expect(await gauge(TASK_QUEUE_METRICS.pollers, criticalQueue(), 'workflow')).toBe(0);

        // Still no worker: the same incidents, no second alert.
        expect(await check()).toEqual({ fired: [], recovered: [] });
        expect(received).toHaveLength(2);

        critical = await startJobctlWorker('critical:2', workerEnv);
        await sleep(PERIOD_MS);
        const back = await check();
        expect(back.fired).toEqual([]);
        expect(back.recovered.sort()).toEqual([
          `no worker polling ${criticalQueue()}`,
          `no worker polling ${rateQueue()}`,
        ]);
        expect(received.slice(2).map((m) => [m.kind, m.taskQueue, m.text])).toEqual(
          expect.arrayContaining([
            ['recovered', criticalQueue(), `${criticalQueue()} recovered: a worker polls it again`],
            ['recovered', rateQueue(), `${rateQueue()} recovered: a worker polls it again`],
          ]),
        );
        expect(received).toHaveLength(4);
        expect(lines.filter((l) => l.event === 'alert_recovered')).toHaveLength(2);
        expect(await check()).toEqual({ fired: [], recovered: [] });
      }, 180_000);

    if (!onOwnServer)
      it('a job waiting on a queue without workers shows as backlog count and age, and alerts once it is old', async () => {
        await critical?.stop();
        critical = undefined;
        received.length = 0;
        const paymentId = await h.createPayment();
        const run = await h.client.enqueue(processPayment, { paymentId });

        // The gauges: the workflow task waits in the critical queue's backlog, and grows older.
        expect(
          await eventually(
            async () => {
              const n = await gauge(TASK_QUEUE_METRICS.backlog, criticalQueue(), 'workflow');
              return n !== undefined && n > 0 ? n : undefined;
            },
            30_000,
            'a backlog on the critical queue',
          ),
        ).toBe(1);
        await eventually(
          async () => {
            const age = await gauge(TASK_QUEUE_METRICS.backlogAge, criticalQueue(), 'workflow');
            return age !== undefined && age * 1000 > BACKLOG_AGE_MS ? age : undefined;
          },
          30_000,
          'the backlog age gauge past the threshold',
        );

        const fired = (await check()).fired;
        expect(fired).toContain(`backlog of ${criticalQueue()} older than 3 s`);
        const alert = received.find((m) => m.alert === 'backlog_age');
        expect(alert).toMatchObject({ kind: 'alert', taskQueue: criticalQueue(), backlog: 1, thresholdSeconds: 3 });
        expect(alert!.backlogAgeSeconds).toBeGreaterThan(3);

        // A worker returns and takes the task: the backlog drains, and the alert recovers.
        critical = await startJobctlWorker('critical:2', workerEnv);
        await h.env.client.workflow.getHandle(run.workflowId).result();
        await eventually(
          async () => ((await gauge(TASK_QUEUE_METRICS.backlog, criticalQueue(), 'workflow')) === 0 ? true : undefined),
          30_000,
          'the backlog gauge back to 0',
        );
        const back = await check();
        expect(back.recovered).toContain(`backlog of ${criticalQueue()} older than 3 s`);
        expect(received.filter((m) => m.alert === 'backlog_age').map((m) => m.kind)).toEqual(['alert', 'recovered']);
      }, 120_000);
  });
