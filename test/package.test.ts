import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/dev-server';
import { eventually } from './harness';

const ROOT = path.resolve(__dirname, '..');
const run = promisify(execFile);

/**
 * What a user's machine has besides the tarball: a PATH (node, npm, Go's cache of the Temporal CLI under HOME),
 * npm's package cache, and where npm finds the running Node's headers when it says so in the environment
 * (npm_config_nodedir: better-sqlite3 compiles against them, no headers can be downloaded here; .ci/node-lts sets it
 * for Node 24). None of this run's JOBS_* or TEMPORAL_* settings (they name this checkout's test application and its
 * server).
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'USER', 'LANG', 'TMPDIR', 'TEMPORAL_CLI_PATH', 'npm_config_nodedir']) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return env;
}

/** Runs a command in `cwd` as the user would type it; a failure shows its output. */
async function sh(cwd: string, command: string, args: string[], timeoutMs = 600_000): Promise<string> {
  try {
    const { stdout } = await run(command, args, {
      cwd,
      env: userEnv(),
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed:\n${stderr ?? ''}\n${stdout ?? ''}`, {
      cause: err,
    });
  }
}

/**
 * The library as a user gets it. `npm pack` makes the tarball (its `prepare` compiles dist/); from then on only the
 * tarball is used, in a directory outside the repository: `jobctl init` from the installed tarball writes an
 * application that depends on it, npm installs it (dependencies from npm's cache), `jobctl new` adds a job, `tsc`
 * type-checks it against the package's declarations, `jobctl dev` runs its stack, and the new job is enqueued through
 * the CLI and over HTTP, completes, and is listed.
 */
describe('the packed library, used by a new application', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-package-'));
  let dev: ChildProcess | undefined;
  let devOutput = '';

  afterAll(async () => {
    if (dev?.pid && dev.exitCode === null) {
      process.kill(-dev.pid, 'SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      if (dev.exitCode === null) process.kill(-dev.pid, 'SIGKILL');
    }
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('npm pack → jobctl init → npm install → jobctl new → tsc → jobctl dev → enqueued by CLI and HTTP, completed, listed', async () => {
    expect(path.relative(ROOT, work).startsWith('..')).toBe(true); // outside the repository

    // The tarball: everything else below comes from it (and npm's cache).
    const packed = JSON.parse(
      await sh(ROOT, 'npm', ['pack', '--json', '--pack-destination', work, '--no-audit', '--no-fund']),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = path.join(work, path.basename(packed[0]!.filename));
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('bin/jobctl.js');
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('workflows/'))).toEqual(
      [],
    );

    // `jobctl init` from the installed tarball (no install scripts needed to write files).
    const tool = path.join(work, 'tool');
    fs.mkdirSync(tool);
    fs.writeFileSync(path.join(tool, 'package.json'), JSON.stringify({ name: 'tool', private: true }));
    await sh(tool, 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball]);
    const app = path.join(work, 'my-jobs');
    const init = await sh(work, process.execPath, [
      path.join(tool, 'node_modules/durable-jobs/bin/jobctl.js'),
      'init',
      app,
      '--durable-jobs',
      `file:${tarball}`,
    ]);
    expect(init).toMatch(/app\.ts/);

    // The application's own install: the library from the tarball, the rest from npm's cache.
    await sh(app, 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund']);
    const jobctl = path.join(app, 'node_modules/.bin/jobctl');
    expect(fs.realpathSync(jobctl)).toContain(path.join(app, 'node_modules/durable-jobs/'));

    // A job of its own, type-checked against the package's declarations.
    await sh(app, jobctl, ['new', 'sync-note']);
    await sh(app, 'npx', ['tsc', '--noEmit', '-p', '.']);
    const listedJobs = JSON.parse(await sh(app, jobctl, ['jobs', '--json'])) as Array<{ name: string }>;
    expect(listedJobs.map((j) => j.name).sort()).toEqual(['health-check', 'send-greeting', 'sync-note']);

    // Its dev stack: Temporal dev server, Web UI, a worker and the HTTP service, on free ports.
    const [port, uiPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    dev = spawn(
      jobctl,
      [
        'dev',
        ...['--port', String(port), '--ui-port', String(uiPort), '--http-port', String(httpPort)],
        ...['--db-filename', path.join(work, 'temporal.sqlite')],
      ],
      { cwd: app, env: userEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    dev.stdout!.on('data', (chunk: Buffer) => (devOutput += chunk.toString()));
    dev.stderr!.on('data', (chunk: Buffer) => (devOutput += chunk.toString()));
    await eventually(
      async () => (devOutput.includes('Ctrl-C stops everything') ? true : undefined),
      180_000,
      `jobctl dev of the new application to start:\n${devOutput}`,
    );
    const env = ['TEMPORAL_ADDRESS', `127.0.0.1:${port}`] as const;
    const withServer = async (args: string[]) => {
      const { stdout } = await run(jobctl, args, {
        cwd: app,
        env: { ...userEnv(), [env[0]]: env[1] },
        timeout: 120_000,
      });
      return stdout;
    };

    // Through the CLI, waiting for the result.
    await withServer(['enqueue', 'sync-note', '{"userId":1}', '--wait']);

    // Over HTTP: 202, then the status until it completed.
    const response = await fetch(`http://127.0.0.1:${httpPort}/jobs/sync-note`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 2 }),
    });
    expect(response.status, await response.clone().text()).toBe(202);
    const { workflowId } = (await response.json()) as { workflowId: string };
    expect(workflowId).toBe('sync-note/2');
    await eventually(
      async () => {
        const status = await fetch(`http://127.0.0.1:${httpPort}/jobs/${encodeURIComponent(workflowId)}`);
        const body = (await status.json()) as { status?: string };
        return body.status === 'Completed' ? true : undefined;
      },
      60_000,
      `sync-note/2 to complete:\n${devOutput}`,
    );

    // Both listed, completed, by the application's own jobctl.
    const runs = JSON.parse(await withServer(['list', '--job', 'sync-note', '--json'])) as Array<{
      workflowId: string;
      status: string;
    }>;
    expect(runs.map((r) => [r.workflowId, r.status]).sort()).toEqual([
      ['sync-note/1', 'Completed'],
      ['sync-note/2', 'Completed'],
    ]);
  }, 1_200_000);
});
