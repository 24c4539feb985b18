import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { resolveStackBinaries } from '../src/stack/binaries';
import { startStack, type Stack } from '../src/stack/stack';
import { bundleWorkflows } from '../src/worker/workers';
import { TEST_WORKFLOWS } from './jobs/app';
import { freeStackPorts } from './stack/stack-helpers';
import { TEST_LOG_DIR } from './time-skipping-server';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL URL whose user may create databases: each harness creates its own there (test/harness.ts). */
    testDatabaseUrl: string;
  }
}

/** Where the stack's own logs (services, PostgreSQL, progress) are copied when the run ends. */
const STACK_LOG_DIR = path.join(TEST_LOG_DIR, 'stack');

/**
 * `npm run test:production` (vitest.production.config.mts): starts ONE `jobctl stack` for the run — the Temporal
 * server on PostgreSQL as four processes with the compose dynamic config, SQL visibility, the search attributes
 * registered — in a temporary data directory on free ports, with no workers of its own (each test starts its own
 * through test/harness.ts). The app database is that PostgreSQL: TEST_DATABASE_URL, on which every harness creates a
 * database of its own. Binaries are resolved first (a cold machine builds them with Go, progress on stderr).
 */
export default async function setup(project: TestProject) {
  await resolveStackBinaries();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobs-test-stack-'));
  // PostgreSQL runs as the postgres user when the tests run as root: it must reach its data directory.
  fs.chmodSync(dataDir, 0o755);
  fs.rmSync(STACK_LOG_DIR, { recursive: true, force: true });
  fs.mkdirSync(STACK_LOG_DIR, { recursive: true });
  const progress = path.join(STACK_LOG_DIR, 'stack.log');
  const { port, postgresPort } = await freeStackPorts();
  let stack: Stack | undefined;
  const keepLogs = () => {
    const logDir = path.join(dataDir, 'logs');
    if (fs.existsSync(logDir)) fs.cpSync(logDir, STACK_LOG_DIR, { recursive: true });
  };
  const killNow = () => stack?.killNow();
  process.once('exit', killNow);
  try {
    stack = await startStack({
      dataDir,
      port,
      postgresPort,
      workers: 0,
      log: (line) => fs.appendFileSync(progress, `${line}\n`),
    });
  } catch (err) {
    keepLogs();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const bundlePath = path.resolve('test/.artifacts/stack-workflow-bundle.js');
  try {
    fs.mkdirSync(path.dirname(bundlePath), { recursive: true });
    fs.writeFileSync(bundlePath, (await bundleWorkflows({ workflowsPath: TEST_WORKFLOWS })).code);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const testDatabaseUrl = stack.postgres!.adminUrl;
  // Read by test/harness.ts (and tests that spawn processes); also provided, whatever the pool copied of our env.
  process.env.TEST_DATABASE_URL = testDatabaseUrl;
  project.provide('temporalServer', 'stack');
  project.provide('temporalAddress', stack.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('testDatabaseUrl', testDatabaseUrl);
  // No time-skipping server here: the files that need one stay in `npm test`.
  project.provide('timeSkippingServerPath', '');
  return async () => {
    try {
      await stack?.stop();
    } finally {
      process.off('exit', killNow);
      keepLogs();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  };
}
