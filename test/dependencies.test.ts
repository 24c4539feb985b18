import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ICruiseOptions, ICruiseResult } from 'dependency-cruiser' with { 'resolution-mode': 'import' };
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The dependency rules of .dependency-cruiser.cjs (the library in src/ imports nothing of the application, the
 * application reaches src/ only through the package's entry points, workflow code has no Node built-ins, and there is
 * no import circle, type-only imports included), checked by dependency-cruiser through its JavaScript API. The same
 * check by hand, with each rule's reason: `npx depcruise --config .dependency-cruiser.cjs src workflows activities`.
 */
const root = path.resolve(__dirname, '..');
const configFile = path.join(root, '.dependency-cruiser.cjs');

/** What the rules look at: the library, the example application and the benchmarks, as far as they exist yet. */
const cruised = ['src', 'workflows', 'activities', 'app.ts', 'bench'];

/** dependency-cruiser is ESM only: loaded the way a CommonJS module can. */
async function cruiseWithConfig(baseDir: string, tsConfigFile: string): Promise<ICruiseResult> {
  const [{ cruise }, { default: extractDepcruiseOptions }, { default: extractTSConfig }] = await Promise.all([
    import('dependency-cruiser'),
    import('dependency-cruiser/config-utl/extract-depcruise-options'),
    import('dependency-cruiser/config-utl/extract-ts-config'),
  ]);
  const options: ICruiseOptions = {
    ...(await extractDepcruiseOptions(configFile)),
    baseDir,
    tsConfig: { fileName: tsConfigFile },
  };
  const existing = cruised.filter((name) => fs.existsSync(path.join(baseDir, name)));
  const { output } = await cruise(existing, options, {}, { tsConfig: extractTSConfig(tsConfigFile) });
  if (typeof output === 'string') throw new Error(`dependency-cruiser returned a string, not a result: ${output}`);
  return output;
}

/**
 * One line per violation, `rule: from → to`, in the order of the rules in the config and then alphabetically; a circle
 * also names the modules it goes through.
 */
function violationLines(result: ICruiseResult): string[] {
  const ruleOrder = (result.summary.ruleSetUsed?.forbidden ?? []).map(({ name }) => name);
  return [...result.summary.violations]
    .sort(
      (a, b) =>
        ruleOrder.indexOf(a.rule.name) - ruleOrder.indexOf(b.rule.name) ||
        a.from.localeCompare(b.from) ||
        a.to.localeCompare(b.to),
    )
    .map(({ rule, from, to, cycle }) => {
      const circle = cycle?.length ? ` (circle: ${[from, ...cycle.map(({ name }) => name)].join(' → ')})` : '';
      return `${rule.name}: ${from} → ${to}${circle}`;
    });
}

describe('dependency rules (.dependency-cruiser.cjs)', () => {
  it('hold for the library, the application and the benchmarks', async () => {
    const lines = violationLines(await cruiseWithConfig(root, path.join(root, 'tsconfig.json')));
    if (lines.length > 0) {
      expect.fail(`${lines.length} dependency rule violation(s), see .dependency-cruiser.cjs:\n${lines.join('\n')}`);
    }
  }, 30_000);

  describe('can fail: a scratch tree that breaks every rule', () => {
    let dir: string;
    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({
        compilerOptions: { module: 'node16', strict: true },
        include: ['src', 'workflows'],
      }),
      // The library importing the application.
      'src/lib.ts': `import { job } from '../workflows/job';\nexport const lib = job;\n`,
      // A circle of type-only imports.
      'src/a.ts': `import type { B } from './b';\nexport interface A { b?: B }\n`,
      'src/b.ts': `import type { A } from './a';\nexport interface B { a?: A }\n`,
      'src/internal.ts': `export const internal = 1;\n`,
      // A workflow with a Node built-in and a relative import into src/ (a type-only built-in is fine).
      'workflows/job.ts': [
        `import { readFileSync } from 'node:fs';`,
        `import type { CpuInfo } from 'node:os';`,
        `import { internal } from '../src/internal';`,
        `export const job = [readFileSync, internal] as unknown as CpuInfo;`,
        ``,
      ].join('\n'),
    };

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dependency-rules-'));
      for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
      }
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('reports each broken rule, type-only circles included', async () => {
      const lines = violationLines(await cruiseWithConfig(dir, path.join(dir, 'tsconfig.json')));
      expect(lines).toEqual(
        expect.arrayContaining([
          'library-not-app: src/lib.ts → workflows/job.ts',
          'app-through-entry-points: workflows/job.ts → src/internal.ts',
          'sandbox-no-node: workflows/job.ts → fs',
        ]),
      );
      // The circle is reported once, from whichever of its modules dependency-cruiser meets first.
      expect(lines.filter((line) => line.startsWith('no-circular:'))).toEqual([
        expect.stringMatching(/^no-circular: src\/(a|b)\.ts → src\/(a|b)\.ts \(circle: /),
      ]);
      // Nothing else: not the type-only import of node:os.
      expect(lines).toHaveLength(4);
    }, 30_000);
  });
});
