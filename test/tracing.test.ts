import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Worker } from '@temporalio/worker';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildHttpService } from '../src/http/server';
import {
  activeTracing,
  activityTracingInterceptors,
  bundleHasTracing,
  clientTracingInterceptors,
  httpTracingPlugin,
  startTracing,
  startWorkflowStartSpan,
  stopTracing,
  tracingConfig,
  type Tracing,
} from '../src/instrumentation/tracing';
import { jobEventSinks } from '../src/worker/worker-instrumentation';
import { bundleWorkflows } from '../src/worker/workers';
import { TEST_WORKFLOWS } from './jobs/app';
import { createHarness, eventually, type Harness } from './harness';
import {
  SPAN_KIND_CLIENT,
  SPAN_KIND_SERVER,
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from './otlp-receiver';

describe('tracing configuration (OTEL_* variables)', () => {
  it('is off unless an exporter or an OTLP endpoint is configured, or when disabled', () => {
    expect(tracingConfig({}, 'x')).toBeUndefined();
    expect(tracingConfig({ OTEL_SERVICE_NAME: 'svc' }, 'x')).toBeUndefined();
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }, 'x')).toBe(
      undefined,
    );
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }, 'x')).toBe(
      undefined,
    );
  });

  it('reads the endpoint, service name and resource attributes the standard way', () => {
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, 'durable-jobs-worker')).toEqual({
      exporters: ['otlp'],
      endpoint: 'http://collector:4318/v1/traces',
      serviceName: 'durable-jobs-worker',
      resourceAttributes: {},
    });
    expect(
      tracingConfig(
        {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://tempo.example/otlp/v1/traces',
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
          OTEL_SERVICE_NAME: 'billing-jobs',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=pay%20ments',
        },
        'x',
      ),
    ).toMatchObject({
      endpoint: 'https://tempo.example/otlp/v1/traces',
      serviceName: 'billing-jobs',
      resourceAttributes: { 'deployment.environment': 'prod', team: 'pay ments' },
    });
    expect(tracingConfig({ OTEL_TRACES_EXPORTER: 'otlp' }, 'x')?.endpoint).toBe('http://localhost:4318/v1/traces');
    expect(tracingConfig({ OTEL_TRACES_EXPORTER: 'console' }, 'x')?.exporters).toEqual(['console']);
  });

  it('refuses what it cannot honour, naming the variable', () => {
    expect(() => tracingConfig({ OTEL_TRACES_EXPORTER: 'zipkin' }, 'x')).toThrow(/^OTEL_TRACES_EXPORTER: "zipkin"/);
    expect(() =>
      tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'x'),
    ).toThrow(/^OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported.*http\/json/);
    expect(() => tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'x')).toThrow(
      /^OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" must be an http/,
    );
    expect(() => tracingConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }, 'x')).toThrow(
      /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "not a url" is not a URL/,
    );
  });

  it('installs nothing while off', () => {
    expect(activeTracing()).toBeUndefined();
    expect(startTracing({ env: {} })).toBeUndefined();
    expect(activityTracingInterceptors()).toEqual([]);
    expect(clientTracingInterceptors()).toEqual([]);
    expect(httpTracingPlugin((u) => u)).toBeUndefined();
    expect(startWorkflowStartSpan('noopWorkflow', 'noop/1')).toBeUndefined();
  });
});

describe('one trace from the HTTP request to the vendor call', () => {
  let receiver: OtlpReceiver;
  let tracing: Tracing;
  let h: Harness;
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    tracing = startTracing({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'durable-jobs-test' },
    })!;
    expect(tracing).toBeDefined();
    // The workers refuse a bundle without the tracing interceptors while tracing is on.
    h = await createHarness({
      workflowBundle: await bundleWorkflows({ workflowsPath: TEST_WORKFLOWS, tracing: true }),
    });
    await h.startWorkers();
    app = buildHttpService(h.client);
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
    await stopTracing();
    await receiver?.close();
  });

  it('POST /jobs/process-webhook → StartWorkflow → RunWorkflow → each activity attempt → the vendor call', async () => {
    const webhookPayloadId = await h.createWebhook();
    // The first attempt is rate limited (Retry-After: 1 s), the second succeeds: two attempts, two vendor calls.
    h.vendor.script(`webhook-payload/${webhookPayloadId}`, [{ kind: 'rate_limit', retryAfterSeconds: 1 }, 'ok']);
    const response = await fetch(`${base}/jobs/process-webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ webhookPayloadId }),
    });
    expect(response.status).toBe(202);
    const { workflowId, runId, statusUrl } = (await response.json()) as {
      workflowId: string;
      runId: string;
      statusUrl: string;
    };
    await eventually(async () => {
      const status = (await (await fetch(`${base}${statusUrl}`)).json()) as { status: string };
      return status.status === 'Completed' ? true : undefined;
    });
    expect(h.vendor.requests.get(`webhook-payload/${webhookPayloadId}`)).toBe(2);

    // The request's server span, found by the run it started; then everything of its trace.
    const server = await eventually(
      async () => {
        await tracing.forceFlush();
        return receiver.spans.find(
          (s) =>
            s.kind === SPAN_KIND_SERVER &&
            s.name === 'POST /jobs/process-webhook' &&
            s.attributes['url.path'] === '/jobs/process-webhook',
        );
      },
      20_000,
      "the HTTP request's server span",
    );
    const traceSpans = () => receiver.spans.filter((s) => s.traceId === server.traceId);
    const named = (name: string) => traceSpans().filter((s) => s.name === name);
    // Workflow spans reach the exporter through the worker's sink once the run's last workflow task is done.
    await eventually(
      async () => {
        await tracing.forceFlush();
        return named('RunWorkflow:processWebhookWorkflow').length === 1 &&
          named('RunActivity:processWebhook').length === 2 &&
          traceSpans().filter(
            (s) => s.kind === SPAN_KIND_CLIENT && String(s.attributes['url.full']).startsWith(h.vendor.url),
          ).length === 2
          ? true
          : undefined;
      },
      20_000,
      "the run's, both attempts' and both vendor calls' spans in the request's trace",
    );

    const byId = new Map(traceSpans().map((s) => [s.spanId, s]));
    const parentOf = (span: ReceivedSpan) => {
      const parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
      expect(parent, `the parent of ${span.name} is in the trace`).toBeDefined();
      return parent!;
    };
    /** The span's ancestors' names, nearest first, up to (and with) the request's server span. */
    const pathToServer = (span: ReceivedSpan): string[] => {
      const names: string[] = [];
      for (let current = span; current.spanId !== server.spanId;) {
        current = parentOf(current);
        names.push(current.name);
      }
      return names;
    };

    const [start] = named('StartWorkflow:processWebhookWorkflow');
    expect(start).toMatchObject({
      service: 'durable-jobs-test',
      attributes: { temporalWorkflowId: workflowId, run_id: runId },
    });
    expect(pathToServer(start!).at(-1)).toBe('POST /jobs/process-webhook'); // below the request (through its handler span)

    const [run] = named('RunWorkflow:processWebhookWorkflow');
    expect(parentOf(run!).spanId).toBe(start!.spanId);
    expect(run!.attributes).toMatchObject({ workflowId, runId });

    const scheduled = named('StartActivity:processWebhook');
    expect(scheduled).toHaveLength(1);
    expect(parentOf(scheduled[0]!).spanId).toBe(run!.spanId);

    const attempts = named('RunActivity:processWebhook').sort(
      (a, b) => Number(a.attributes.temporalActivityAttempt) - Number(b.attributes.temporalActivityAttempt),
    );
    expect(attempts.map((a) => a.attributes.temporalActivityAttempt)).toEqual([1, 2]);
    for (const attempt of attempts) expect(parentOf(attempt).spanId).toBe(scheduled[0]!.spanId);
    expect(attempts.map((a) => a.status?.code)).toEqual([2, 1]); // the rate-limited attempt failed, the retry did not

    const vendorCalls = traceSpans().filter(
      (s) => s.kind === SPAN_KIND_CLIENT && String(s.attributes['url.full']).startsWith(h.vendor.url),
    );
    expect(vendorCalls.map((c) => c.attributes['url.full'])).toEqual([
      `${h.vendor.url}/v1/process`,
      `${h.vendor.url}/v1/process`,
    ]);
    expect(vendorCalls.map((c) => c.attributes['http.response.status_code']).sort()).toEqual([200, 429]);
    expect(vendorCalls.map((c) => parentOf(c).spanId).sort()).toEqual(attempts.map((a) => a.spanId).sort());

    // Every span of the job walks up to the request's server span: one trace, each span with its parent.
    for (const span of [start!, run!, ...scheduled, ...attempts, ...vendorCalls])
      expect(pathToServer(span).at(-1)).toBe('POST /jobs/process-webhook');
    expect(pathToServer(vendorCalls[0]!)).toEqual([
      expect.stringMatching(/^RunActivity:processWebhook$/),
      'StartActivity:processWebhook',
      'RunWorkflow:processWebhookWorkflow',
      'StartWorkflow:processWebhookWorkflow',
      ...pathToServer(start!),
    ]);

    // The traced run's history replays on workers without tracing too: tracing added no commands.
    const history = await h.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const untraced = { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') };
    expect(bundleHasTracing(untraced)).toBe(false);
    await Worker.runReplayHistory(
      { workflowBundle: untraced, sinks: jobEventSinks(pino({ level: 'silent' })) },
      history,
    );
  });
});
