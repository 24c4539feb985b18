import { describe, expect, it } from 'vitest';
import './jobs'; // declares the jobs the scopes name
import {
  ApiTokenConfigError,
  authenticate,
  createApiToken,
  httpAccess,
  httpJobs,
  isLoopback,
  listenUrl,
  mayCancel,
  mayEnqueue,
  mayRead,
  parseApiTokens,
  sha256,
} from '../src/http/tokens';

const SECRET = 'a-plain-secret-of-24-chars-or-more';

describe('JOBS_API_TOKENS', () => {
  it('parses entries joined by commas or newlines, plain or hashed secrets, scopes joined by "+"', () => {
    const made = createApiToken('web', 'enqueue:invoice-generation+read');
    const tokens = parseApiTokens(`${made.entry},\n ops:${SECRET}:* ,`);
    expect(tokens.map((t) => [t.id, t.scopes])).toEqual([
      ['web', ['enqueue:invoice-generation', 'read']],
      ['ops', ['*']],
    ]);
    expect(tokens[1]!.sha256.equals(sha256(SECRET))).toBe(true);
    // The entry holds the hash, never the token itself.
    expect(made.entry).not.toContain(made.token);
    expect(made.token).toMatch(/^djt_[A-Za-z0-9_-]{43}$/);
  });

  it('cancel:<job> and cancel:* let a token cancel runs of that job or of any, and nothing else', () => {
    const [web, ops, all, reader] = parseApiTokens(
      [
        `web:${SECRET}:cancel:process-webhook+enqueue:process-webhook`,
        `ops:${SECRET}a:cancel:*`,
        `all:${SECRET}b:*`,
        `reader:${SECRET}c:read+enqueue:*`,
      ].join(','),
    );
    expect(web!.scopes).toEqual(['cancel:process-webhook', 'enqueue:process-webhook']);
    expect([mayCancel(web!, 'process-webhook'), mayCancel(web!, 'invoice-generation'), mayCancel(web!)]).toEqual([
      true,
      false,
      true,
    ]);
    expect([mayCancel(ops!, 'invoice-generation'), mayCancel(all!, 'process-webhook')]).toEqual([true, true]);
    expect([mayCancel(reader!, 'process-webhook'), mayCancel(reader!)]).toEqual([false, false]);
    expect(mayEnqueue(ops!, 'invoice-generation')).toBe(false); // cancel is not enqueue
  });

  it('authenticates by the token only: the right secret finds its entry, anything else none', () => {
    const made = createApiToken('web', 'read');
    const tokens = parseApiTokens(`ops:${SECRET}:*,${made.entry}`);
    expect(authenticate(tokens, made.token)?.id).toBe('web');
    expect(authenticate(tokens, SECRET)?.id).toBe('ops');
    for (const wrong of [
      '',
      made.token.slice(0, -1),
      `${SECRET} `,
      made.entry,
      `sha256=${sha256(SECRET).toString('hex')}`,
    ])
      expect(authenticate(tokens, wrong), wrong).toBeUndefined();
  });

  it('grants by scope: enqueue:<job> that job only, enqueue:* every job, read reading, * everything', () => {
    const [one, all, reader, star] = parseApiTokens(
      [`a:${SECRET}:enqueue:process-payment`, `b:${SECRET}:enqueue:*`, `c:${SECRET}:read`, `d:${SECRET}:*`].join(','),
    );
    expect([mayEnqueue(one!, 'process-payment'), mayEnqueue(one!, 'invoice-generation'), mayRead(one!)]).toEqual([
      true,
      false,
      false,
    ]);
    expect([mayEnqueue(all!, 'invoice-generation'), mayRead(all!)]).toEqual([true, false]);
    expect([mayEnqueue(reader!, 'invoice-generation'), mayRead(reader!)]).toEqual([false, true]);
    expect([mayEnqueue(star!, 'invoice-generation'), mayRead(star!)]).toEqual([true, true]);
  });

  it('grants a token with several scopes each of them, and trims spaces around scopes', () => {
    const [mixed] = parseApiTokens(`m:${SECRET}: read + enqueue:process-payment `);
    expect(mixed!.scopes).toEqual(['read', 'enqueue:process-payment']);
    expect([mayRead(mixed!), mayEnqueue(mixed!, 'process-payment'), mayEnqueue(mixed!, 'invoice-generation')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('opens to HTTP every application job and no internal one', () => {
    const names = httpJobs().map((j) => j.name);
    expect(names).toContain('invoice-generation');
    expect(names).toContain('process-payment');
    expect(names).not.toContain('health-check');
    expect(names).not.toContain('noop');
  });

  it('token create refuses a bad id or scope, naming it', () => {
    expect(() => createApiToken('we b', 'read')).toThrow(ApiTokenConfigError);
    expect(() => createApiToken('we b', 'read')).toThrow('token id "we b" must be letters, digits, ".", "_" or "-"');
    expect(() => createApiToken('web', 'write')).toThrow(/^token "web": unknown scope "write"/);
    expect(new ApiTokenConfigError('x').name).toBe('ApiTokenConfigError');
  });

  // Each row: the value, the secrets it holds (none for an entry without one), the message. The check is that the
  // message names what is wrong without any of them: each row with its own secrets, the bad ones included.
  it.each<[string, string[], RegExp]>([
    ['web', [], /entry 1: expected id:secret:scopes/],
    [`web:${SECRET}`, [SECRET], /entry 1: expected id:secret:scopes/],
    [`web:${SECRET}:`, [SECRET], /entry 1: expected id:secret:scopes/],
    [`:${SECRET}:read`, [SECRET], /entry 1: expected id:secret:scopes/],
    [`we b:${SECRET}:read`, [SECRET], /entry 1: id "we b" must be letters/],
    [
      `web:short-secret:read`,
      ['short-secret'],
      /entry 1 \("web"\): the secret must be sha256=<64 hex digits> or at least 24 URL-safe/,
    ],
    [`web:sha256=abc123:read`, ['sha256=abc123', 'abc123'], /the secret must be sha256=<64 hex digits>/],
    [`web:${SECRET}:read,web:${SECRET}x:read`, [SECRET, `${SECRET}x`], /entry 2: id "web" is used twice/],
    [
      `web:${SECRET}:write`,
      [SECRET],
      /unknown scope "write"; scopes are enqueue:<job>, enqueue:\*, cancel:<job>, cancel:\*, read and \*/,
    ],
    [`web:${SECRET}:read++*`, [SECRET], /entry 1 \("web"\): no scopes/],
    [
      `web:${SECRET}:enqueue:no-such-job`,
      [SECRET],
      /scope "enqueue:no-such-job" names no job; jobs: invoice-generation, send-welcome-email, /,
    ],
    [`web:${SECRET}:enqueue:noop`, [SECRET], /job "noop" is internal/],
    [`web:${SECRET}:cancel:noop`, [SECRET], /job "noop" is internal: it cannot be cancelled over HTTP/],
    [
      `web:${SECRET}:cancel:no-such-job`,
      [SECRET],
      /scope "cancel:no-such-job" names no job; jobs: invoice-generation, /,
    ],
  ])('refuses %s, naming the entry and never its secret', (value, secrets, message) => {
    const error = (() => {
      try {
        parseApiTokens(value);
      } catch (err) {
        return err as Error;
      }
      throw new Error(`accepted ${value}`);
    })();
    expect(error).toBeInstanceOf(ApiTokenConfigError);
    expect(error.message).toMatch(message);
    for (const secret of secrets) expect(error.message, 'the secret stays out of the message').not.toContain(secret);
  });
});

describe('who may call the HTTP service', () => {
  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopback(host), host).toBe(true);
    expect(isLoopback('127.0.0.10')).toBe(true);
    expect(listenUrl('127.0.0.1', 3000)).toBe('http://127.0.0.1:3000');
    expect(listenUrl('::1', 3000)).toBe('http://[::1]:3000');
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'example.com', '127.0.0.1.example.com', 'x127.0.0.1'])
      expect(isLoopback(host), host).toBe(false);
  });

  it('requires tokens wherever it listens when they are set', () => {
    const access = httpAccess(`web:${SECRET}:read`, '0.0.0.0');
    expect(access.tokens.map((t) => t.id)).toEqual(['web']);
    expect(access.summary).toBe('API tokens required (web)');
    expect(access.warning).toBeUndefined();
    expect(httpAccess(`web:${SECRET}:read`, '127.0.0.1').tokens).toHaveLength(1);
    expect(httpAccess(`a:${SECRET}:read,b:${SECRET}x:read`, '0.0.0.0').summary).toBe('API tokens required (a, b)');
  });

  it('without tokens: open on loopback; refused beyond it unless --insecure-no-auth, which warns', () => {
    expect(httpAccess(undefined, '127.0.0.1')).toEqual({
      tokens: [],
      summary: 'no API tokens: open to this machine only (loopback)',
    });
    expect(() => httpAccess(undefined, '0.0.0.0')).toThrow(
      'refusing to serve the HTTP service on 0.0.0.0 without API tokens: set JOBS_API_TOKENS ' +
        '(`jobctl token create <id>` makes one), listen on 127.0.0.1, or pass --insecure-no-auth',
    );
    expect(() => httpAccess(undefined, '::')).toThrow(/on \[::\] without API tokens/);
    const insecure = httpAccess(undefined, '0.0.0.0', true);
    expect(insecure.tokens).toEqual([]);
    expect(insecure.warning).toMatch(/^WARNING: --insecure-no-auth: the HTTP service on 0.0.0.0 has no authentication/);
  });
});
