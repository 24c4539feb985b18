import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../src/temporal-cli';

/**
 * `docker build --check` without a Docker engine: .ci/dockerfile-check runs BuildKit's Dockerfile frontend (its parser,
 * the conversion of every stage, its linter) on the Dockerfile. .ci/run runs it before the suite, so the Go build is
 * cached here; a machine without Go skips this file (CI has Go: it builds the Temporal CLI with it).
 */
const checkDir = path.resolve(__dirname, '../.ci/dockerfile-check');
const dockerfile = fs.readFileSync(path.resolve(__dirname, '../Dockerfile'), 'utf8');
const go = findOnPath('go');

describe.skipIf(!go)('Dockerfile, parsed and linted by BuildKit (.ci/dockerfile-check)', () => {
  let dir: string;
  let binary: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dockerfile-check-'));
    binary = path.join(dir, 'dockerfile-check');
    const build = spawnSync(go!, ['build', '-buildvcs=false', '-o', binary, '.'], { cwd: checkDir, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function check(text: string): { status: number | null; output: string } {
    const file = path.join(dir, 'Dockerfile');
    fs.writeFileSync(file, text);
    const run = spawnSync(binary, [file], { encoding: 'utf8' });
    return { status: run.status, output: run.stdout + run.stderr };
  }

  it('the Dockerfile has no warning and both stages convert', () => {
    const { status, output } = check(dockerfile);
    expect(output).toMatch(/2 stages, parsed and linted by BuildKit's Dockerfile frontend, no warnings/);
    expect(output).toMatch(/build FROM node:\$\{NODE_VERSION\}-trixie\n/);
    expect(output).toMatch(/runtime FROM node:\$\{NODE_VERSION\}-trixie-slim\n/);
    expect(status).toBe(0);
  });

  /** The real Dockerfile with one change, and what BuildKit must say about it. */
  const broken: [string, (text: string) => string, RegExp][] = [
    ['an unknown instruction', (t) => t.replace(/^USER node$/m, 'USR node'), /unknown instruction: USR/],
    ['`as` against `FROM`', (t) => t.replace(/ AS build$/m, ' as build'), /WARNING: FromAsCasing/],
    [
      'the Node version without a default',
      (t) => t.replace(/^ARG NODE_VERSION=.*$/m, 'ARG NODE_VERSION'),
      /WARNING: InvalidDefaultArgInFrom/,
    ],
    [
      'ENV in the legacy form',
      (t) => t.replace('ENV NODE_ENV=production', 'ENV NODE_ENV production'),
      /LegacyKeyValueFormat/,
    ],
    ['a shell-form CMD', (t) => t.replace('CMD ["worker"]', 'CMD worker'), /WARNING: JSONArgsRecommended/],
    ['an undefined variable', (t) => t.replace(/^WORKDIR \/app$/m, 'WORKDIR $APP_DIR'), /WARNING: UndefinedVar/],
  ];
  it.each(broken)('fails on %s', (_, change, expected) => {
    const changed = change(dockerfile);
    expect(changed, 'the change applies').not.toBe(dockerfile);
    const { status, output } = check(changed);
    expect(output).toMatch(expected);
    expect(status).toBe(1);
  });
});
