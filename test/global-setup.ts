import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { startDevServer, type DevServer } from '../src/dev-server';
import { resolveTemporalCli } from '../src/temporal-cli';
import { bundleWorkflows } from '../src/worker/workers';
import { TEST_WORKFLOWS } from './jobs/app';
import { TEST_LOG_DIR, timeSkippingServerPath } from './time-skipping-server';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Which server the run's tests share: the dev server (`npm test`) or `jobctl stack` (`npm run test:production`). */
    temporalServer: 'dev-server' | 'stack';
    temporalAddress: string;
    workflowBundlePath: string;
    timeSkippingServerPath: string;
  }
}

let server: DevServer | undefined;

/**
 * Starts ONE real Temporal dev server for the run and bundles the workflows once. The binary is resolved (or built
 * with Go) first, so the server start itself is quick. The servers' own logs go to test/.artifacts/logs/, not to the
 * test output.
 */
export default async function setup(project: TestProject) {
  await resolveTemporalCli();
  const timeSkippingServer = timeSkippingServerPath();
  server = await startDevServer({
    port: 0,
    headless: true,
    readyTimeoutMs: 60_000,
    logFile: path.join(TEST_LOG_DIR, 'temporal-dev-server.log'),
  });
  let bundle;
  try {
    bundle = await bundleWorkflows({ workflowsPath: TEST_WORKFLOWS });
  } catch (err) {
    await server.stop();
    throw err;
  }
  const bundlePath = path.resolve('test/.artifacts/workflow-bundle.js');
  fs.mkdirSync(path.dirname(bundlePath), { recursive: true });
  fs.writeFileSync(bundlePath, bundle.code);
  project.provide('temporalServer', 'dev-server');
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('timeSkippingServerPath', timeSkippingServer);
  return async () => {
    await server?.stop();
  };
}
