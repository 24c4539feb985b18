// The bare-SDK baseline of `npm run bench -- throughput`: plain workflows as the Temporal samples write them, with
// none of this project's job declaration, argument validation or instrumentation.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { BareActivities } from './activities';

const { bareNoop } = proxyActivities<BareActivities>({ startToCloseTimeout: '10s' });
const local = proxyLocalActivities<BareActivities>({ startToCloseTimeout: '10s' });

/** One no-op activity, through the server's activity task queue. */
export async function bareRemoteWorkflow(id: string): Promise<void> {
  await bareNoop(id);
}

/** The same no-op as a local activity: run by the workflow's worker within its workflow task. */
export async function bareLocalWorkflow(id: string): Promise<void> {
  await local.bareNoop(id);
}
