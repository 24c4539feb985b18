import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { findJob, jobs } from '../sandbox/jobs';

/**
 * API tokens of the HTTP service (`JOBS_API_TOKENS`): entries `id:secret:scopes`, separated by commas or newlines.
 *
 * - `id` names the caller (`web`, `billing-service`): it is recorded with every job the token enqueues.
 * - `secret` is either the token itself (at least 24 URL-safe characters), or — better, since the environment then
 *   holds nothing a caller can present — `sha256=<hex>`, the SHA-256 of the token, as `jobctl token create` prints it.
 * - `scopes`, joined by `+`: `enqueue:<job>` (may enqueue that job), `enqueue:*` (every job open to HTTP), `read`
 *   (status and results of any run), `cancel:<job>` (may cancel that job's runs, `DELETE /jobs/<workflowId>`),
 *   `cancel:*` (runs of every job open to HTTP), `*` (all of these).
 *
 * A presented token is hashed and compared with every entry's hash in constant time, so neither the comparison nor
 * the lookup tells an attacker how close a guess was.
 */
export interface ApiToken {
  readonly id: string;
  readonly sha256: Buffer;
  readonly scopes: readonly Scope[];
}

export type Scope = 'read' | '*' | `enqueue:${string}` | `cancel:${string}`;

export const TOKEN_PREFIX = 'djt_';
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const PLAIN_SECRET = /^[A-Za-z0-9._~-]{24,}$/;
const HASHED_SECRET = /^sha256=([0-9a-f]{64})$/;

export class ApiTokenConfigError extends TypeError {
  override readonly name = 'ApiTokenConfigError';
}

/** Jobs a token may ever be given `enqueue:` on: those open to HTTP. */
export function httpJobs() {
  return jobs.filter((job) => job.enqueueOverHttp !== false);
}

/** Parses `JOBS_API_TOKENS`; a bad entry throws naming it (by position and id, never by its secret). */
export function parseApiTokens(value: string): ApiToken[] {
  const entries = value
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const tokens: ApiToken[] = [];
  entries.forEach((entry, index) => {
    const where = `JOBS_API_TOKENS entry ${index + 1}`;
    // id and secret hold no ":"; the scopes after them may (enqueue:<job>).
    const [id, secret, ...scopeParts] = entry.split(':');
    const scopeText = scopeParts.join(':');
    if (!id || secret === undefined || scopeText === '') {
      throw new ApiTokenConfigError(
        `${where}: expected id:secret:scopes (e.g. web:sha256=…:enqueue:send-welcome-email)`,
      );
    }
    if (!ID.test(id)) {
      throw new ApiTokenConfigError(`${where}: id "${id}" must be letters, digits, ".", "_" or "-" (at most 64)`);
    }
    if (tokens.some((t) => t.id === id)) throw new ApiTokenConfigError(`${where}: id "${id}" is used twice`);
    const hashed = HASHED_SECRET.exec(secret);
    if (!hashed && !PLAIN_SECRET.test(secret)) {
      throw new ApiTokenConfigError(
        `${where} ("${id}"): the secret must be sha256=<64 hex digits> or at least 24 URL-safe characters`,
      );
    }
    tokens.push({
      id,
      sha256: hashed ? Buffer.from(hashed[1]!, 'hex') : sha256(secret),
      scopes: parseScopes(scopeText, `${where} ("${id}")`),
    });
  });
  return tokens;
}

function parseScopes(text: string, where: string): Scope[] {
  const scopes = text.split('+').map((s) => s.trim());
  if (scopes.length === 0 || scopes.some((s) => s === '')) throw new ApiTokenConfigError(`${where}: no scopes`);
  for (const scope of scopes) {
    if (scope === 'read' || scope === '*' || scope === 'enqueue:*' || scope === 'cancel:*') continue;
    const action = scope.startsWith('enqueue:') ? 'enqueue' : scope.startsWith('cancel:') ? 'cancel' : undefined;
    if (!action) {
      throw new ApiTokenConfigError(
        `${where}: unknown scope "${scope}"; scopes are enqueue:<job>, enqueue:*, cancel:<job>, cancel:*, read ` +
          'and *, joined by "+"',
      );
    }
    const name = scope.slice(`${action}:`.length);
    const job = findJob(name);
    if (!job) {
      throw new ApiTokenConfigError(
        `${where}: scope "${scope}" names no job; jobs: ${httpJobs()
          .map((j) => j.name)
          .join(', ')}`,
      );
    }
    if (job.enqueueOverHttp === false) {
      throw new ApiTokenConfigError(
        `${where}: job "${name}" is internal: it cannot be ${action === 'enqueue' ? 'enqueued' : 'cancelled'} over HTTP`,
      );
    }
  }
  return scopes as Scope[];
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The token whose secret this is, or undefined; compares with every entry, in constant time each. */
export function authenticate(tokens: readonly ApiToken[], presented: string): ApiToken | undefined {
  const digest = sha256(presented);
  let found: ApiToken | undefined;
  for (const token of tokens) if (timingSafeEqual(digest, token.sha256)) found ??= token;
  return found;
}

export function mayEnqueue(token: ApiToken, job: string): boolean {
  return token.scopes.some((s) => s === '*' || s === 'enqueue:*' || s === `enqueue:${job}`);
}

/** Whether the token may cancel runs of `job`; without `job`, whether it may cancel runs of any job at all. */
export function mayCancel(token: ApiToken, job?: string): boolean {
  return token.scopes.some(
    (s) => s === '*' || s === 'cancel:*' || (job === undefined ? s.startsWith('cancel:') : s === `cancel:${job}`),
  );
}

export function mayRead(token: ApiToken): boolean {
  return token.scopes.some((s) => s === '*' || s === 'read');
}

/** A new random token and the `JOBS_API_TOKENS` entry that accepts it (holding only its hash). */
export function createApiToken(id: string, scopes: string): { token: string; entry: string } {
  if (!ID.test(id)) throw new ApiTokenConfigError(`token id "${id}" must be letters, digits, ".", "_" or "-"`);
  parseScopes(scopes, `token "${id}"`);
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, entry: `${id}:sha256=${sha256(token).toString('hex')}:${scopes}` };
}

/** Whether a listen address is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

export interface HttpAccess {
  /** Tokens to require; empty: unauthenticated. */
  tokens: ApiToken[];
  /** One line for the start-up banner: who may call the service. */
  summary: string;
  /** Said loudly at start-up, when the service is open beyond this machine. */
  warning?: string;
}

/**
 * Who may call an HTTP service listening on `host`: the tokens of `JOBS_API_TOKENS` wherever it listens; without
 * tokens, anyone — which is allowed on loopback, and elsewhere only when explicitly asked for (`--insecure-no-auth`).
 * Throws one clear line otherwise, and for a bad `JOBS_API_TOKENS`.
 */
export function httpAccess(apiTokens: string | undefined, host: string, insecureNoAuth = false): HttpAccess {
  const tokens = apiTokens === undefined ? [] : parseApiTokens(apiTokens);
  if (tokens.length > 0) {
    return { tokens, summary: `API tokens required (${tokens.map((t) => t.id).join(', ')})` };
  }
  if (isLoopback(host)) return { tokens, summary: 'no API tokens: open to this machine only (loopback)' };
  const where = bracketed(host);
  if (!insecureNoAuth) {
    throw new ApiTokenConfigError(
      `refusing to serve the HTTP service on ${where} without API tokens: set JOBS_API_TOKENS ` +
        '(`jobctl token create <id>` makes one), listen on 127.0.0.1, or pass --insecure-no-auth',
    );
  }
  return {
    tokens,
    summary: 'NO AUTHENTICATION (--insecure-no-auth)',
    warning:
      `WARNING: --insecure-no-auth: the HTTP service on ${where} has no authentication; anyone who can reach it ` +
      'can enqueue jobs, read their results and cancel them. Set JOBS_API_TOKENS to require tokens.',
  };
}

/** `http://host:port` for a listen address. */
export function listenUrl(host: string, port: number): string {
  return `http://${bracketed(host)}:${port}`;
}

/** A host as it appears before `:port`: IPv6 addresses in brackets. */
function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
