import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createJobLogger } from '../src/instrumentation/logger';

// `npm start` on a terminal: the job events as one short coloured line each, not JSON.

function capture() {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  return { stream, text: () => chunks.join('') };
}

/** An ANSI colour sequence (ESC [ … m). */
const ESC = String.fromCharCode(27);
const COLOUR = new RegExp(`${ESC}\\[[\\d;]*m`);

const run = { workflowId: 'invoice-generation/42', runId: 'r1', task_queue: 'jobs-default' };

describe('dev log format', () => {
  it('prints each job event as one coloured line with the job, the run, the duration and the error', () => {
    const out = capture();
    const logger = createJobLogger({ format: 'pretty', colorize: true, destination: out.stream });
    logger.info({ event: 'job_started', job: 'invoice-generation', attempt: 1, ...run, enqueued_by: 'token:web' });
    logger.warn({
      event: 'activity_failed',
      job: 'invoice-generation',
      activity: 'generateInvoice',
      attempt: 2,
      duration_ms: 1250,
      error_type: 'VendorTimeout',
      error_message: 'no answer in 10 s',
      ...run,
    });
    logger.info({ event: 'job_succeeded', job: 'invoice-generation', attempt: 1, duration_ms: 38, ...run });
    logger.error({
      event: 'job_failed',
      job: 'process-payment',
      attempt: 1,
      duration_ms: 61_000,
      error_type: 'CardDeclined',
      error_message: 'insufficient funds',
      ...run,
    });

    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(line).toMatch(COLOUR); // coloured
      expect(line).not.toContain('{'); // no JSON object dumped after the line
    }
    const plain = lines.map((line) => line.replace(new RegExp(COLOUR, 'g'), ''));
    expect(plain[0]).toMatch(/INFO.*▶ started\s+invoice-generation\s+invoice-generation\/42\s+by token:web$/);
    expect(plain[1]).toMatch(
      /WARN.*↳ failed\s+generateInvoice\s+invoice-generation\/42\s+attempt 2\s+1\.3 s\s+VendorTimeout: no answer in 10 s$/,
    );
    expect(plain[2]).toMatch(/INFO.*✓ succeeded\s+invoice-generation\s+invoice-generation\/42\s+38 ms$/);
    expect(plain[3]).toMatch(
      /ERROR.*✗ failed\s+process-payment\s+invoice-generation\/42\s+1\.0 min\s+CardDeclined: insufficient funds$/,
    );
  });

  it('says other events in one line with their fields, and stays uncoloured when asked', () => {
    const out = capture();
    const logger = createJobLogger({ format: 'pretty', colorize: false, destination: out.stream });
    logger.info({ event: 'worker_ready', queues: ['jobs-default'] });
    const text = out.text();
    expect(text).not.toContain(ESC);
    expect(text.trimEnd().split('\n')).toHaveLength(1);
    expect(text).toMatch(/worker_ready\s+queues=\["jobs-default"\]/);
  });

  it('writes JSON lines everywhere else', async () => {
    const out = capture();
    const logger = createJobLogger({ destination: out.stream });
    logger.info({ event: 'job_succeeded', job: 'invoice-generation', duration_ms: 38, ...run });
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(out.text())).toMatchObject({
      event: 'job_succeeded',
      job: 'invoice-generation',
      duration_ms: 38,
    });
  });
});
