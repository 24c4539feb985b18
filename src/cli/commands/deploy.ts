import fs from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import type { DeploymentState } from '../../client/deployments';
import type { ReplayFailure } from '../../worker/replay';
import { lazy } from '../lazy';
import { fields, print, table } from '../output';
import { parsePositiveInt } from '../parsers';

/**
 * Shipping changed job code (README "Shipping changed job code"): `jobctl deploy …` over Temporal's Worker Deployment
 * APIs, and `jobctl replay`, which replays runs' histories against the code about to be deployed.
 */
export function addDeployCommands(program: Command): void {
  const deploy = program
    .command('deploy')
    .description(
      'Worker Versioning: the versions of this deployment (JOBS_DEPLOYMENT_NAME, default the task queue prefix), ' +
        'which is current and ramping, and moving new runs between them',
    );

  deploy
    .command('status')
    .description('versions, current and ramping, workers polling each, open pinned runs (drained when none)')
    .option('--json', 'one JSON object')
    .action(async (opts: { json?: boolean }) =>
      withClient(async (client, deploymentName) => {
        const state = await lazy.deployments().describeDeployment(client.temporal, deploymentName);
        if (!state) {
          throw new Error(
            `no worker deployment "${deploymentName}" yet: run workers with JOBS_WORKER_VERSIONING=on ` +
              `(JOBS_DEPLOYMENT_NAME=${deploymentName})`,
          );
        }
        print(opts.json ?? false, state, () =>
          formatStatus(state, deploymentUrl(client.uiUrl, client.namespace, deploymentName)),
        );
      }),
    );

  deploy
    .command('set-current')
    .description(
      'make a version current: new runs go to it, auto-upgrading runs move to it; pinned runs stay where they are. ' +
        "Without a build ID: this process's own (JOBS_BUILD_ID, else the workflow bundle's)",
    )
    .argument('[build-id]', 'the version to make current (`jobctl deploy status` lists them)')
    .option('--wait', 'wait (up to 5 minutes) until workers of that version poll, then set it')
    .action(async (buildIdArg: string | undefined, opts: { wait?: boolean }) =>
      withClient(async (client, deploymentName) => {
        const buildId = buildIdArg ?? (await ownBuildId());
        const deployments = lazy.deployments();
        const { previous } = opts.wait
          ? await deployments.promoteWhenPolling(client.temporal, deploymentName, buildId)
          : await deployments.setCurrentVersion(client.temporal, deploymentName, buildId);
        process.stderr.write(
          previous === buildId
            ? `${deploymentName}:${buildId} was current already\n`
            : `${deploymentName}:${buildId} is current (was ${previous ?? 'none'}): new runs start on it\n`,
        );
      }),
    );

  deploy
    .command('ramp')
    .description('send a share of new runs (and of auto-upgrading runs) to a version, the rest to the current one')
    .argument('<build-id>', 'the version to ramp')
    .argument('<percent>', '0-100', parsePercent)
    .action(async (buildId: string, percent: number) =>
      withClient(async (client, deploymentName) => {
        await lazy.deployments().setRampingVersion(client.temporal, deploymentName, buildId, percent);
        process.stderr.write(`${deploymentName}:${buildId} is ramping at ${percent} %\n`);
      }),
    );

  deploy
    .command('rollback')
    .description(
      'stop a ramp; with none, make the version that was current before this one current again. Runs pinned to the ' +
        'newer version finish on it',
    )
    .action(async () =>
      withClient(async (client, deploymentName) => {
        const done = await lazy.deployments().rollback(client.temporal, deploymentName);
        process.stderr.write(
          done.action === 'stopped-ramp'
            ? `ramp of ${done.buildId} stopped: new runs go to the current version\n`
            : `${deploymentName}:${done.buildId} is current again (was ${done.from ?? 'none'})\n`,
        );
      }),
    );

  deploy
    .command('retire')
    .description('delete a drained version: refused while it is current or ramping, has open pinned runs or workers')
    .argument('<build-id>')
    .action(async (buildId: string) =>
      withClient(async (client, deploymentName) => {
        await lazy.deployments().retireVersion(client.temporal, deploymentName, buildId);
        process.stderr.write(`${deploymentName}:${buildId} retired\n`);
      }),
    );

  program
    .command('replay')
    .description(
      "replay runs' histories against workflow code before deploying it: open and recently closed runs on the server " +
        '(a sample per workflow type), or history files; exits 1 naming each run and event that would break',
    )
    .option('--bundle <file>', 'the workflow bundle to check (`jobctl bundle`); default: bundle the workflows now')
    .option('--job <names...>', "only these jobs' workflows (their child workflows too: use --workflow-type)")
    .option('--workflow-type <types...>', 'only these workflow types')
    .option('--sample <n>', 'runs per workflow type, open ones first', parsePositiveInt, 20)
    .option('--since <duration>', 'closed runs count if they closed within this, e.g. 24h, 7d', parseSince, '24h')
    .option('--histories <dir>', 'replay the JSON history files in this directory instead of the server')
    .option('--json', 'one JSON object: the runs replayed by type, and the failures')
    .action(
      async (opts: {
        bundle?: string;
        job?: string[];
        workflowType?: string[];
        sample: number;
        since: string;
        histories?: string;
        json?: boolean;
      }) => {
        // The replayer's own lines (workers starting and stopping) are not the report.
        const { Runtime, DefaultLogger } = lazy.temporalWorker();
        Runtime.install({ logger: new DefaultLogger('WARN') });
        const replay = lazy.replay();
        const workers = lazy.workers();
        // Read as it is: a bundle of other code (an older or newer build than this checkout) is the point.
        const bundle = opts.bundle ? { code: readBundle(opts.bundle) } : await workers.bundleWorkflows();
        const buildId = workers.buildIdOf(bundle);
        const types = [...(opts.workflowType ?? []), ...(opts.job ?? []).map(jobWorkflowType)];
        const onResult = (source: { workflowId: string; runId?: string }, failure?: ReplayFailure) => {
          if (failure && !opts.json) process.stderr.write(`${formatFailure(failure)}\n`);
        };
        let report;
        if (opts.histories) {
          const files = [...replay.fileHistories(opts.histories)].filter(
            (h) => types.length === 0 || types.includes(h.workflowType),
          );
          report = await replay.replayHistories(bundle, files, onResult);
        } else {
          const client = await lazy.client().JobClient.connect(lazy.config().readSettings());
          try {
            const since = new Date(Date.now() - lazy.jobTiming().parseJobDuration(opts.since, 'since'));
            report = await replay.replayHistories(
              bundle,
              replay.serverHistories(client.temporal, { workflowTypes: types, sample: opts.sample, since }),
              onResult,
            );
          } finally {
            await client.close();
          }
        }
        const total = Object.values(report.replayed).reduce((a, b) => a + b, 0);
        print(opts.json ?? false, { buildId, ...report }, () =>
          [
            `Replayed ${total} run(s) against ${opts.bundle ?? 'the workflows bundled now'} (build ${buildId}):`,
            ...Object.entries(report.replayed).map(([type, n]) => `  ${type}  ${n}`),
            report.failures.length === 0
              ? 'No nondeterminism: this code can take these runs over.'
              : `${report.failures.length} run(s) would break on this code (above). Gate the change with patched(), ` +
                'or ship it as a new version with the job pinned.',
          ].join('\n'),
        );
        if (total === 0) process.stderr.write('jobctl replay: no runs found to replay\n');
        if (report.failures.length > 0) process.exitCode = 1;
      },
    );
}

function readBundle(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`--bundle: no workflow bundle at ${file} (write one with \`jobctl bundle --out ${file}\`)`);
  }
}

function formatFailure(f: ReplayFailure): string {
  const run = f.runId ? `${f.workflowId} (run ${f.runId})` : f.workflowId;
  const event =
    f.eventId === undefined
      ? ''
      : ` at event ${f.eventId} (the workflow task completed there${f.eventType ? `, then ${f.eventType}` : ''})`;
  return `${f.kind === 'nondeterminism' ? 'NONDETERMINISM' : 'REPLAY ERROR'} ${f.workflowType} ${run}${event}: ${f.message}`;
}

function jobWorkflowType(name: string): string {
  const job = lazy.jobs().findJob(name);
  if (!job) throw new InvalidArgumentError(`no job "${name}" (jobctl jobs lists them)`);
  return job.workflowType;
}

function parsePercent(value: string): number {
  const n = Number(value.replace(/%$/, ''));
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError('must be a percentage from 0 to 100');
  return n;
}

function parseSince(value: string): string {
  try {
    lazy.jobTiming().parseJobDuration(value, 'since');
  } catch {
    throw new InvalidArgumentError('must be a duration such as 30m, 24h or 7d');
  }
  return value;
}

async function withClient(
  action: (client: import('../../client/client').JobClient, deploymentName: string) => Promise<void>,
): Promise<void> {
  const settings = lazy.config().readSettings();
  const client = await lazy.client().JobClient.connect(settings);
  try {
    await action(client, settings.workerVersioning.deploymentName);
  } finally {
    await client.close();
  }
}

/** This process's build ID: JOBS_BUILD_ID, else the bundle's (JOBS_WORKFLOW_BUNDLE, else the workflows bundled now). */
async function ownBuildId(): Promise<string> {
  const settings = lazy.config().readSettings();
  if (settings.workerVersioning.buildId) return settings.workerVersioning.buildId;
  const workers = lazy.workers();
  const bundle = settings.workflowBundlePath
    ? workers.loadWorkflowBundle(settings.workflowBundlePath)
    : await workers.bundleWorkflows();
  return workers.buildIdOf(bundle);
}

/** The deployment's page in the Web UI (its Workers → Deployments view). */
export function deploymentUrl(uiUrl: string, namespace: string, deploymentName: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/worker-deployments/${encodeURIComponent(deploymentName)}`;
}

function formatStatus(state: DeploymentState, url: string): string {
  const rows = state.versions.map((v) => [
    v.buildId,
    v.buildId === state.current
      ? 'current'
      : v.rampPercentage !== undefined
        ? `ramping ${v.rampPercentage} %`
        : v.routing,
    String(v.pollers.length),
    String(v.openPinnedRuns),
    String(v.openAutoUpgradeRuns),
    v.buildId === state.current || v.rampPercentage !== undefined
      ? ''
      : v.openPinnedRuns === 0
        ? 'drained'
        : 'draining',
  ]);
  return [
    fields([
      ['Deployment', state.deploymentName],
      ['Current', state.current ?? 'none (new runs wait for `jobctl deploy set-current`)'],
      ['Ramping', state.ramping ? `${state.ramping.buildId} at ${state.ramping.percentage} %` : 'none'],
      ['Web UI', url],
    ]),
    '',
    table(['BUILD ID', 'ROUTING', 'WORKERS', 'OPEN PINNED', 'OPEN AUTO-UPGRADE', 'DRAINAGE'], rows),
  ].join('\n');
}
