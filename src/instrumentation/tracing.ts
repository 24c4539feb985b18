import type { Span } from '@opentelemetry/api';
import type { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ActivityInterceptorsFactory, InjectedSinks, WorkflowBundle } from '@temporalio/worker';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';

/* eslint-disable @typescript-eslint/no-require-imports -- see otel() */
/**
 * The OpenTelemetry API, SDK and instrumentations and the Temporal interceptors, loaded by `startTracing` when the
 * environment turns tracing on (and used below only while it is on): a process that does not trace never loads them,
 * which spares every jobctl command and every client ~150 ms of start-up.
 */
function otel() {
  return {
    ...(require('@opentelemetry/api') as typeof import('@opentelemetry/api')),
    ...(require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http')),
    ...(require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici')),
    ...(require('@opentelemetry/resources') as typeof import('@opentelemetry/resources')),
    ...(require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base')),
    ...(require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node')),
    ...(require('@fastify/otel') as typeof import('@fastify/otel')),
    ...(require('@temporalio/interceptors-opentelemetry') as typeof import('@temporalio/interceptors-opentelemetry')),
  };
}
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * OpenTelemetry traces (README "Traces"), set up once per process by `startTracing` from the standard `OTEL_*`
 * variables, and off — nothing installed, no interceptor, no span — when they configure no exporter. One trace goes
 * from the HTTP request (`@fastify/otel`) through the client's StartWorkflow, the workflow run and each activity
 * attempt (`@temporalio/interceptors-opentelemetry`) to the HTTP calls the activities make (`fetch`, through
 * `@opentelemetry/instrumentation-undici`). Spans are exported as OTLP over HTTP with JSON bodies (http/json).
 *
 * The SDK is the 1.x line on purpose: the Temporal interceptors (1.24.0) serialize workflow spans in that line's
 * shape, and an exporter of the 2.x line would drop their parents.
 */

/** What the environment asks for. */
export interface TracingConfig {
  /** `otlp` (OTLP/HTTP, JSON bodies) or `console` (spans printed on stdout, for a look without a backend). */
  exporters: Array<'otlp' | 'console'>;
  /** Where OTLP spans go: the traces endpoint itself (`…/v1/traces`). */
  endpoint: string;
  /** `service.name` of the spans: `OTEL_SERVICE_NAME`, else the process's default. */
  serviceName: string;
  /** Further resource attributes (`OTEL_RESOURCE_ATTRIBUTES`). */
  resourceAttributes: Record<string, string>;
}

/** The collector's OTLP/HTTP port on this machine: the specification's default endpoint. */
export const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318';

/**
 * Reads the OTel variables: tracing is on when `OTEL_TRACES_EXPORTER` names `otlp` or `console`, or, with it unset,
 * when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; `OTEL_TRACES_EXPORTER=none` or
 * `OTEL_SDK_DISABLED=true` turns it off. Returns undefined when off. Throws a TypeError naming the variable for a value
 * it cannot honour (an unknown exporter, the grpc protocol, an endpoint that is no http(s) URL).
 */
export function tracingConfig(env: NodeJS.ProcessEnv, defaultServiceName: string): TracingConfig | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const tracesEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const baseEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const named = nonEmpty(env.OTEL_TRACES_EXPORTER)
    ?.split(',')
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  const exporters: TracingConfig['exporters'] = [];
  for (const exporter of named ?? (tracesEndpoint || baseEndpoint ? ['otlp'] : [])) {
    if (exporter === 'none') return undefined;
    if (exporter !== 'otlp' && exporter !== 'console')
      throw new TypeError(`OTEL_TRACES_EXPORTER: "${exporter}" is not supported; use otlp, console or none`);
    if (!exporters.includes(exporter)) exporters.push(exporter);
  }
  if (exporters.length === 0) return undefined;
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'] as const) {
    const protocol = nonEmpty(env[name])?.toLowerCase();
    // OTLP/HTTP receivers take JSON and protobuf bodies on the same endpoint; gRPC is another port and protocol.
    if (protocol !== undefined && protocol !== 'http/json' && protocol !== 'http/protobuf')
      throw new TypeError(
        `${name}: "${env[name]}" is not supported; durable-jobs exports OTLP over HTTP with JSON bodies ` +
          "(http/json), to the collector's OTLP/HTTP port (4318)",
      );
  }
  const endpoint = tracesEndpoint
    ? checkedUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint)
    : `${checkedUrl('OTEL_EXPORTER_OTLP_ENDPOINT', baseEndpoint ?? DEFAULT_OTLP_ENDPOINT).replace(/\/+$/, '')}/v1/traces`;
  return {
    exporters,
    endpoint,
    serviceName: nonEmpty(env.OTEL_SERVICE_NAME) ?? defaultServiceName,
    resourceAttributes: parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES),
  };
}

/** A process's tracing, once started. */
export interface Tracing {
  readonly config: TracingConfig;
  readonly provider: NodeTracerProvider;
  /** The resource every span of the process carries, workflow spans included. */
  readonly resource: Resource;
  /** Exports what ended so far; resolves once it was sent (or failed to be). */
  forceFlush(): Promise<void>;
}

interface ActiveTracing extends Tracing {
  processor: SpanProcessor;
  undici: UndiciInstrumentation;
}

let active: ActiveTracing | undefined;

/**
 * Starts tracing for this process when the environment asks for it (see `tracingConfig`), and returns it; undefined
 * when off. Registers the global tracer provider (W3C trace context propagation, AsyncLocalStorage context) and the
 * fetch instrumentation. A second call returns the first call's tracing. Throws a TypeError naming a bad variable.
 */
export function startTracing(
  options: {
    /** @default process.env */
    env?: NodeJS.ProcessEnv;
    /** `service.name` unless `OTEL_SERVICE_NAME` says otherwise. @default 'durable-jobs' */
    serviceName?: string;
  } = {},
): Tracing | undefined {
  if (active) return active;
  const config = tracingConfig(options.env ?? process.env, options.serviceName ?? 'durable-jobs');
  if (!config) return undefined;
  const {
    BatchSpanProcessor,
    ConsoleSpanExporter,
    NodeTracerProvider,
    OTLPTraceExporter,
    Resource,
    SimpleSpanProcessor,
    UndiciInstrumentation,
  } = otel();
  const resource = Resource.default().merge(
    new Resource({ ...config.resourceAttributes, 'service.name': config.serviceName }),
  );
  const processors: SpanProcessor[] = config.exporters.map((exporter) =>
    exporter === 'otlp'
      ? new BatchSpanProcessor(new OTLPTraceExporter({ url: config.endpoint }))
      : new SimpleSpanProcessor(new ConsoleSpanExporter()),
  );
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  const undici = new UndiciInstrumentation();
  undici.setTracerProvider(provider);
  undici.enable();
  // Workflow spans arrive through the worker's sink, after their workflow task: they go to the same exporters.
  const processor: SpanProcessor = {
    onStart: () => {},
    onEnd: (span) => processors.forEach((p) => p.onEnd(span)),
    forceFlush: async () => void (await Promise.all(processors.map((p) => p.forceFlush()))),
    shutdown: async () => void (await Promise.all(processors.map((p) => p.shutdown()))),
  };
  active = { config, provider, resource, processor, undici, forceFlush: () => provider.forceFlush() };
  return active;
}

/** The process's tracing when it is on. */
export function activeTracing(): Tracing | undefined {
  return active;
}

/**
 * Exports the spans not yet sent and stops tracing (on process stop). Never throws: an unreachable collector is
 * reported on stderr, it does not fail the process's shutdown.
 */
export async function stopTracing(): Promise<void> {
  const tracing = active;
  if (!tracing) return;
  active = undefined;
  tracing.undici.disable();
  try {
    await tracing.provider.shutdown();
  } catch (err) {
    process.stderr.write(`tracing: could not export the last spans to ${tracing.config.endpoint}: ${String(err)}\n`);
  }
  const { context, propagation, trace } = otel();
  trace.disable();
  propagation.disable();
  context.disable();
}

/** The Temporal client's interceptors (signal-with-start, signals, queries, cancel…): none when tracing is off. */
export function clientTracingInterceptors(): OpenTelemetryWorkflowClientInterceptor[] {
  return active ? [new (otel().OpenTelemetryWorkflowClientInterceptor)()] : [];
}

/** The header the Temporal interceptors carry the trace context in (`@temporalio/interceptors-opentelemetry`). */
const TRACE_HEADER = '_tracer-data';

/** A `StartWorkflow:<type>` span under way (`startWorkflowStartSpan`). */
export interface WorkflowStartSpan {
  /** The header fields that carry the span's trace context to the workflow: the request's `header`. */
  header: { fields: Record<string, Payload> };
  /** Ends the span: with the run started (or found), or with the error the request failed with. */
  end(outcome: { runId?: string; error?: unknown }): void;
}

/**
 * Starts a `StartWorkflow:<type>` span for a StartWorkflowExecution the client makes itself, below the SDK's client
 * interceptors, as the Temporal client interceptor would: child of the active span (the HTTP request's, say), parent
 * of the workflow run. Undefined when tracing is off.
 */
export function startWorkflowStartSpan(workflowType: string, workflowId: string): WorkflowStartSpan | undefined {
  if (!active) return undefined;
  const { context, propagation, SpanStatusCode, trace } = otel();
  const span = trace
    .getTracer('durable-jobs')
    .startSpan(`StartWorkflow:${workflowType}`, { attributes: { temporalWorkflowId: workflowId } });
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  return {
    header: { fields: { [TRACE_HEADER]: defaultPayloadConverter.toPayload(carrier) } },
    end({ runId, error }) {
      if (runId) span.setAttribute('run_id', runId);
      if (error === undefined) span.setStatus({ code: SpanStatusCode.OK });
      else {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      }
      span.end();
    },
  };
}

/** The module the workflow bundle includes for tracing: the Temporal package's sandbox-safe workflow interceptors. */
export const WORKFLOW_TRACING_MODULE =
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/** The name of the workflow interceptors' tracer: a bundle whose code has it was built with tracing. */
const WORKFLOW_TRACER_NAME = '@temporalio/interceptor-workflow';

/** True when the bundle was built with the tracing interceptors (`bundleWorkflows({ tracing: true })`). */
export function bundleHasTracing(bundle: WorkflowBundle): boolean {
  return 'code' in bundle && bundle.code.includes(WORKFLOW_TRACER_NAME);
}

/**
 * The `exporter` sink a traced bundle's workflows hand their spans to: into this process's exporters when tracing is
 * on, dropped when it is off (a bundle built with tracing, run by a worker without it).
 */
export function workflowTracingSinks(): InjectedSinks<any> {
  if (active) return { exporter: otel().makeWorkflowExporter(active.processor, active.resource) };
  return { exporter: { export: { fn: () => {} } } };
}

/**
 * Activity interceptors: a `RunActivity:<type>` span per attempt, child of the workflow's `StartActivity:<type>`
 * span and parent of whatever the attempt calls, with the attempt number. None when tracing is off.
 */
export function activityTracingInterceptors(): ActivityInterceptorsFactory[] {
  if (!active) return [];
  const { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, trace } = otel();
  return [
    (ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }),
    (ctx) => ({
      inbound: {
        execute(input, next) {
          trace.getActiveSpan()?.setAttribute('temporalActivityAttempt', ctx.info.attempt);
          return next(input);
        },
      },
    }),
  ];
}

/**
 * The Fastify plugin of the HTTP service's spans (`@fastify/otel`): one SERVER span per request, named
 * `<METHOD> <route>` (e.g. `POST /jobs/process-webhook`: each job has its route), continuing the caller's trace when it sends `traceparent`, with a span
 * per hook and handler below it. `/health` is not traced. `redactUrl` takes secrets out of the recorded path.
 * Undefined when tracing is off.
 */
export function httpTracingPlugin(redactUrl: (url: string) => string): FastifyPluginCallback | undefined {
  if (!active) return undefined;
  const instrumentation = new (otel().FastifyOtelInstrumentation)({
    ignorePaths: ({ url }: { url: string }) => url.split('?')[0] === '/health',
    requestHook: (span: Span, request: FastifyRequest) => {
      const route = request.routeOptions.url;
      span.updateName(`${request.method} ${route ?? redactUrl(request.url.split('?')[0]!)}`);
      span.setAttribute('url.path', redactUrl(request.url));
    },
  });
  instrumentation.setTracerProvider(active.provider);
  return instrumentation.plugin() as FastifyPluginCallback;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function checkedUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${name}: "${value}" is not a URL (e.g. http://localhost:4318)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`${name}: "${value}" must be an http:// or https:// URL (OTLP over HTTP)`);
  return value;
}

/** `key1=value1,key2=value2`, values percent-encoded (the OTel specification's format); bad entries are skipped. */
function parseResourceAttributes(value: string | undefined): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const entry of value?.split(',') ?? []) {
    const at = entry.indexOf('=');
    if (at <= 0) continue;
    try {
      attributes[decodeURIComponent(entry.slice(0, at).trim())] = decodeURIComponent(entry.slice(at + 1).trim());
    } catch {
      // not percent-decodable: skipped, like the SDK's own detector does
    }
  }
  return attributes;
}
