import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import pino from 'pino';
import { DeterminismViolationError } from '@temporalio/workflow';
import { describe, expect, inject, it } from 'vitest';
import { bundleHasTracing, workflowTracingSinks } from '../src/instrumentation/tracing';
import { jobEventSinks } from '../src/worker/worker-instrumentation';
import { bundleWorkflows } from '../src/worker/workers';
import { TEST_WORKFLOWS } from './jobs/app';
import * as workflows from './jobs';
import { quietTemporalRuntime } from './harness';

// The negative control's expected nondeterminism warning would drown the output.
quietTemporalRuntime();

/**
 * Determinism: every history in test/histories (recorded by `npx tsx test/record-histories.ts`) replays against the
 * current workflow code, with the bundle the workers run (interceptors included). A change to a workflow that would
 * break its running executions fails here; gate it with `patched()`, or re-record when no execution can be affected.
 */
const HISTORIES_DIR = path.resolve(__dirname, 'histories');

interface RecordedHistory {
  file: string;
  workflowType: string;
  history: temporal.api.history.v1.History;
}

function loadHistories(): RecordedHistory[] {
  return fs
    .readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const history = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as {
        events: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }>;
      };
      const workflowType = history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
      if (!workflowType) throw new Error(`${file}: the first event is not WorkflowExecutionStarted`);
      // Decoded here, not by the SDK: its historyFromJSON fails in this install with "type must be a Type" —
      // @temporalio/common and @temporalio/proto each nest their own copy of protobufjs, so protojson's instanceof
      // check rejects proto's types. fromObject reads exactly what JSON.stringify(history) wrote.
      return { file, workflowType, history: temporal.api.history.v1.History.fromObject(history) };
    });
}

const histories = loadHistories();
/** The workers' own bundle (global setup), with their sinks registered: replay never calls them, but it logs an error per unregistered one. */
const replayOptions = (): ReplayWorkerOptions => ({
  workflowBundle: { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') },
  sinks: jobEventSinks(pino({ level: 'silent' })),
});

describe('workflow determinism', () => {
  it('has a recorded history of every workflow type exported by workflows/index.ts', () => {
    const recorded = new Set(histories.map((h) => h.workflowType));
    const types = Object.entries(workflows)
      .filter(([, value]) => typeof value === 'function')
      .map(([name]) => name);
    expect(types).toContain('exportSliceWorkflow');
    const missing = types.filter((type) => !recorded.has(type));
    expect(missing, 'record them with `npx tsx test/record-histories.ts`').toEqual([]);
  });

  it('replays every recorded history against the current workflow code', async () => {
    const results: Array<{ file: string; error?: string }> = [];
    const replay = Worker.runReplayHistories(
      replayOptions(),
      histories.map((h) => ({ workflowId: h.file, history: h.history })),
    );
    for await (const result of replay)
      results.push({ file: result.workflowId, ...(result.error ? { error: String(result.error) } : {}) });
    expect(results).toEqual(histories.map((h) => ({ file: h.file })));
  });

  it('replays every recorded history with the tracing interceptors in the bundle too (README "Traces")', async () => {
    // Tracing adds no commands: runs started without it continue on workers that trace, and the other way round.
    const traced = await bundleWorkflows({ workflowsPath: TEST_WORKFLOWS, tracing: true });
    expect(bundleHasTracing(traced)).toBe(true);
    const results: Array<{ file: string; error?: string }> = [];
    const replay = Worker.runReplayHistories(
      { workflowBundle: traced, sinks: { ...jobEventSinks(pino({ level: 'silent' })), ...workflowTracingSinks() } },
      histories.map((h) => ({ workflowId: h.file, history: h.history })),
    );
    for await (const result of replay)
      results.push({ file: result.workflowId, ...(result.error ? { error: String(result.error) } : {}) });
    expect(results).toEqual(histories.map((h) => ({ file: h.file })));
  });

  it('fails with a DeterminismViolationError when a workflow changed without a patch (negative control)', async () => {
    const invoice = histories.find((h) => h.file === 'invoiceGenerationWorkflow.json');
    expect(invoice).toBeDefined();
    const changed = await bundleWorkflows({ workflowsPath: path.resolve(__dirname, 'fixtures/changed-workflows.ts') });
    const replay = Worker.runReplayHistory({ workflowBundle: changed }, invoice!.history, 'changed-invoice');
    await expect(replay).rejects.toBeInstanceOf(DeterminismViolationError);
    await expect(replay).rejects.toThrow(/nondeterminism/i);
  });
});
