import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { EXPORT_SLICE_SIZE_DEFAULT } from '../activities/services/migrations';
import { formatDuration } from '../src/format';
import { largeDataExport } from '../test/jobs';
import {
  positiveInt,
  residentMb,
  startWorkerChild,
  type BenchEnvironment,
  type CommonOptions,
  type Scenario,
} from './harness';
import { bundleWorkflows } from '../src/worker/workers';
import { testApp } from '../test/jobs/app';

interface BatchOptions {
  users: number;
  slice: number;
}

const CREATED_ON = '2026-01-15';

/**
 * Seeds N users, exports them with large-data-export, checks that every user appears exactly once, and reports
 * records/s, wall time, the worker process's peak RSS and the parent's largest history (per continue-as-new run).
 */
export const batch: Scenario<BatchOptions> = {
  name: 'batch',
  description: 'export N users through large-data-export and check every user appears exactly once',
  addOptions: (command: Command) =>
    command
      .option('--users <n>', 'users to seed and export', positiveInt, 100_000)
      .option('--slice <n>', 'users per slice (child workflow)', positiveInt, EXPORT_SLICE_SIZE_DEFAULT),

  // The worker runs in a `jobctl worker` process of its own, so its memory is measured alone, not with this process's
  // client, seeding and checking.
  inProcessWorkers: false,

  async run(env, options) {
    const bundleFile = path.join(path.dirname(env.settings.sqlitePath), 'workflow-bundle.js');
    fs.writeFileSync(bundleFile, (await bundleWorkflows({ workflowsPath: testApp.workflowsPath })).code);
    const worker = await startWorkerChild(
      env.settings,
      env.settings.taskQueuePrefix,
      `${largeDataExport.queue}:${options.concurrency}`,
      bundleFile,
    );
    try {
      return await exportUsers(env, options, worker.process.pid!);
    } finally {
      await worker.stop();
    }
  },
};

async function exportUsers(env: BenchEnvironment, options: BatchOptions & CommonOptions, workerPid: number) {
  {
    const { db } = env.database;
    const log = (line: string) => process.stderr.write(`${line}\n`);

    log(`Seeding ${options.users} users…`);
    const seedStart = performance.now();
    const now = new Date().toISOString();
    for (let first = 1; first <= options.users; first += 2000) {
      const rows = [];
      for (let id = first; id < first + 2000 && id <= options.users; id++) {
        rows.push({ id, email: `u${id}@example.com`, name: `User ${id}`, created_at: `${CREATED_ON}T10:00:00.000Z` });
      }
      await db.insertInto('users').values(rows).execute();
    }
    // The export id comes from the run id, so its workflow ID is new even on a shared server (--address).
    const exportId = parseInt(env.runId, 16);
    await db
      .insertInto('exports')
      .values({
        id: exportId,
        start_date: CREATED_ON,
        end_date: CREATED_ON,
        slice_size: options.slice,
        created_at: now,
        updated_at: now,
      })
      .execute();
    log(`Seeded in ${formatDuration(performance.now() - seedStart)}; exporting…`);

    const started = performance.now();
    const { workflowId } = await env.client.enqueue(largeDataExport, { exportId });
    const stopProgress = env.progress(() => {
      const p = lastProgress;
      if (!p) return 'starting';
      const eta = p.etaSeconds === undefined ? '?' : formatDuration(p.etaSeconds * 1000);
      return (
        `${p.done + p.failed}/${p.total} slices (${p.percent}%), ${p.ratePerSecond} slices/s, ETA ${eta},` +
        ` worker RSS ${residentMb(workerPid).toFixed(0)} MB`
      );
    });
    let lastProgress: Awaited<ReturnType<typeof env.client.progress>>;
    const poller = setInterval(
      () =>
        void env.client
          .progress(workflowId)
          .then((p) => (lastProgress = p ?? lastProgress))
          .catch(() => {}),
      1000,
    );
    try {
      await env.client.temporal.workflow.getHandle(workflowId).result();
    } finally {
      clearInterval(poller);
      stopProgress();
    }
    const peakWorkerRssMb = residentMb(workerPid, 'VmHWM'); // the kernel's high-water mark of the worker process
    const wallSeconds = (performance.now() - started) / 1000;

    // Exactly once: a counter per user id over every slice's part, read page by page.
    const seen = new Uint8Array(options.users + 1);
    let extra = 0;
    for (let after = -1; ;) {
      const page = await db
        .selectFrom('export_slices')
        .select(['slice_no', 'content'])
        .where('export_id', '=', exportId)
        .where('slice_no', '>', after)
        .orderBy('slice_no')
        .limit(500)
        .execute();
      if (page.length === 0) break;
      for (const part of page) {
        for (const line of part.content.split('\n')) {
          if (!line) continue;
          const id = Number(line.slice(0, line.indexOf(',')));
          if (id >= 1 && id <= options.users) seen[id] = Math.min(255, seen[id]! + 1);
          else extra++;
        }
      }
      after = page[page.length - 1]!.slice_no;
    }
    let missing = 0;
    let duplicated = 0;
    for (let id = 1; id <= options.users; id++) {
      if (seen[id] === 0) missing++;
      else if (seen[id]! > 1) duplicated++;
    }
    const exactlyOnce = missing === 0 && duplicated === 0 && extra === 0;

    let maxHistory = 0;
    let runs = 0;
    for await (const run of env.client.temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      runs++;
      maxHistory = Math.max(maxHistory, run.historyLength);
    }

    const recordsPerSecond = options.users / wallSeconds;
    return {
      lines: [
        `batch: ${options.users} users in slices of ${options.slice} exported in` +
          ` ${formatDuration(wallSeconds * 1000)} = ${recordsPerSecond.toFixed(0)} records/s`,
        `  exactly once      ${exactlyOnce} (missing ${missing}, duplicated ${duplicated}, unknown ${extra})`,
        `  worker process    peak RSS ${peakWorkerRssMb.toFixed(0)} MB (its own process, ${options.concurrency} slots)`,
        `  parent history    largest run ${maxHistory} events, ${runs} runs (continue-as-new)`,
      ],
      metrics: {
        users: options.users,
        exactlyOnce,
        recordsPerSecond,
        wallSeconds,
        peakWorkerRssMb,
        maxParentHistoryLength: maxHistory,
      },
      problems: exactlyOnce
        ? []
        : [`export not exactly once: ${missing} missing, ${duplicated} duplicated, ${extra} unknown ids`],
    };
  }
}
