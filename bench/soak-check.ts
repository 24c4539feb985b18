/**
 * The soak's pass/fail rules on what it counted (issue 26), apart from the stack so a unit test can show each rule
 * fails: effects per record whatever the key, dead jobs against the script, and faults done against the schedule.
 */

/** The effects the soak counts, each per record. */
export const EFFECT_KINDS = {
  deliveries: 'vendor deliveries per webhook payload',
  charges: 'gateway charges per payment',
  documents: 'invoice documents per invoice',
  rows: 'exported rows per user',
} as const;
export type EffectKind = keyof typeof EFFECT_KINDS;

export interface FaultCounts {
  kills: number;
  historyRestarts: number;
  postgresRestarts: number;
}

export interface SoakFacts {
  /** Per kind: each record's name (e.g. "webhook payload 17") → how many times its effect happened. */
  effects: Record<EffectKind, Map<string, number>>;
  /** Webhooks scripted to get two 4xx, so to end dead as designed. */
  scriptedDead: number;
  /** Dead jobs whose death their retry table explains. */
  deadAsDesigned: number;
  /** Dead webhooks and payments, by name, with the effects (deliveries, charges) their record had. */
  dead: Array<{ name: string; effects: number }>;
  scheduled: FaultCounts;
  done: FaultCounts;
}

export interface SoakCheck {
  /** Per kind: records with more than one effect, and the surplus effects. */
  duplicates: Record<EffectKind, { records: number; surplus: number }>;
  /** One line per broken rule, naming the records; empty when the soak passes these rules. */
  problems: string[];
}

const NAMED = 10;

const list = (names: string[]) =>
  names.slice(0, NAMED).join(', ') + (names.length > NAMED ? `, and ${names.length - NAMED} more` : '');

export function checkSoak(facts: SoakFacts): SoakCheck {
  const problems: string[] = [];
  const duplicates = {} as SoakCheck['duplicates'];
  for (const kind of Object.keys(EFFECT_KINDS) as EffectKind[]) {
    const twice = [...facts.effects[kind]].filter(([, n]) => n > 1);
    duplicates[kind] = { records: twice.length, surplus: twice.reduce((sum, [, n]) => sum + n - 1, 0) };
    if (twice.length > 0)
      problems.push(
        `${EFFECT_KINDS[kind]}: ${twice.length} records had more than one: ${list(twice.map(([name, n]) => `${name} ×${n}`))}`,
      );
  }
  if (facts.deadAsDesigned < facts.scriptedDead)
    problems.push(
      `${facts.scriptedDead} webhooks were scripted to end dead, but only ${facts.deadAsDesigned} jobs died as designed`,
    );
  const deadWithEffect = facts.dead.filter((d) => d.effects > 0);
  if (deadWithEffect.length > 0)
    problems.push(
      `${deadWithEffect.length} dead jobs had an effect: ${list(deadWithEffect.map((d) => `${d.name} ×${d.effects}`))}`,
    );
  const faults: Array<[keyof FaultCounts, string]> = [
    ['kills', 'worker kills'],
    ['historyRestarts', 'history restarts'],
    ['postgresRestarts', 'PostgreSQL restarts'],
  ];
  for (const [key, what] of faults)
    if (facts.done[key] < facts.scheduled[key])
      problems.push(`${what}: ${facts.done[key]} done of ${facts.scheduled[key]} scheduled`);
  return { duplicates, problems };
}

/** "2,000 users: 1,990 once, 10 twice or more, 0 none": a kind's effects per record, for the report. */
export function describeEffects(effects: Map<string, number>): string {
  let none = 0;
  let once = 0;
  let more = 0;
  let max = 0;
  for (const n of effects.values()) {
    if (n === 0) none++;
    else if (n === 1) once++;
    else more++;
    max = Math.max(max, n);
  }
  return `${effects.size} records: ${once} once, ${more} more than once, ${none} none (most ${max})`;
}
