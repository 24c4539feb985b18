import rateLimit from '@fastify/rate-limit';
import Fastify, {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { EnqueueOptions, JobClient } from '../client/client';
import { DEFAULT_SETTINGS } from '../config';
import { InvalidEnqueueOptionError, JobNotFoundError, TemporalUnavailableError } from '../sandbox/errors';
import { checkFairnessKey, checkFairnessWeight, type FairnessOptions } from '../sandbox/fairness';
import { findJob } from '../sandbox/jobs';
import { InvalidJobArgumentsError, MAX_ARGUMENT_DEPTH } from '../sandbox/safe-arguments';
import { httpTracingPlugin } from '../instrumentation/tracing';
import { codecEndpoint, redactCodecToken, type CodecEndpointOptions } from './codec';
import { cancelRouteSchema, documentedOnly, enqueueRouteSchema, registerOpenApi, statusRouteSchema } from './openapi';
import { authenticate, httpJobs, mayCancel, mayEnqueue, mayRead, type ApiToken } from './tokens';

/**
 * The "waiter" of the seed article: a web process answers in milliseconds — it enqueues and returns 202 with where
 * to look — while workers do the work. Validation and idempotency are `JobClient.enqueue`'s: a bad argument is a 400
 * naming the field, with nothing started; a duplicate returns the existing run.
 *
 *   POST /jobs/<name>          body: the job's arguments as JSON
 *                              → 202 { workflowId, runId, duplicate, statusUrl, url }
 *   GET  /jobs/<workflowId>    → 200 { status, result | failure | progress, … }
 *   DELETE /jobs/<workflowId>  cancels its latest run → 202 { workflowId, runId, job, cancelled: true, status, … };
 *                              409 when it already closed; needs the scope cancel:<job> (or cancel:*, *)
 *   POST /codec/decode|encode  Temporal's codec protocol for encrypted payloads, when `codec` is given (./codec.ts)
 *   GET  /openapi.json         the OpenAPI 3.1 document of the above, from the jobs' zod schemas (./openapi.ts);
 *   GET  /docs                 a page to read it (both open: they describe only the jobs open to HTTP)
 *
 * With `tokens`, every /jobs request needs `Authorization: Bearer <token>` (401 without a valid one) whose scopes cover
 * it (403 otherwise); the token's id is recorded with each job it enqueues. Each request is checked in this order, and
 * the body is read only once the caller is known to be allowed: token (401) → job open to HTTP (404) → scope (403)
 * → rate limit (429) → size (413) → nesting depth (400) → JSON (400) → the job's arguments (400) → enqueue (202).
 */
export interface HttpServiceOptions {
  /** Log requests as JSON lines: on stdout (`true`) or to a stream. @default false */
  logger?: boolean | NodeJS.WritableStream;
  /** Serve the codec endpoint (`codecEndpointOptions(settings)`). */
  codec?: CodecEndpointOptions;
  /** API tokens (`parseApiTokens(JOBS_API_TOKENS)`). None: /jobs is open, which `jobctl http` allows on loopback only. */
  tokens?: readonly ApiToken[];
  /** Requests per token (or per client address, without tokens) and window; `false`: unlimited. @default DEFAULT_SETTINGS.apiRateLimit */
  rateLimit?: { max: number; windowMs: number } | false;
  /** Largest request body of a POST /jobs, in bytes. @default 1 MiB */
  bodyLimit?: number;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** Deepest JSON body accepted: a job's arguments object, with its values nested at most MAX_ARGUMENT_DEPTH deep. */
export const MAX_BODY_DEPTH = MAX_ARGUMENT_DEPTH + 1;

declare module 'fastify' {
  interface FastifyRequest {
    /** The API token that authenticated the request, when the service has tokens. */
    apiToken?: ApiToken;
  }
}

export function buildHttpService(client: JobClient, options: HttpServiceOptions = {}): FastifyInstance {
  // Request lines are logged without the codec token the Web UI puts in the path.
  const logger = options.logger
    ? {
        ...(options.logger === true ? {} : { stream: options.logger }),
        serializers: {
          req: (req: { method: string; url: string }) => ({ method: req.method, url: redactCodecToken(req.url) }),
        },
      }
    : false;
  const app = Fastify({ logger });
  // Request spans (README "Traces"), registered first so every route has them; none when tracing is off.
  const tracing = httpTracingPlugin(redactCodecToken);
  if (tracing) void app.register(tracing);
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;

  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof InvalidJobArgumentsError)
      return reply.code(400).send({ error: err.message, job: err.job, issues: err.issues });
    if (err instanceof JobNotFoundError) return reply.code(404).send({ error: err.message });
    // A bad ?delay=, ?runAt=, ?expiresAfter=, ?fairnessKey= or ?fairnessWeight= (or a fairness key the job derived
    // from the body: parameter `fairness.key`); the message starts with the parameter's name.
    if (err instanceof InvalidEnqueueOptionError)
      return reply.code(400).send({ error: err.message, parameter: err.field });
    if (err instanceof TemporalUnavailableError) return reply.code(503).send({ error: err.message });
    const { statusCode: status, code } = err as { statusCode?: number; code?: string };
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return reply.code(413).send({ error: `request body is over the ${bodyLimit}-byte limit` });
    // e.g. malformed JSON, a wrong content type, a rate limit
    if (status && status >= 400 && status < 500) return reply.code(status).send({ error: (err as Error).message });
    app.log.error(err);
    return reply.code(500).send({ error: 'internal error' });
  });

  const tokens = options.tokens ?? [];
  // First, so the document generator sees every route registered after it.
  registerOpenApi(app, { secured: tokens.length > 0 });
  void app.register(jobRoutes, { client, tokens, rateLimit: options.rateLimit, bodyLimit });
  app.get('/health', { schema: { hide: true } }, async () => ({ ok: true }));
  if (options.codec) void app.register(codecEndpoint, options.codec);
  return app;
}

interface JobRoutesOptions {
  client: JobClient;
  tokens: readonly ApiToken[];
  rateLimit: HttpServiceOptions['rateLimit'];
  bodyLimit: number;
}

/** /jobs, in a scope of its own: its JSON parser, authentication and rate limit do not apply to /codec or /health. */
const jobRoutes: FastifyPluginAsync<JobRoutesOptions> = async (
  scope,
  { client, tokens, rateLimit: limit, bodyLimit },
) => {
  const open = tokens.length === 0;

  /** The caller's token (401 unless it presents a valid one), or undefined for an open service. */
  const authenticated = (request: FastifyRequest, reply: FastifyReply): ApiToken | undefined | false => {
    if (open) return undefined;
    const header = request.headers.authorization;
    const presented = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    const token = presented === undefined ? undefined : authenticate(tokens, presented);
    if (token) return (request.apiToken = token);
    void reply
      .code(401)
      .header('WWW-Authenticate', 'Bearer realm="jobs"')
      .send({
        error:
          presented === undefined
            ? 'missing API token: send "Authorization: Bearer <token>" (jobctl token create makes one)'
            : 'unknown API token',
      });
    return false;
  };
  const forbidden = (reply: FastifyReply, token: ApiToken, needs: string) =>
    reply.code(403).send({
      error: `API token "${token.id}" lacks the scope ${needs}`,
      token: token.id,
      needs,
      scopes: token.scopes,
    });

  if (limit !== false) {
    const { max, windowMs } = limit ?? DEFAULT_SETTINGS.apiRateLimit;
    await scope.register(rateLimit, {
      max,
      timeWindow: windowMs,
      hook: 'preParsing', // after authentication (onRequest), before the body is read
      keyGenerator: (request) => (request.apiToken ? `token:${request.apiToken.id}` : `ip:${request.ip}`),
      errorResponseBuilder: (request, context) => ({
        statusCode: 429,
        message:
          `over the rate limit of ${context.max} requests a ${describeWindow(windowMs)} ` +
          `${request.apiToken ? `for API token "${request.apiToken.id}"` : 'per client'}; retry in ${context.after}`,
      }),
    });
  }

  // Nesting depth is checked on the raw text before any parsing work, then Fastify's own parser (which refuses
  // __proto__ and constructor.prototype keys) reads it.
  const parseJson = scope.getDefaultJsonParser('error', 'error');
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, raw, done) => {
    const body = raw.toString(); // parseAs 'string': already a string
    if (exceedsDepth(body, MAX_BODY_DEPTH)) {
      const err = Object.assign(new Error(`JSON body nests deeper than ${MAX_BODY_DEPTH} levels, the limit`), {
        statusCode: 400,
      });
      return done(err, undefined);
    }
    return parseJson(request, body, done);
  });

  // When the job runs, as query parameters (the body is the job's arguments): ?delay=10m, ?runAt=<ISO time>,
  // ?expiresAfter=15m — EnqueueOptions' fields; a bad one is a 400 naming it, and nothing starts.
  // Fair sharing likewise: ?fairnessKey=<tenant>&fairnessWeight=2 (README "Fair sharing").
  type EnqueueRequest = FastifyRequest<{ Querystring: EnqueueQuery }>;

  /** Token (401) → job open to HTTP (404) → scope (403), before the body is read. */
  const admitEnqueue = async (name: string, request: EnqueueRequest, reply: FastifyReply) => {
    const token = authenticated(request, reply);
    if (token === false) return reply;
    const job = findJob(name);
    if (!job || job.enqueueOverHttp === false) {
      return reply.code(404).send({
        error: `Unknown job "${name}"`,
        knownJobs: httpJobs()
          .filter((j) => !token || mayEnqueue(token, j.name))
          .map((j) => j.name),
      });
    }
    if (token && !mayEnqueue(token, job.name)) return forbidden(reply, token, `enqueue:${job.name}`);
  };
  const enqueue = async (name: string, request: EnqueueRequest, reply: FastifyReply) => {
    const { delay, runAt, expiresAfter } = request.query;
    const started = await client.enqueueByName(name, request.body ?? {}, {
      enqueuedBy: request.apiToken && `token:${request.apiToken.id}`,
      ...timingParameters({ delay, runAt, expiresAfter }),
      ...fairnessParameters(request.query),
    });
    return reply.code(202).send({ ...started, statusUrl: `/jobs/${encodeURIComponent(started.workflowId)}` });
  };

  // One route per job open to HTTP, documented with the job's own schema (./openapi.ts), which is also what
  // `enqueue` validates the body with.
  for (const job of httpJobs()) {
    scope.post<{ Querystring: EnqueueQuery }>(
      `/jobs/${job.name}`,
      {
        bodyLimit,
        schema: enqueueRouteSchema(job, !open),
        ...documentedOnly,
        onRequest: async (request, reply) => admitEnqueue(job.name, request, reply),
      },
      async (request, reply) => enqueue(job.name, request, reply),
    );
  }
  // Any other name: a 404 listing the jobs the caller may enqueue (or, should a job's name arrive percent-encoded,
  // that job).
  scope.post<{ Params: { name: string }; Querystring: EnqueueQuery }>(
    '/jobs/:name',
    {
      bodyLimit,
      schema: { hide: true },
      onRequest: async (request, reply) => admitEnqueue(request.params.name, request, reply),
    },
    async (request, reply) => enqueue(request.params.name, request, reply),
  );

  // Workflow IDs contain slashes (`invoice-generation/42`): accept them encoded or raw.
  scope.get<{ Params: { '*': string } }>(
    '/jobs/*',
    {
      schema: statusRouteSchema(!open),
      ...documentedOnly,
      onRequest: async (request, reply) => {
        const token = authenticated(request, reply);
        if (token === false) return reply;
        if (token && !mayRead(token)) return forbidden(reply, token, 'read');
      },
    },
    async (request) => {
      const workflowId = decodeWorkflowId(request.params['*']);
      const status = await client.status(workflowId);
      // Runs of internal jobs are not there for HTTP callers, as the jobs themselves are not.
      if (findJob(status.job)?.enqueueOverHttp === false) throw new JobNotFoundError(workflowId);
      return status;
    },
  );

  // Cancels the latest run: 202 once requested (it closes as Canceled shortly, see its status URL), 409 when it
  // already closed. Runs of internal jobs are a 404, as for GET. Order: token (401) → any cancel scope (403) → the
  // run (404) → the cancel scope of its job (403) → cancel.
  scope.delete<{ Params: { '*': string } }>(
    '/jobs/*',
    {
      schema: cancelRouteSchema(!open),
      ...documentedOnly,
      onRequest: async (request, reply) => {
        const token = authenticated(request, reply);
        if (token === false) return reply;
        if (token && !mayCancel(token)) return forbidden(reply, token, 'cancel:<job>');
      },
    },
    async (request, reply) => {
      const workflowId = decodeWorkflowId(request.params['*']);
      const run = await client.latestRun(workflowId);
      if (findJob(run.job)?.enqueueOverHttp === false) throw new JobNotFoundError(workflowId);
      const token = request.apiToken;
      if (token && !mayCancel(token, run.job)) return forbidden(reply, token, `cancel:${run.job}`);
      const result = await client.cancel(workflowId);
      const statusUrl = `/jobs/${encodeURIComponent(workflowId)}`;
      if (result.cancelled) return reply.code(202).send({ ...result, statusUrl });
      return reply.code(409).send({
        error: `${workflowId} already closed as ${result.status}: there is nothing to cancel`,
        ...result,
        statusUrl,
      });
    },
  );
};

/** ?delay=10m, ?runAt=<ISO time>, ?expiresAfter=15m, ?fairnessKey=<tenant>&fairnessWeight=2: checked by `enqueue`. */
interface EnqueueQuery {
  delay?: unknown;
  runAt?: unknown;
  expiresAfter?: unknown;
  fairnessKey?: unknown;
  fairnessWeight?: unknown;
}

/** The timing query parameters given, as EnqueueOptions (checked there, before any RPC). */
function timingParameters(query: { delay?: unknown; runAt?: unknown; expiresAfter?: unknown }): EnqueueOptions {
  const options: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) if (value !== undefined) options[name] = value;
  return options as EnqueueOptions;
}

/** The fairness query parameters given, checked (`InvalidFairnessError` naming the parameter, before any RPC). */
function fairnessParameters(query: { fairnessKey?: unknown; fairnessWeight?: unknown }): FairnessOptions {
  return {
    ...(query.fairnessKey === undefined ? {} : { fairnessKey: checkFairnessKey(query.fairnessKey) }),
    ...(query.fairnessWeight === undefined ? {} : { fairnessWeight: checkFairnessWeight(query.fairnessWeight) }),
  };
}

/** Whether JSON text opens more than `limit` arrays or objects inside one another. Linear; strings are skipped. */
export function exceedsDepth(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}

function describeWindow(ms: number): string {
  if (ms === 1000) return 'second';
  if (ms === 60_000) return 'minute';
  if (ms === 3_600_000) return 'hour';
  return `${ms} ms`;
}

function decodeWorkflowId(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw Object.assign(new Error(`the workflow ID in the path is not valid percent-encoding: ${path}`), {
      statusCode: 400,
    });
  }
}
