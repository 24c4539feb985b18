import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { jobctlNodeArgs, runCommand as run, startJobctlWorker, type JobctlProcess } from './jobctl';

const ROOT = path.resolve(__dirname, '..');
/** What a copy of the project needs to be a project; node_modules is linked, not copied. */
const SKIP = new Set(['node_modules', '.git', '.data', '.artifacts']);

/**
 * `jobctl new` in a temporary copy of the project, as a user would run it in theirs: the job it writes typechecks and
 * runs end to end on a worker process of that copy against the run's real Temporal server.
 */
describe('jobctl new <job-name>', () => {
  let dir: string;
  let jobctl: (args: string[], env?: NodeJS.ProcessEnv) => ReturnType<typeof run>;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-new-'));
    fs.cpSync(ROOT, dir, { recursive: true, filter: (src) => !SKIP.has(path.basename(src)) });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    // The copy's jobctl runs the copy's test application (this run's JOBS_APP names this checkout's).
    jobctl = (args, env = {}) =>
      run(process.execPath, [...jobctlNodeArgs(dir), ...args], dir, {
        JOBS_APP: path.join(dir, 'test/jobs/app.ts'),
        ...env,
      });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the two job files and a test, adds one line to each index, and the project still typechecks', async () => {
    const created = await jobctl(['new', 'sync-crm-contact', '--queue', 'high']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toMatch(/^Recording its first history for the replay test/);
    for (const file of [
      'workflows/sync-crm-contact.ts',
      'activities/sync-crm-contact.ts',
      'test/sync-crm-contact.test.ts',
    ]) {
      expect(created.stdout).toContain(`created  ${file}`);
      expect(fs.existsSync(path.join(dir, file))).toBe(true);
    }
    for (const index of ['workflows/index.ts', 'activities/index.ts']) {
      const added = fs
        .readFileSync(path.join(dir, index), 'utf8')
        .split('\n')
        .filter((line) => line.includes('sync-crm-contact'));
      expect(added).toEqual(["export * from './sync-crm-contact';"]);
    }
    const typecheck = await run(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', '.'],
      dir,
    );
    expect(typecheck.stdout + typecheck.stderr).toBe('');
    // The generated files pass the project's lint and formatter as they are.
    const files = ['workflows/sync-crm-contact.ts', 'activities/sync-crm-contact.ts', 'test/sync-crm-contact.test.ts'];
    const lint = await run(process.execPath, [path.join(ROOT, 'node_modules/eslint/bin/eslint.js'), ...files], dir);
    expect(lint).toMatchObject({ code: 0, stdout: '' });
    const format = await run(
      process.execPath,
      [path.join(ROOT, 'node_modules/prettier/bin/prettier.cjs'), '--check', ...files],
      dir,
    );
    expect(format.code, format.stdout + format.stderr).toBe(0);
  }, 180_000);

  it("recorded the new workflow's first history, so the copy's replay test and the job's generated test pass", async () => {
    const history = JSON.parse(fs.readFileSync(path.join(dir, 'test/histories/syncCrmContactWorkflow.json'), 'utf8'));
    expect(history.events[0].workflowExecutionStartedEventAttributes.workflowType.name).toBe('syncCrmContactWorkflow');
    // The other histories are left as they were.
    for (const file of fs.readdirSync(path.join(ROOT, 'test/histories'))) {
      expect(fs.readFileSync(path.join(dir, 'test/histories', file), 'utf8')).toBe(
        fs.readFileSync(path.join(ROOT, 'test/histories', file), 'utf8'),
      );
    }
    const vitest = path.join(ROOT, 'node_modules/vitest/vitest.mjs');
    const tests = await run(
      process.execPath,
      [vitest, 'run', 'test/replay.test.ts', 'test/sync-crm-contact.test.ts'],
      dir,
      {
        NO_COLOR: '1',
        FORCE_COLOR: '0',
      },
    );
    expect(tests.code, tests.stdout + tests.stderr).toBe(0);
    // Both files ran, and every test in them passed (none skipped or failed).
    expect(tests.stdout).toMatch(/Test Files\s+2 passed \(2\)/);
    expect(tests.stdout).toMatch(/Tests\s+(\d+) passed \(\1\)/);
  }, 240_000);

  it('refuses a taken name or a bad one, writing nothing', async () => {
    const before = fs.readFileSync(path.join(dir, 'workflows/index.ts'), 'utf8');
    const again = await jobctl(['new', 'sync-crm-contact']);
    expect(again).toMatchObject({ code: 1, stdout: '' });
    expect(again.stderr).toMatch(/job "sync-crm-contact" already exists: workflows\/sync-crm-contact\.ts/);
    const bad = await jobctl(['new', 'Sync_CRM']);
    expect(bad).toMatchObject({ code: 1 });
    expect(bad.stderr).toMatch(/job name must be kebab-case/);
    expect(fs.readFileSync(path.join(dir, 'workflows/index.ts'), 'utf8')).toBe(before);
  });

  it('runs the new job end to end on a worker process of the copy: enqueued by name, completed once, bad arguments refused', async () => {
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: `test-${randomUUID()}`,
      JOBS_SQLITE_PATH: path.join(dir, '.data/app.sqlite'),
      JOBS_MAIL_OUTBOX_DIR: path.join(dir, '.data/outbox'),
      // The copy's test application (the suite's JOBS_APP is this repository's), which has the new job.
      JOBS_APP: path.join(dir, 'test/jobs/app.ts'),
    };
    expect(await jobctl(['seed', '--count', '3'], env)).toMatchObject({ code: 0 });
    const listed = await jobctl(['jobs', '--json'], env);
    expect(JSON.parse(listed.stdout)).toContainEqual(
      expect.objectContaining({ name: 'sync-crm-contact', queue: `${env.JOBS_TASK_QUEUE_PREFIX}-high` }),
    );

    let worker: JobctlProcess | undefined;
    try {
      worker = await startJobctlWorker('high', env, dir);
      const done = await jobctl(['enqueue', 'sync-crm-contact', '{"userId":2}', '--wait', '--json'], env);
      expect(done.code).toBe(0);
      expect(JSON.parse(done.stdout)).toMatchObject({
        workflowId: 'sync-crm-contact/2',
        status: 'Completed',
        result: { userId: 2, email: 'user2@example.com' },
        duplicate: false,
      });
      const bad = await jobctl(['enqueue', 'sync-crm-contact', '{"userId":"two"}'], env);
      expect(bad).toMatchObject({ code: 1, stdout: '' });
      expect(bad.stderr).toMatch(/Invalid arguments for job "sync-crm-contact": userId: /);
    } finally {
      await worker?.stop('SIGTERM');
    }
  }, 180_000);
});
