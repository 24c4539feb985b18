import { describe, expect, it } from 'vitest';
import { checkSoak, describeEffects, type SoakFacts } from '../bench/soak-check';

/** A soak where every rule holds: each record's effect once, the scripted webhook dead, every fault done. */
function passing(): SoakFacts {
  return {
    effects: {
      deliveries: new Map([
        ['webhook payload 1', 1],
        ['webhook payload 2', 0],
      ]),
      charges: new Map([['payment 7', 1]]),
      documents: new Map([['invoice 3', 1]]),
      rows: new Map([['export 1 user 10', 1]]),
    },
    scriptedDead: 1,
    deadAsDesigned: 1,
    dead: [{ name: 'webhook payload 2', effects: 0 }],
    scheduled: { kills: 3, historyRestarts: 1, postgresRestarts: 1 },
    done: { kills: 3, historyRestarts: 1, postgresRestarts: 1 },
  };
}

describe('the soak checks', () => {
  it('pass when each record had its effect at most once, the scripted jobs died and every fault happened', () => {
    expect(checkSoak(passing())).toEqual({
      duplicates: {
        deliveries: { records: 0, surplus: 0 },
        charges: { records: 0, surplus: 0 },
        documents: { records: 0, surplus: 0 },
        rows: { records: 0, surplus: 0 },
      },
      problems: [],
    });
  });

  it.each([
    ['deliveries', 'webhook payload 1', /vendor deliveries per webhook payload: 1 records .*webhook payload 1 ×2/],
    ['charges', 'payment 7', /gateway charges per payment: 1 records .*payment 7 ×2/],
    ['documents', 'invoice 3', /invoice documents per invoice: 1 records .*invoice 3 ×2/],
    ['rows', 'export 1 user 10', /exported rows per user: 1 records .*export 1 user 10 ×2/],
  ] as const)('fail on a second %s effect of one record, naming it', (kind, name, message) => {
    const facts = passing();
    facts.effects[kind].set(name, 2);
    const check = checkSoak(facts);
    expect(check.problems).toHaveLength(1);
    expect(check.problems[0]).toMatch(message);
    expect(check.duplicates[kind]).toEqual({ records: 1, surplus: 1 });
  });

  it('fail when fewer jobs died as designed than were scripted to', () => {
    const facts = { ...passing(), deadAsDesigned: 0 };
    expect(checkSoak(facts).problems).toEqual([
      '1 webhooks were scripted to end dead, but only 0 jobs died as designed',
    ]);
  });

  it('fail when a dead webhook or payment had an effect, naming it', () => {
    const facts = { ...passing(), dead: [{ name: 'payment 7', effects: 1 }] };
    expect(checkSoak(facts).problems).toEqual(['1 dead jobs had an effect: payment 7 ×1']);
  });

  it.each([
    ['kills', 'worker kills: 2 done of 3 scheduled'],
    ['historyRestarts', 'history restarts: 0 done of 1 scheduled'],
    ['postgresRestarts', 'PostgreSQL restarts: 0 done of 1 scheduled'],
  ] as const)('fail when fewer %s happened than scheduled', (key, message) => {
    const facts = passing();
    facts.done[key]--;
    expect(checkSoak(facts).problems).toEqual([message]);
  });

  it('name at most ten records and count the rest', () => {
    const facts = passing();
    for (let i = 0; i < 12; i++) facts.effects.rows.set(`export 1 user ${100 + i}`, 3);
    const [problem] = checkSoak(facts).problems;
    expect(problem).toContain('12 records had more than one');
    expect(problem).toContain('export 1 user 109 ×3, and 2 more');
    expect(problem).not.toContain('user 110');
  });

  it('describe a kind of effect per record', () => {
    expect(
      describeEffects(
        new Map([
          ['a', 0],
          ['b', 1],
          ['c', 1],
          ['d', 3],
        ]),
      ),
    ).toBe('4 records: 2 once, 1 more than once, 1 none (most 3)');
  });
});
