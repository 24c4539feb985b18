import Fastify, { type FastifyInstance } from 'fastify';
import type { JobClient } from '../client';
import { JobNotFoundError, TemporalUnavailableError, UnknownJobError } from '../errors';
import { InvalidJobArgumentsError } from '../safe-arguments';
import { codecEndpoint, redactCodecToken, type CodecEndpointOptions } from './codec';

/**
 * The "waiter" of the seed article: a web process answers in milliseconds — it enqueues and returns 202 with where
 * to look — while workers do the work. Validation and idempotency are `JobClient.enqueue`'s: a bad argument is a 400
 * naming the field, with nothing started; a duplicate returns the existing run.
 *
 *   POST /jobs/<name>          body: the job's arguments as JSON
 *                              → 202 { workflowId, runId, duplicate, statusUrl, url }
 *   GET  /jobs/<workflowId>    → 200 { status, result | failure | progress, … }
 *   POST /codec/decode|encode  Temporal's codec protocol for encrypted payloads, when `codec` is given (./codec.ts)
 */
export interface HttpServiceOptions {
  /** Log requests as JSON lines: on stdout (`true`) or to a stream. @default false */
  logger?: boolean | NodeJS.WritableStream;
  /** Serve the codec endpoint (`codecEndpointOptions(settings)`). */
  codec?: CodecEndpointOptions;
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

  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof InvalidJobArgumentsError)
      return reply.code(400).send({ error: err.message, job: err.job, issues: err.issues });
    if (err instanceof UnknownJobError) return reply.code(404).send({ error: err.message, knownJobs: err.known });
    if (err instanceof JobNotFoundError) return reply.code(404).send({ error: err.message });
    if (err instanceof TemporalUnavailableError) return reply.code(503).send({ error: err.message });
    const status = (err as { statusCode?: number }).statusCode;
    // e.g. malformed JSON
    if (status && status >= 400 && status < 500) return reply.code(status).send({ error: (err as Error).message });
    app.log.error(err);
    return reply.code(500).send({ error: 'internal error' });
  });

  app.post<{ Params: { name: string } }>('/jobs/:name', async (request, reply) => {
    const started = await client.enqueueByName(request.params.name, request.body ?? {});
    return reply.code(202).send({ ...started, statusUrl: `/jobs/${encodeURIComponent(started.workflowId)}` });
  });

  // Workflow IDs contain slashes (`invoice-generation/42`): accept them encoded or raw.
  app.get<{ Params: { '*': string } }>('/jobs/*', async (request) =>
    client.status(decodeURIComponent(request.params['*'])),
  );

  app.get('/health', async () => ({ ok: true }));
  if (options.codec) void app.register(codecEndpoint, options.codec);
  return app;
}
