import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../src/dev-server';
import { createHarness, type Harness } from './harness';
import { spawnJobctl, type JobctlProcess } from './jobctl';
import {
  SPAN_KIND_CLIENT,
  SPAN_KIND_SERVER,
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from './otlp-receiver';

/** `service.name` of each process's spans: jobctl's defaults for the two commands. */
const HTTP_SERVICE = 'durable-jobs-http';
const WORKER_SERVICE = 'durable-jobs-worker';

/** The spans one job makes, by the process that must make them. */
const HTTP_SPANS = ['POST /jobs/process-webhook', 'StartWorkflow:processWebhookWorkflow'];
const WORKER_SPANS = [
  'RunWorkflow:processWebhookWorkflow',
  'StartActivity:processWebhook',
  'RunActivity:processWebhook',
];

/** Two jobctl processes started, a job run and both stopped: up to 150 s to start on a busy machine, then the rest. */
const PROCESSES_TIMEOUT_MS = 240_000;

/**
 * `jobctl http` and `jobctl worker` as two processes, as deployed: the request's trace context crosses from the one to
 * the other only in the workflow's header on the Temporal server, and each process exports its spans to the collector
 * (here a receiver in the test process) under its own service name.
 */
describe('one trace across the jobctl http and jobctl worker processes', () => {
  let receiver: OtlpReceiver;
  let h: Harness;
  const running: JobctlProcess[] = [];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    h = await createHarness();
  });
  afterAll(async () => {
    for (const p of running) await p.stop();
    await h?.close();
    await receiver?.close();
  });

  /** Resolves once `process` printed `line`; fails with its output if it exits first or takes longer than 150 s. */
  async function ready(process: JobctlProcess, line: string) {
    // Both processes start at once, each through tsx (the worker bundling its workflows): minutes on a busy machine.
    const deadline = Date.now() + 150_000;
    while (!process.output().includes(line)) {
      if (process.child.exitCode !== null) throw new Error(`exited before printing "${line}":\n${process.output()}`);
      if (Date.now() > deadline) throw new Error(`no "${line}" after 150 s:\n${process.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Starts both processes (the worker traced or not), POSTs a process-webhook job with a `traceparent` whose trace and
   * parent span the test chose, waits for the run to complete, and stops both processes with SIGTERM: each exports what
   * it has left before it exits, so once both exited every span they made has reached the receiver. Returns the spans
   * of the chosen trace and the ids the test sent.
   */
  async function enqueueThroughProcesses(workerTraced: boolean) {
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url };
    const common = { TEMPORAL_ADDRESS: inject('temporalAddress'), JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix };
    const port = await freePort();
    const http = spawnJobctl(['http', '--port', String(port)], { ...common, ...otel, JOBS_API_TOKENS: '' });
    const worker = spawnJobctl(['worker', '--queues', 'default:2'], {
      ...common,
      ...h.databaseEnv,
      VENDOR_API_URL: h.vendor.url,
      ...(workerTraced ? otel : { JOBS_WORKFLOW_BUNDLE: inject('workflowBundlePath') }),
    });
    running.push(http, worker);
    await Promise.all([ready(http, 'listening on'), ready(worker, 'serving')]);

    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const response = await fetch(`http://127.0.0.1:${port}/jobs/process-webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpanId}-01` },
      body: JSON.stringify({ webhookPayloadId: await h.createWebhook() }),
    });
    expect(response.status, await response.clone().text()).toBe(202);
    const { workflowId, runId } = (await response.json()) as { workflowId: string; runId: string };
    await h.env.client.workflow.getHandle(workflowId, runId).result();

    expect(await http.stop(), `jobctl http exits cleanly:\n${http.output()}`).toBe(0);
    expect(await worker.stop(), `jobctl worker exits cleanly:\n${worker.output()}`).toBe(0);
    return { spans: receiver.spans.filter((s) => s.traceId === traceId), traceId, callerSpanId, workflowId, runId };
  }

  /**
   * The job's spans in the trace, each the one of its name and from the process that must make it; throws naming
   * the spans missing from each process, with what the trace does have.
   */
  function spansByProcess(spans: ReceivedSpan[]) {
    const missing = (service: string, names: string[]) =>
      names.filter((name) => !spans.some((s) => s.name === name && s.service === service));
    const missingHttp = missing(HTTP_SERVICE, HTTP_SPANS);
    const missingWorker = missing(WORKER_SERVICE, WORKER_SPANS);
    if (missingHttp.length > 0 || missingWorker.length > 0)
      throw new Error(
        [
          missingHttp.length > 0 && `the http process (${HTTP_SERVICE}) sent no ${missingHttp.join(', ')}`,
          missingWorker.length > 0 && `the worker process (${WORKER_SERVICE}) sent no ${missingWorker.join(', ')}`,
        ]
          .filter(Boolean)
          .join('; ') +
          ` in the request's trace; it has: ${spans.map((s) => `${s.name} (${s.service})`).join(', ') || 'nothing'}`,
      );
    const one = (service: string, name: string) => {
      const found = spans.filter((s) => s.name === name && s.service === service);
      expect(found, `one ${name} span from ${service}`).toHaveLength(1);
      return found[0]!;
    };
    return {
      server: one(HTTP_SERVICE, 'POST /jobs/process-webhook'),
      start: one(HTTP_SERVICE, 'StartWorkflow:processWebhookWorkflow'),
      run: one(WORKER_SERVICE, 'RunWorkflow:processWebhookWorkflow'),
      scheduled: one(WORKER_SERVICE, 'StartActivity:processWebhook'),
      attempt: one(WORKER_SERVICE, 'RunActivity:processWebhook'),
    };
  }

  it(
    "continues the caller's trace in the http process and carries it into the worker process's spans",
    async () => {
      const { spans, callerSpanId, workflowId, runId } = await enqueueThroughProcesses(true);
      const { server, start, run, scheduled, attempt } = spansByProcess(spans);
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      const parentOf = (span: ReceivedSpan) => {
        const parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
        expect(
          parent,
          `the parent (${span.parentSpanId}) of ${span.name} (${span.service}) is in the trace`,
        ).toBeDefined();
        return parent!;
      };

      // The http process: its server span is the child of the caller's span (the traceparent), StartWorkflow below it.
      expect(server).toMatchObject({ kind: SPAN_KIND_SERVER, parentSpanId: callerSpanId });
      expect(start.attributes).toMatchObject({ temporalWorkflowId: workflowId, run_id: runId });
      let ancestor = parentOf(start);
      while (ancestor.spanId !== server.spanId) {
        expect(ancestor.service, `${ancestor.name}, between the request and StartWorkflow`).toBe(HTTP_SERVICE);
        ancestor = parentOf(ancestor);
      }

      // Across the boundary: the worker's run is the child of the http process's StartWorkflow span.
      expect(parentOf(run)).toBe(start);
      expect(run.attributes).toMatchObject({ workflowId, runId });
      expect(parentOf(scheduled)).toBe(run);
      expect(parentOf(attempt)).toBe(scheduled);
      const vendorCall = spans.filter(
        (s) => s.kind === SPAN_KIND_CLIENT && String(s.attributes['url.full']).startsWith(h.vendor.url),
      );
      expect(vendorCall.map((c) => [c.service, parentOf(c).spanId])).toEqual([[WORKER_SERVICE, attempt.spanId]]);
    },
    PROCESSES_TIMEOUT_MS,
  );

  it(
    'negative control: with tracing off in the worker, the check names the spans the worker did not send',
    async () => {
      const { spans } = await enqueueThroughProcesses(false);
      expect(spans.map((s) => s.service)).toContain(HTTP_SERVICE);
      expect(() => spansByProcess(spans)).toThrow(
        `the worker process (${WORKER_SERVICE}) sent no ${WORKER_SPANS.join(', ')} in the request's trace; it has: `,
      );
    },
    PROCESSES_TIMEOUT_MS,
  );
});
