import { isGrpcServiceError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/**
 * Worker Deployments (README "Shipping changed job code") over Temporal's deployment APIs: what `jobctl deploy` shows
 * and changes. A deployment is named (`JOBS_DEPLOYMENT_NAME`); each build of the workflow code that polled it is one of
 * its versions. The server routes new runs to the current version (or a ramp's share to the ramping one), keeps pinned
 * runs on the version they started on, and moves auto-upgrading runs to the current version.
 */

const { WorkerDeploymentVersionStatus: VersionStatusEnum, TaskQueueType } = temporal.api.enums.v1;

/** gRPC's status code for "not found". */
const GRPC_NOT_FOUND = 5;

/** What a version is for routing: the current one, the ramping one, or neither (draining, drained, inactive). */
export type VersionRouting = 'current' | 'ramping' | 'draining' | 'drained' | 'inactive';

export interface VersionState {
  buildId: string;
  /** The server's view: current, ramping, draining (open pinned runs remain), drained or inactive (never current). */
  routing: VersionRouting;
  /** The ramping version's share of new runs, 0-100. */
  rampPercentage?: number;
  createdAt?: Date;
  /** When it last stopped being current or ramping. */
  deactivatedAt?: Date;
  /** Workers polling it now (by identity), over its task queues. */
  pollers: string[];
  /** Open runs pinned to it, counted from visibility now (the server's own drainage status lags by minutes). */
  openPinnedRuns: number;
  /** Open runs on it that auto-upgrade (they move to the current version at their next workflow task). */
  openAutoUpgradeRuns: number;
}

export interface DeploymentState {
  deploymentName: string;
  current?: string;
  ramping?: { buildId: string; percentage: number };
  /** Newest first. */
  versions: VersionState[];
}

/** Thrown for a deployment command that cannot be done as asked; the message says why and what to do. */
export class DeploymentCommandError extends Error {
  override name = 'DeploymentCommandError';
}

/** `<deployment>:<build>`, as the server, its CLI, visibility and the Web UI write a version. */
export const versionId = (deploymentName: string, buildId: string): string => `${deploymentName}:${buildId}`;

const toDate = (
  t: { seconds?: { toString(): string } | number | null; nanos?: number | null } | null | undefined,
): Date | undefined =>
  t?.seconds == null ? undefined : new Date(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6));

const ROUTING: Record<number, VersionRouting> = {
  [VersionStatusEnum.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT]: 'current',
  [VersionStatusEnum.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING]: 'ramping',
  [VersionStatusEnum.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING]: 'draining',
  [VersionStatusEnum.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED]: 'drained',
  [VersionStatusEnum.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE]: 'inactive',
};

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Open runs on a version with the given versioning behavior (`Pinned` or `AutoUpgrade`), from visibility. */
export async function countOpenRuns(
  client: Client,
  deploymentName: string,
  buildId: string,
  behavior: 'Pinned' | 'AutoUpgrade',
): Promise<number> {
  const query =
    `TemporalWorkerDeploymentVersion = ${quote(versionId(deploymentName, buildId))} AND ` +
    `TemporalWorkflowVersioningBehavior = ${quote(behavior)} AND ExecutionStatus = 'Running'`;
  const { count } = await client.workflow.count(query);
  return count;
}

/**
 * The deployment and each of its versions: routing, pollers, open pinned and auto-upgrading runs. Undefined when no
 * versioned worker ever polled under that name.
 */
export async function describeDeployment(client: Client, deploymentName: string): Promise<DeploymentState | undefined> {
  const { workflowService, options } = client;
  let info: temporal.api.deployment.v1.IWorkerDeploymentInfo | null | undefined;
  try {
    ({ workerDeploymentInfo: info } = await workflowService.describeWorkerDeployment({
      namespace: options.namespace,
      deploymentName,
    }));
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND) return undefined;
    throw err;
  }
  const routing = info?.routingConfig;
  const current = routing?.currentDeploymentVersion?.buildId || undefined;
  const rampingId = routing?.rampingDeploymentVersion?.buildId || undefined;
  const versions = await Promise.all(
    (info?.versionSummaries ?? []).map(async (summary): Promise<VersionState> => {
      const buildId = summary.deploymentVersion?.buildId ?? '';
      const [pollers, openPinnedRuns, openAutoUpgradeRuns] = await Promise.all([
        versionPollers(client, deploymentName, buildId),
        countOpenRuns(client, deploymentName, buildId, 'Pinned'),
        countOpenRuns(client, deploymentName, buildId, 'AutoUpgrade'),
      ]);
      return {
        buildId,
        routing: ROUTING[summary.status ?? 0] ?? (buildId === current ? 'current' : 'inactive'),
        ...(buildId === rampingId ? { rampPercentage: routing?.rampingVersionPercentage ?? 0 } : {}),
        createdAt: toDate(summary.createTime),
        deactivatedAt: toDate(summary.lastDeactivationTime),
        pollers,
        openPinnedRuns,
        openAutoUpgradeRuns,
      };
    }),
  );
  versions.sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
  return {
    deploymentName,
    current,
    ...(rampingId ? { ramping: { buildId: rampingId, percentage: routing?.rampingVersionPercentage ?? 0 } } : {}),
    versions,
  };
}

/** Identities of the workers polling a version now, over the task queues it registered (workflow and activity). */
async function versionPollers(client: Client, deploymentName: string, buildId: string): Promise<string[]> {
  const { workflowService, options } = client;
  const { workerDeploymentVersionInfo } = await workflowService.describeWorkerDeploymentVersion({
    namespace: options.namespace,
    deploymentVersion: { deploymentName, buildId },
  });
  const queues = workerDeploymentVersionInfo?.taskQueueInfos ?? [];
  const identities = new Set<string>();
  await Promise.all(
    queues.map(async ({ name, type }) => {
      const { pollers } = await workflowService.describeTaskQueue({
        namespace: options.namespace,
        taskQueue: { name },
        taskQueueType: type ?? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      for (const poller of pollers ?? []) {
        if (poller.deploymentOptions?.buildId === buildId && poller.deploymentOptions.deploymentName === deploymentName)
          identities.add(poller.identity ?? '?');
      }
    }),
  );
  return [...identities].sort();
}

/**
 * The deployment's routing and versions as the server has them, and the token that guards changing them: one call,
 * for the commands that change routing (they need neither pollers nor run counts). Throws when it does not exist.
 */
async function readRouting(
  client: Client,
  deploymentName: string,
): Promise<{ current?: string; buildIds: string[]; conflictToken?: Uint8Array }> {
  try {
    const { conflictToken, workerDeploymentInfo: info } = await client.workflowService.describeWorkerDeployment({
      namespace: client.options.namespace,
      deploymentName,
    });
    return {
      current: info?.routingConfig?.currentDeploymentVersion?.buildId || undefined,
      buildIds: (info?.versionSummaries ?? []).map((v) => v.deploymentVersion?.buildId ?? ''),
      conflictToken: conflictToken ?? undefined,
    };
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND) {
      throw new DeploymentCommandError(
        `no worker deployment "${deploymentName}": start workers with JOBS_WORKER_VERSIONING=on ` +
          `(and JOBS_DEPLOYMENT_NAME=${deploymentName}) first`,
      );
    }
    throw err;
  }
}

function requireVersion(routing: { buildIds: string[] }, deploymentName: string, buildId: string): void {
  if (!routing.buildIds.includes(buildId)) {
    throw new DeploymentCommandError(
      `deployment "${deploymentName}" has no version ${buildId}; its versions: ${routing.buildIds.join(', ') || 'none'}`,
    );
  }
}

/** Turns the server's refusal (a version without pollers, an unknown version) into a message that says what to do. */
function explain(err: unknown, deploymentName: string, buildId: string): never {
  if (isGrpcServiceError(err) && err.details) {
    throw new DeploymentCommandError(`${versionId(deploymentName, buildId)}: ${err.details}`);
  }
  throw err;
}

/** Makes a version current: every new run, and every auto-upgrading run at its next workflow task, goes to it. */
export async function setCurrentVersion(
  client: Client,
  deploymentName: string,
  buildId: string,
  identity = 'jobctl deploy',
): Promise<{ previous?: string }> {
  const before = await readRouting(client, deploymentName);
  requireVersion(before, deploymentName, buildId);
  try {
    await client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace: client.options.namespace,
      deploymentName,
      buildId,
      conflictToken: before.conflictToken,
      identity,
    });
  } catch (err) {
    explain(err, deploymentName, buildId);
  }
  return { previous: before.current };
}

/**
 * Sends `percentage` (0-100) of new runs to `buildId` while the current version takes the rest; auto-upgrading runs
 * follow the same split. 0 keeps it ramping at none; `stopRamp` ends the ramp.
 */
export async function setRampingVersion(
  client: Client,
  deploymentName: string,
  buildId: string,
  percentage: number,
  identity = 'jobctl deploy',
): Promise<void> {
  if (!(percentage >= 0 && percentage <= 100)) throw new DeploymentCommandError('percentage must be from 0 to 100');
  const state = await readRouting(client, deploymentName);
  if (state.current === buildId)
    throw new DeploymentCommandError(`${buildId} is the current version already: ramp a newer one`);
  requireVersion(state, deploymentName, buildId);
  try {
    await client.workflowService.setWorkerDeploymentRampingVersion({
      namespace: client.options.namespace,
      deploymentName,
      buildId,
      percentage,
      conflictToken: state.conflictToken,
      identity,
    });
  } catch (err) {
    explain(err, deploymentName, buildId);
  }
}

/** Ends a ramp: new runs all go to the current version again. */
export async function stopRamp(client: Client, deploymentName: string, identity = 'jobctl deploy'): Promise<void> {
  await client.workflowService.setWorkerDeploymentRampingVersion({
    namespace: client.options.namespace,
    deploymentName,
    buildId: '',
    percentage: 0,
    conflictToken: (await readRouting(client, deploymentName)).conflictToken,
    identity,
  });
}

/**
 * Rolls back: a ramp in progress is stopped (its share returns to the current version); otherwise the version that was
 * current before this one becomes current again (the most recently deactivated one that still has workers polling).
 * Runs pinned to the newer version stay on it (they drain there); new runs go back.
 */
export async function rollback(
  client: Client,
  deploymentName: string,
  identity = 'jobctl deploy',
): Promise<{ action: 'stopped-ramp' | 'set-current'; buildId: string; from?: string }> {
  const state = await describeDeployment(client, deploymentName);
  if (!state) throw new DeploymentCommandError(`no worker deployment "${deploymentName}"`);
  if (state.ramping && state.ramping.buildId !== '') {
    await stopRamp(client, deploymentName, identity);
    return { action: 'stopped-ramp', buildId: state.ramping.buildId };
  }
  const candidates = state.versions
    .filter((v) => v.buildId !== state.current && v.deactivatedAt !== undefined)
    .sort((a, b) => b.deactivatedAt!.getTime() - a.deactivatedAt!.getTime());
  const previous = candidates[0];
  if (!previous) {
    throw new DeploymentCommandError(
      `deployment "${deploymentName}" has no earlier current version to roll back to (current: ${state.current ?? 'none'})`,
    );
  }
  if (previous.pollers.length === 0) {
    throw new DeploymentCommandError(
      `cannot roll back to ${previous.buildId}: no worker of that version is polling; start its workers first ` +
        `(the image or bundle of ${previous.buildId}), then run rollback again`,
    );
  }
  await setCurrentVersion(client, deploymentName, previous.buildId, identity);
  return { action: 'set-current', buildId: previous.buildId, from: state.current };
}

/**
 * Deletes a version from the deployment once nothing needs it: not current or ramping, no worker polling it, and no
 * open run pinned to it (counted now). Refuses otherwise, saying which.
 */
export async function retireVersion(
  client: Client,
  deploymentName: string,
  buildId: string,
  identity = 'jobctl deploy',
): Promise<void> {
  const state = await describeDeployment(client, deploymentName);
  const version = state?.versions.find((v) => v.buildId === buildId);
  if (!state || !version) throw new DeploymentCommandError(`deployment "${deploymentName}" has no version ${buildId}`);
  if (state.current === buildId || state.ramping?.buildId === buildId)
    throw new DeploymentCommandError(
      `${buildId} is ${state.current === buildId ? 'current' : 'ramping'}: cannot retire it`,
    );
  if (version.openPinnedRuns > 0) {
    throw new DeploymentCommandError(
      `${buildId} still has ${version.openPinnedRuns} open pinned run(s): they finish on it; keep its workers running ` +
        'until `jobctl deploy status` shows it drained',
    );
  }
  if (version.pollers.length > 0) {
    throw new DeploymentCommandError(
      `${buildId} has workers polling (${version.pollers.join(', ')}): stop them first, then retire it`,
    );
  }
  try {
    await client.workflowService.deleteWorkerDeploymentVersion({
      namespace: client.options.namespace,
      deploymentVersion: { deploymentName, buildId },
      // Our own count above found no open pinned run; the server's drainage status lags it by minutes.
      skipDrainage: true,
      identity,
    });
  } catch (err) {
    explain(err, deploymentName, buildId);
  }
}

/**
 * Waits until workers of a version poll (up to `timeoutMs`), then makes it current unless it is already. What a
 * single-deployment setup wants at start — `jobctl dev`, `jobctl stack`, a compose `deploy` one-shot — where nothing is
 * ramped by hand: with Worker Versioning on and no current version, new runs would wait for one.
 */
export async function promoteWhenPolling(
  client: Client,
  deploymentName: string,
  buildId: string,
  options: { timeoutMs?: number; identity?: string; signal?: AbortSignal } = {},
): Promise<{ previous?: string; alreadyCurrent: boolean }> {
  const deadline = Date.now() + (options.timeoutMs ?? 5 * 60_000);
  for (;;) {
    const state = await describeDeployment(client, deploymentName);
    const version = state?.versions.find((v) => v.buildId === buildId);
    if (state && version && version.pollers.length > 0) {
      if (state.current === buildId) return { previous: buildId, alreadyCurrent: true };
      const { previous } = await setCurrentVersion(client, deploymentName, buildId, options.identity);
      return { previous, alreadyCurrent: false };
    }
    if (options.signal?.aborted) throw new DeploymentCommandError('stopped before the version was made current');
    if (Date.now() > deadline) {
      throw new DeploymentCommandError(
        `no worker of ${versionId(deploymentName, buildId)} polled within ${Math.round(
          (options.timeoutMs ?? 300_000) / 1000,
        )} s: is it running, with JOBS_WORKER_VERSIONING=on?`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
