import { describe, expect, it } from 'vitest';
import { freePort } from '../src/dev-server';
import { jobctl } from './jobctl';

describe('jobctl http with no Temporal server to reach', () => {
  it('stops at start with one line naming the server, and exit code 1', async () => {
    const port = await freePort();
    const run = await jobctl(['http', '--port', String(port), '--host', '127.0.0.1'], {
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/Cannot reach the Temporal server at 127\.0\.0\.1:\d+/);
  });
});
