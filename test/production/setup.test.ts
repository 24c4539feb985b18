import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../harness';

/**
 * `npm run test:production` runs what it says: every file of it talks to a Temporal server on PostgreSQL (SQL
 * visibility), and each harness's app data is in a PostgreSQL database of its own, so no file sees another's rows.
 * Without this, a setup that silently fell back to the dev server or to SQLite would still pass.
 */
describe('the production test run', () => {
  let a: Harness;
  let b: Harness;
  beforeAll(async () => {
    [a, b] = await Promise.all([createHarness(), createHarness()]);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('runs on a Temporal server that stores state and visibility in PostgreSQL', async () => {
    const info = await a.env.connection.workflowService.getClusterInfo({});
    expect(info).toMatchObject({ persistenceStore: 'postgres12', visibilityStore: 'postgres12' });
  });

  it('gives each harness a PostgreSQL database of its own', async () => {
    expect(a.database.dialect).toBe('postgres');
    expect(b.database.dialect).toBe('postgres');
    expect(a.databaseEnv).not.toEqual(b.databaseEnv);
    await a.createUsers(3, '2026-03-01');
    const count = async (h: Harness) =>
      Number(
        (
          await h.database.db
            .selectFrom('users')
            .select((e) => e.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect(await count(a)).toBe(3);
    expect(await count(b)).toBe(0);
  });
});
