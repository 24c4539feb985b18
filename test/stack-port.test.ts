import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_STACK_PORT, servicePorts } from '../src/stack/server-config';
import { startStack } from '../src/stack/stack';

/**
 * Temporal's PostgreSQL schema stores each service's membership port as a smallint: a frontend port whose worker
 * membership port passes 32767 kills the services at start ("value out of range for type smallint"). `jobctl stack`
 * refuses such a port up front, before it starts anything.
 */
describe('jobctl stack --port', () => {
  it('allows the highest port whose membership ports fit a smallint, and refuses the next one', async () => {
    const membership = Object.values(servicePorts(MAX_STACK_PORT)).map((p) => p.membership);
    expect(Math.max(...membership)).toBe(32_767);
    const dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stack-port-')), 'stack');
    await expect(startStack({ dataDir, port: MAX_STACK_PORT + 1, log: () => {} })).rejects.toThrow(
      `--port ${MAX_STACK_PORT + 1}: at most ${MAX_STACK_PORT}`,
    );
    expect(fs.existsSync(dataDir)).toBe(false); // nothing started, nothing created
  });
});
