import { createHash, timingSafeEqual } from 'node:crypto';
import cors from '@fastify/cors';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Settings } from '../config';
import { EncryptionCodec, PayloadDecryptionError } from '../encryption';

export interface CodecEndpointOptions {
  codec: EncryptionCodec;
  /** Every request must carry it: `Authorization: Bearer <token>`, or as the path segment before /decode. */
  token: string;
  /** Browser origins allowed to call the endpoint: the Temporal Web UI's. */
  corsOrigins: string[];
}

/** Temporal payloads may be up to 2 MB each; the UI sends several at once. */
const BODY_LIMIT = 16 * 1024 * 1024;
const { Payloads } = temporal.api.common.v1;

/**
 * Temporal's remote codec protocol, so the Web UI and `temporal workflow show --codec-endpoint` can show encrypted
 * payloads decrypted: POST …/decode and …/encode with `{ "payloads": [Payload as proto JSON] }`.
 *
 * The token: clients that can send headers (the temporal CLI's `--codec-auth 'Bearer …'`, scripts) use
 * `Authorization: Bearer <token>` on `/codec/decode`. The Web UI can only send its own SSO access token (and only
 * over https) or cookies, so for a UI without SSO the endpoint also answers at `/codec/<token>/decode`, configured
 * as the UI's codec endpoint `<base>/codec/<token>`. Whoever can open that UI can read payloads — which is what a
 * codec endpoint for the UI is for; keep the UI itself behind your access control.
 *
 * A plugin of its own, so CORS (for the UI's origin) applies to these routes only.
 */
export const codecEndpoint: FastifyPluginAsync<CodecEndpointOptions> = async (app, options) => {
  const expected = digest(options.token);
  const authorized = (request: FastifyRequest<{ Params: { token?: string } }>) => {
    const header = request.headers.authorization;
    const presented =
      request.params.token ?? (header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined);
    return presented !== undefined && timingSafeEqual(digest(presented), expected);
  };

  await app.register(cors, {
    origin: options.corsOrigins,
    methods: ['POST'],
    allowedHeaders: ['Content-Type', 'X-Namespace', 'Authorization'],
    credentials: true,
    maxAge: 600,
  });

  const handler =
    (direction: 'encode' | 'decode') =>
    async (request: FastifyRequest<{ Params: { token?: string } }>, reply: FastifyReply) => {
      if (!authorized(request)) {
        return reply
          .code(401)
          .header('WWW-Authenticate', 'Bearer realm="codec"')
          .send({ error: 'codec endpoint: missing or wrong bearer token' });
      }
      const payloads = parsePayloads(request.body);
      if (typeof payloads === 'string') return reply.code(400).send({ error: payloads });
      try {
        const converted =
          direction === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
        return reply.send(Payloads.toObject(Payloads.fromObject({ payloads: converted }), { bytes: String }));
      } catch (err) {
        if (err instanceof PayloadDecryptionError) return reply.code(422).send({ error: err.message });
        throw err;
      }
    };

  for (const direction of ['encode', 'decode'] as const) {
    app.post(`/codec/${direction}`, { bodyLimit: BODY_LIMIT }, handler(direction));
    app.post(`/codec/:token/${direction}`, { bodyLimit: BODY_LIMIT }, handler(direction));
  }
};

/** The payloads of a codec request, or what is wrong with the body. */
function parsePayloads(body: unknown): Payload[] | string {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { payloads?: unknown }).payloads)) {
    return 'body must be JSON {"payloads": [...]} (Temporal Payloads in proto JSON: base64 metadata values and data)';
  }
  try {
    return Payloads.fromObject(body).payloads as Payload[];
  } catch (err) {
    return `payloads are not Temporal Payloads in proto JSON: ${(err as Error).message}`;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * The codec endpoint of the settings: on when payloads are encrypted and a token is set; the UI's origin may call it.
 */
export function codecEndpointOptions(
  settings: Pick<Settings, 'encryption' | 'codecToken' | 'temporalUiUrl'>,
): CodecEndpointOptions | undefined {
  if (!settings.encryption || !settings.codecToken) return undefined;
  return {
    codec: new EncryptionCodec(settings.encryption),
    token: settings.codecToken,
    corsOrigins: [new URL(settings.temporalUiUrl).origin],
  };
}

/** A URL as it may be logged: the token segment of `/codec/<token>/decode` replaced. */
export function redactCodecToken(url: string): string {
  return url.replace(/^\/codec\/[^/]+\/(encode|decode)/, '/codec/<token>/$1');
}
