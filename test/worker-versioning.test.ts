import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { readSettings } from '../src/config';
import { freePort } from '../src/dev-server';
import { concurrencySemaphoreWorkflow } from '../src/sandbox/concurrency-semaphore-workflow';
import { debounceWorkflow } from '../src/sandbox/debounce-workflow';
import { defineJob, forgetJob, versioningOptions, workflowVersioning } from '../src/sandbox/job-definition';
import { jobs } from '../src/sandbox/jobs';
import { buildIdOf, bundleWorkflows } from '../src/worker/workers';
import { exportSliceWorkflow, largeDataExportWorkflow } from '../workflows/large-data-export';
import { eventually } from './harness';
import { jobctl, spawnJobctl } from './jobctl';

/**
 * Worker Versioning's parts that need no second build (README "Shipping changed job code"); the rolling deploy itself,
 * build A to build B on `jobctl stack`, is test/stack/versioning.test.ts.
 */
const behavior = (fn: unknown) => workflowVersioning(fn);

describe('a job declares how its runs move between versions', () => {
  it("pins every job's runs by default; the export, debounce and the semaphore auto-upgrade", () => {
    for (const job of jobs) {
      expect(behavior(job.workflow), job.name).toBe(job.versioning ?? 'pinned');
    }
    expect(jobs.find((j) => j.name === 'large-data-export')?.versioning).toBe('auto-upgrade');
    expect(behavior(largeDataExportWorkflow)).toBe('auto-upgrade');
    expect(behavior(exportSliceWorkflow)).toBe('pinned');
    expect(behavior(debounceWorkflow)).toBe('auto-upgrade');
    expect(behavior(concurrencySemaphoreWorkflow)).toBe('auto-upgrade');
  });

  it('refuses an unknown value, naming the job and the field', () => {
    async function versionedProbeWorkflow() {}
    expect(() =>
      defineJob({
        name: 'versioned-probe',
        description: 'x',
        workflow: versionedProbeWorkflow,
        queue: 'default',
        args: z.strictObject({}),
        idempotencyKey: () => 'k',
        versioning: 'sometimes' as never,
      }),
    ).toThrow(`job "versioned-probe": versioning must be 'pinned' or 'auto-upgrade', got "sometimes"`);
    forgetJob('versioned-probe');
  });

  it('reports the behavior only on a versioned worker, keeping options set on the function before', () => {
    class Refused extends Error {}
    // An unversioned worker's task completed with a behavior is refused by the server ("versioning behavior cannot be
    // specified without deployment options"): none then.
    expect(versioningOptions({ failureExceptionTypes: [Refused] }, 'auto-upgrade', false)).toEqual({
      failureExceptionTypes: [Refused],
    });
    expect(versioningOptions({ failureExceptionTypes: [Refused] }, 'auto-upgrade', true)).toEqual({
      failureExceptionTypes: [Refused],
      versioningBehavior: 'AUTO_UPGRADE',
    });
    expect(versioningOptions(() => ({ failureExceptionTypes: [Refused] }), 'pinned', true)).toEqual({
      failureExceptionTypes: [Refused],
      versioningBehavior: 'PINNED',
    });
    expect(versioningOptions(undefined, 'pinned', false)).toEqual({});
  });
});

describe('versioning settings', () => {
  it('are off by default, named after the task queue prefix, with the build ID left to the bundle', () => {
    expect(readSettings({}).workerVersioning).toEqual({ enabled: false, deploymentName: 'jobs', buildId: undefined });
    expect(readSettings({ JOBS_TASK_QUEUE_PREFIX: 'billing', JOBS_WORKER_VERSIONING: 'on' }).workerVersioning).toEqual({
      enabled: true,
      deploymentName: 'billing',
      buildId: undefined,
    });
    expect(readSettings({ JOBS_DEPLOYMENT_NAME: 'web', JOBS_BUILD_ID: 'v42' }).workerVersioning).toMatchObject({
      deploymentName: 'web',
      buildId: 'v42',
    });
  });

  it.each([
    [{ JOBS_WORKER_VERSIONING: 'yes please' }, 'JOBS_WORKER_VERSIONING must be on or off, got "yes please"'],
    [{ JOBS_DEPLOYMENT_NAME: 'jobs:prod' }, 'JOBS_DEPLOYMENT_NAME must be 1-255 letters, digits'],
    [{ JOBS_BUILD_ID: 'a b' }, 'JOBS_BUILD_ID must be 1-255 letters, digits'],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => readSettings(env)).toThrow(message);
  });
});

describe('build IDs', () => {
  it('are the same for the same workflow code and differ for changed code', async () => {
    const bundle = { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') };
    expect(buildIdOf(bundle)).toMatch(/^b-[0-9a-f]{12}$/);
    expect(buildIdOf({ code: bundle.code })).toBe(buildIdOf(bundle));
    expect(buildIdOf({ code: `${bundle.code}\n// changed` })).not.toBe(buildIdOf(bundle));
  });
});

describe('jobctl replay over history files', () => {
  const histories = path.resolve(__dirname, 'histories');

  it('replays every recorded history against the bundle the workers run and exits 0', async () => {
    const result = await jobctl(['replay', '--histories', histories, '--bundle', inject('workflowBundlePath')], {});
    expect(result.code, result.stderr).toBe(0);
    const files = fs.readdirSync(histories).filter((f) => f.endsWith('.json'));
    expect(result.stdout).toContain(`Replayed ${files.length} run(s)`);
    expect(result.stdout).toContain('No nondeterminism');
  });

  it('exits 1 naming each history and event a changed workflow would break (negative control)', async () => {
    const changed = await bundleWorkflows({ workflowsPath: path.resolve(__dirname, 'fixtures/changed-workflows.ts') });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'replay-')), 'changed.js');
    fs.writeFileSync(file, changed.code);
    const result = await jobctl(
      ['replay', '--histories', histories, '--bundle', file, '--workflow-type', 'invoiceGenerationWorkflow'],
      {},
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/NONDETERMINISM invoiceGenerationWorkflow invoiceGenerationWorkflow\.json/);
    expect(result.stdout).toContain('would break on this code');
  });

  it('says which bundle is missing', async () => {
    const result = await jobctl(['replay', '--histories', histories, '--bundle', '/nonexistent/bundle.js'], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--bundle: no workflow bundle at /nonexistent/bundle.js');
  });
});

describe('a versioned jobctl worker on the dev server', () => {
  it('polls as its version, which runs nothing until made current; then its runs, log lines and metrics carry it', async () => {
    // A deployment of this test's own: named after its own task queue prefix, on the dev server every test shares.
    const prefix = `versioned-${randomUUID().slice(0, 8)}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'versioned-'));
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: prefix,
      JOBS_SQLITE_PATH: path.join(dir, 'app.sqlite'),
      JOBS_WORKER_VERSIONING: 'on',
      JOBS_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    };
    const buildId = buildIdOf({ code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') });
    const port = await freePort();
    const worker = spawnJobctl(['worker', '--queues', 'default:2', '--metrics-port', String(port)], env);
    try {
      await eventually(
        async () => {
          if (worker.child.exitCode !== null) throw new Error(`jobctl worker exited:\n${worker.output()}`);
          return worker.output().includes(`as version ${prefix}:${buildId}`) ? true : undefined;
        },
        60_000,
        'the versioned worker serving',
      );
      const status = async () => {
        const run = await jobctl(['deploy', 'status', '--json'], env);
        expect(run.code, run.stderr).toBe(0);
        return JSON.parse(run.stdout) as { current?: string; versions: Array<{ buildId: string; pollers: string[] }> };
      };
      const polling = await eventually(async () => {
        const s = await status();
        return s.versions.some((v) => v.buildId === buildId && v.pollers.length > 0) ? s : undefined;
      });
      expect(polling.current).toBeUndefined();

      // Nothing to roll back to, and the current version cannot be retired: both refused, naming why.
      const set = await jobctl(['deploy', 'set-current', buildId, '--wait'], env);
      expect(set.code, set.stderr).toBe(0);
      expect(set.stderr).toContain(`${prefix}:${buildId} is current (was none)`);
      const rollback = await jobctl(['deploy', 'rollback'], env);
      expect(rollback.code).toBe(1);
      expect(rollback.stderr).toContain('has no earlier current version to roll back to');
      const retire = await jobctl(['deploy', 'retire', buildId], env);
      expect(retire.code).toBe(1);
      expect(retire.stderr).toContain(`${buildId} is current: cannot retire it`);

      const id = `versioned-${randomUUID()}`;
      const enqueued = await jobctl(['enqueue', 'noop', JSON.stringify({ id }), '--wait', '--json'], env);
      expect(enqueued.code, enqueued.stderr).toBe(0);
      const connection = await Connection.connect({ address: inject('temporalAddress') });
      try {
        const history = await new Client({ connection }).workflow.getHandle(`noop/${id}`).fetchHistory();
        const tasks = (history.events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes);
        expect(tasks.length).toBeGreaterThan(0);
        for (const task of tasks) {
          expect(task.workflowTaskCompletedEventAttributes!.deploymentVersion).toMatchObject({
            deploymentName: prefix,
            buildId,
          });
        }
      } finally {
        await connection.close();
      }
      expect(worker.output()).toMatch(new RegExp(`"version":"${prefix}:${buildId}","event":"job_succeeded"`));
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(`durable_jobs_job_succeeded_total\\{[^}]*worker_deployment_version="${prefix}:${buildId}"`),
      );
    } finally {
      await worker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
