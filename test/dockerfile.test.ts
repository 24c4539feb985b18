import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../src/config';
import { DEFAULT_SERVICE_SETTINGS } from '../activities/services/settings';

/**
 * The image cannot be built here (no Docker engine). These checks read the Dockerfile and hold it to what issues 24 and
 * 25 ask of the image: multi-stage on a supported Node LTS, nothing of the toolchain, the sources, the tests or their
 * recorded histories in the final stage, which runs as a non-root user the compiled build that the build stage
 * produced. (.ci/dockerfile-check parses and lints the file with BuildKit's own frontend.) Each check is shown to
 * fail on a Dockerfile that breaks it (the single-stage control and the one-line changes at the end).
 */
const dockerfile = fs.readFileSync(path.resolve(__dirname, '../Dockerfile'), 'utf8');

interface Instruction {
  /** Upper-cased: FROM, RUN, COPY, … */
  keyword: string;
  /** The rest of the instruction, continuation lines joined. */
  args: string;
  /** 1-based line where it starts. */
  line: number;
}

interface Stage {
  /** The base image, or the name of an earlier stage. */
  base: string;
  name?: string;
  instructions: Instruction[];
}

/**
 * Splits a Dockerfile into instructions as BuildKit reads it: `#` comments only at the start of a line, `\` at the end
 * of a line continues it (comment and empty lines between continued lines are dropped). Refuses what it does not read
 * (another escape character, heredocs) rather than misread it.
 */
function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (/^#\s*escape\s*=/i.test(trimmed) && instructions.length === 0 && !pending)
      throw new Error(`line ${index + 1}: escape directives are not supported`);
    // Comments and empty lines, also between continued lines (which BuildKit skips too).
    if (trimmed.startsWith('#') || trimmed === '') return;
    const continues = trimmed.endsWith('\\');
    const part = continues ? trimmed.slice(0, -1).trim() : trimmed;
    pending ??= { parts: [], line: index + 1 };
    pending.parts.push(part);
    if (continues) return;
    const joined = pending.parts.filter(Boolean).join(' ');
    const match = /^([A-Za-z]+)\s+(.*)$/.exec(joined);
    if (!match) throw new Error(`line ${pending.line}: not an instruction: ${joined}`);
    if (/<<-?["']?[A-Za-z_]/.test(match[2]!) && /^(RUN|COPY|ADD)$/i.test(match[1]!))
      throw new Error(`line ${pending.line}: heredocs are not supported`);
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: pending.line });
    pending = undefined;
  });
  if (pending) throw new Error(`line ${pending.line}: the file ends inside a continued instruction`);
  return instructions;
}

/**
 * The stages, each from its FROM (`FROM [--platform=…] <image> [AS <name>]`) to the next. `${NAME}` and `$NAME` in a
 * FROM take the default of an ARG declared before the first FROM, as BuildKit does without --build-arg.
 */
function parseStages(text: string): Stage[] {
  const stages: Stage[] = [];
  const globalArgs = new Map<string, string>();
  for (const instruction of parseInstructions(text)) {
    if (instruction.keyword === 'ARG' && stages.length === 0) {
      const [name, value] = envPairs(instruction.args)[0] ?? [];
      if (name && instruction.args.includes('=')) globalArgs.set(name, value!);
    } else if (instruction.keyword === 'FROM') {
      const args = instruction.args.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced?: string, bare?: string) => {
        const value = globalArgs.get((braced ?? bare)!);
        if (value === undefined)
          throw new Error(`line ${instruction.line}: FROM uses ${braced ?? bare}, no ARG default`);
        return value;
      });
      const words = args.split(/\s+/).filter((word) => !word.startsWith('--'));
      const as = words.length === 3 && words[1]!.toUpperCase() === 'AS';
      if (words.length !== 1 && !as) throw new Error(`line ${instruction.line}: FROM ${instruction.args}`);
      stages.push({ base: words[0]!, name: as ? words[2]! : undefined, instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`line ${instruction.line}: ${instruction.keyword} before FROM`);
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** Words of a shell-form argument list: whitespace-separated, with '…' and "…" quoting. */
function words(args: string): string[] {
  return [...args.matchAll(/(?:[^\s"']+|"(?:[^"\\]|\\.)*"|'[^']*')+/g)].map((m) =>
    m[0].replace(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g, (_, double?: string, single?: string) =>
      double !== undefined ? double.replace(/\\(.)/g, '$1') : single!,
    ),
  );
}

/** Exec form (`["a", "b"]`) parsed; undefined for the shell form. */
function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** `ENV a=b c=d` (or the legacy `ENV a b`) as pairs. */
function envPairs(args: string): [string, string][] {
  const list = words(args);
  if (list.length > 0 && !list[0]!.includes('=')) return [[list[0]!, list.slice(1).join(' ')]];
  return list.map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]);
}

/**
 * The WORKDIR in effect before each instruction of a stage, then the one after its last (relative WORKDIRs resolve
 * against the previous one; the base image's is taken to be /).
 */
function workdirs(stage: Stage): string[] {
  const dirs = ['/'];
  for (const instruction of stage.instructions)
    dirs.push(instruction.keyword === 'WORKDIR' ? path.posix.resolve(dirs.at(-1)!, instruction.args) : dirs.at(-1)!);
  return dirs;
}

interface Copy {
  instruction: Instruction;
  /** The stage (name or index) or image of `--from`; undefined: the build context. */
  from?: string;
  sources: string[];
  /** Absolute destination, resolved against the WORKDIR. */
  dest: string;
  /** Whether the destination is a directory the sources go into (several sources, or a trailing slash). */
  intoDirectory: boolean;
}

function copies(stage: Stage): Copy[] {
  const dirs = workdirs(stage);
  return stage.instructions.flatMap((instruction, i) => {
    if (instruction.keyword !== 'COPY' && instruction.keyword !== 'ADD') return [];
    const list = execForm(instruction.args) ?? words(instruction.args);
    const flags = list.filter((word) => word.startsWith('--'));
    const paths = list.filter((word) => !word.startsWith('--'));
    const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
    const dest = paths.at(-1)!;
    return [
      {
        instruction,
        from,
        sources: paths.slice(0, -1),
        dest: path.posix.resolve(dirs[i]!, dest),
        intoDirectory: paths.length > 2 || dest.endsWith('/') || dest === '.',
      },
    ];
  });
}

/** The earlier stage a `--from` names (by name or index); undefined for an external image. */
function stageOf(stages: Stage[], from: string): Stage | undefined {
  return /^\d+$/.test(from) ? stages[Number(from)] : stages.find((stage) => stage.name === from);
}

/**
 * Where a copied path is in its stage, relative to that stage's last WORKDIR ('' for the WORKDIR itself): how the
 * checks recognise `.`, `src/…`, `/app/test/…` whatever form the COPY uses.
 */
function relativeSource(stages: Stage[], copy: Copy, source: string): string {
  if (copy.from === undefined) return path.posix.normalize(source).replace(/^(\.\/?|\/)/, '');
  const from = stageOf(stages, copy.from);
  return path.posix.relative(from ? workdirs(from).at(-1)! : '/', path.posix.resolve('/', source));
}

type Check =
  | 'multi-stage'
  | 'node-lts'
  | 'non-root'
  | 'no-toolchain'
  | 'copies-built-output-only'
  | 'production-dependencies'
  | 'env-from-build'
  | 'entrypoint';

interface Problem {
  check: Check;
  message: string;
}

/**
 * The Node LTS lines still supported (end of life 2027-04-30 and 2028-04-30); Node 20's ended on 2026-04-30. A line
 * leaves this list at its end of life, and the image moves on.
 */
const SUPPORTED_NODE_LTS = [22, 24];

/** The Node version of an official `node:<version>-…` image; undefined for another image or a floating tag (`lts`). */
function nodeVersionOf(image: string): string | undefined {
  return /^node:(\d+(?:\.\d+){0,2})(?:-|$)/.exec(image)?.[1];
}

/** What in a final stage's RUN installs packages or uses a compiler. */
const TOOLCHAIN =
  /\b(?:apt-get|apt|apk|yum|dnf|microdnf)\b[^&|;]*\binstall\b|\b(?:gcc|g\+\+|cc|clang|make|python3?|build-essential|node-gyp)\b|\bnpm\s+(?:ci|install|i|rebuild)\b/;

/** Sources and tests: the TypeScript of the library and the example application, tests, benchmarks. */
const SOURCE_DIRECTORIES = new Set(['src', 'test', 'bench', 'workflows', 'activities']);

/** Every problem of the Dockerfile `text` against the image's guarantees; [] when it keeps them all. */
function problemsOf(text: string): Problem[] {
  const stages = parseStages(text);
  const problems: Problem[] = [];
  const problem = (check: Check, message: string) => problems.push({ check, message });
  const final = stages.at(-1)!;
  const workdir = workdirs(final).at(-1)!;

  // Multi-stage: the final stage starts afresh from a slim image, not from the build stage or a full one.
  const builders = stages.slice(0, -1);
  if (builders.length === 0) problem('multi-stage', 'a single stage: the toolchain that built the image runs it too');
  if (stageOf(stages, final.base)) problem('multi-stage', `the final stage builds on the stage ${final.base}`);
  else if (!/-slim\b|alpine|distroless/.test(final.base))
    problem('no-toolchain', `the final stage starts from ${final.base}, a full image with a compiler toolchain`);

  // A supported Node LTS, by its version (not a tag that moves under the tested image), the same in every stage: the
  // native module compiled in the build stage is loaded by the final stage's Node.
  const images = stages.filter((stage) => !stageOf(stages, stage.base)).map((stage) => stage.base);
  const unpinned = images.filter((image) => !nodeVersionOf(image));
  const unsupported = images.filter((image) => {
    const version = nodeVersionOf(image);
    return version && !SUPPORTED_NODE_LTS.includes(Number(version.split('.')[0]));
  });
  const versions = new Set(images.map(nodeVersionOf).filter(Boolean));
  if (unpinned.length > 0) problem('node-lts', `not a node image of a given version: ${unpinned.join(', ')}`);
  if (unsupported.length > 0)
    problem('node-lts', `not a supported Node LTS (${SUPPORTED_NODE_LTS.join(', ')}): ${unsupported.join(', ')}`);
  if (versions.size > 1) problem('node-lts', `the stages run different Node versions: ${[...versions].join(', ')}`);

  // Non-root: the last USER of the final stage is what the container runs as; none means root.
  const user = [...final.instructions].reverse().find((i) => i.keyword === 'USER');
  const userName = user?.args.split(':')[0];
  if (!user || userName === 'root' || userName === '0')
    problem('non-root', user ? `USER ${user.args} is root` : 'no USER: the container runs as root');

  // Nothing installed or compiled in the final stage.
  for (const run of final.instructions.filter((i) => i.keyword === 'RUN'))
    if (TOOLCHAIN.test(run.args))
      problem('no-toolchain', `line ${run.line}: the final stage installs or compiles: RUN ${run.args}`);

  // The final stage copies built output, never the context or a stage wholesale, sources, tests or histories.
  const finalCopies = copies(final);
  for (const copy of finalCopies) {
    for (const source of copy.sources) {
      const relative = relativeSource(stages, copy, source);
      const segments = relative.split('/');
      const where = `line ${copy.instruction.line}: ${copy.instruction.keyword} ${copy.instruction.args}`;
      // The WORKDIR itself, or a folder above it (`/`).
      if (/^(?:\.\.(?:\/\.\.)*|\.|\*|)$/.test(relative))
        problem('copies-built-output-only', `${where}: copies ${copy.from ? 'a stage' : 'the context'} wholesale`);
      else if (SOURCE_DIRECTORIES.has(segments[0]!))
        problem('copies-built-output-only', `${where}: copies ${segments[0]}/ (sources or tests)`);
      else if (segments.includes('histories'))
        problem('copies-built-output-only', `${where}: copies recorded histories`);
      else if (/\.[cm]?ts$/.test(relative) && !/\.d\.[cm]?ts$/.test(relative))
        problem('copies-built-output-only', `${where}: copies TypeScript sources`);
    }
  }

  /** The stage and path a file of the final stage was copied from, when it came from an earlier stage. */
  const origin = (file: string): { stage: Stage; path: string } | undefined => {
    for (const copy of [...finalCopies].reverse()) {
      if (copy.from === undefined) continue;
      const stage = stageOf(stages, copy.from);
      if (!stage || stage === final) continue;
      for (const source of copy.sources) {
        const absolute = path.posix.resolve('/', source);
        const target = copy.intoDirectory ? path.posix.join(copy.dest, path.posix.basename(absolute)) : copy.dest;
        if (file === target) return { stage, path: absolute };
        if (file.startsWith(`${target}/`)) return { stage, path: absolute + file.slice(target.length) };
      }
    }
    return undefined;
  };

  // Production dependencies: node_modules come from a stage that dropped its devDependencies after installing.
  const modules = origin(path.posix.join(workdir, 'node_modules'));
  const npm = modules?.stage.instructions
    .filter((i) => i.keyword === 'RUN')
    .flatMap((i) => [...i.args.matchAll(/\bnpm\s+(ci|install|i|prune)\b[^&|;]*/g)].map((m) => m[0]));
  if (!modules) problem('production-dependencies', 'node_modules are not copied from a build stage');
  else if (!npm?.length || !/--omit[= ]dev|--production\b/.test(npm.at(-1)!))
    problem('production-dependencies', `the stage node_modules come from ends with \`${npm?.at(-1)}\`, not --omit=dev`);

  // JOBS_APP and JOBS_WORKFLOW_BUNDLE name files the build stage produced and the final stage copied: the bundle is
  // what `--out` wrote, the application is what that stage ran (the bundle step loads it, so it was there).
  const env = new Map(final.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => envPairs(i.args)));
  for (const [name, produced] of [
    ['JOBS_APP', (run: string, file: string) => run.includes(file)],
    ['JOBS_WORKFLOW_BUNDLE', (run: string, file: string) => new RegExp(`--out[= ]${escape(file)}(?:\\s|$)`).test(run)],
  ] as const) {
    const value = env.get(name);
    if (!value) {
      problem('env-from-build', `${name} is not set in the final stage`);
      continue;
    }
    const file = origin(path.posix.resolve(workdir, value));
    const built =
      file &&
      file.stage.instructions.some((i) => (i.keyword === 'RUN' || i.keyword === 'ENV') && produced(i.args, file.path));
    if (!built)
      problem(
        'env-from-build',
        `${name}=${value} is not a file the final stage copies from a build stage that ${name === 'JOBS_APP' ? 'ran' : 'wrote (--out)'} it`,
      );
  }

  // The entrypoint is jobctl, copied from the build stage, in exec form (so signals reach it: Ctrl-C drains a worker).
  const entrypoint = [...final.instructions].reverse().find((i) => i.keyword === 'ENTRYPOINT');
  const exec = entrypoint && execForm(entrypoint.args);
  const script = exec?.[0] === 'node' && exec[1] ? path.posix.resolve(workdir, exec[1]) : undefined;
  if (!script || !script.endsWith('/bin/jobctl.js') || !origin(script))
    problem(
      'entrypoint',
      `ENTRYPOINT ${entrypoint?.args ?? '(none)'} does not run node bin/jobctl.js copied from the build stage`,
    );
  return problems;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const ALL_CHECKS: Check[] = [
  'multi-stage',
  'node-lts',
  'non-root',
  'no-toolchain',
  'copies-built-output-only',
  'production-dependencies',
  'env-from-build',
  'entrypoint',
];

/** The Node that CI runs the suite on besides the machine's own (.ci/node-lts). */
const NODE_LTS_VERSION = /^NODE_LTS_VERSION=(\S+)$/m.exec(
  fs.readFileSync(path.resolve(__dirname, '../.ci/node-lts'), 'utf8'),
)![1]!;

describe('Dockerfile', () => {
  const stages = parseStages(dockerfile);

  it('keeps every guarantee of the image', () => {
    expect(problemsOf(dockerfile)).toEqual([]);
  });

  it('builds in a named stage and runs from a fresh slim one as the node user', () => {
    expect(stages.map((stage) => `${stage.base} AS ${stage.name}`)).toEqual([
      `node:${NODE_LTS_VERSION}-trixie AS build`,
      `node:${NODE_LTS_VERSION}-trixie-slim AS runtime`,
    ]);
    const final = stages.at(-1)!;
    expect(final.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args)).toEqual(['node']);
    const entrypoint = final.instructions.find((i) => i.keyword === 'ENTRYPOINT')!;
    expect(execForm(entrypoint.args)).toEqual(['node', 'bin/jobctl.js']);
    expect(execForm(final.instructions.find((i) => i.keyword === 'CMD')!.args)).toEqual(['worker']);
  });

  it('runs on the Node LTS that CI runs the suite on, to the patch (.ci/node-lts)', () => {
    expect(NODE_LTS_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(SUPPORTED_NODE_LTS).toContain(Number(NODE_LTS_VERSION.split('.')[0]));
    expect(stages.map((stage) => nodeVersionOf(stage.base))).toEqual([NODE_LTS_VERSION, NODE_LTS_VERSION]);
  });

  it('the final stage holds exactly the built output and what it reads at run time', () => {
    const final = stages.at(-1)!;
    const copied = copies(final).flatMap((copy) => {
      expect(copy.from, `line ${copy.instruction.line}`).toBe('build');
      return copy.sources.map((source) =>
        path.posix.relative(
          '/app',
          copy.intoDirectory ? path.posix.join(copy.dest, path.posix.basename(source)) : copy.dest,
        ),
      );
    });
    expect(copied.sort()).toEqual([
      'bin',
      'build',
      'dist',
      // The dev server the library can start reads it beside dist/ (src/dev-server.ts).
      'docker/dynamicconfig.yaml',
      'node_modules',
      'package-lock.json',
      'package.json',
      'workflow-bundle.js',
    ]);
    // Owned by root (no --chown): the process, as node, reads its code and cannot change it.
    expect(copies(final).filter((copy) => copy.instruction.args.includes('--chown'))).toEqual([]);
    const env = new Map(final.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => envPairs(i.args)));
    expect(Object.fromEntries(env)).toEqual({
      NODE_ENV: 'production',
      JOBS_APP: '/app/build/app.js',
      JOBS_WORKFLOW_BUNDLE: '/app/workflow-bundle.js',
    });
  });

  it('the default SQLite file and mail outbox are in a directory the node user owns', () => {
    // Relative to the working directory, /app (src/config.ts).
    const final = stages.at(-1)!;
    const workdir = workdirs(final).at(-1)!;
    const dataDirs = [DEFAULT_SETTINGS.sqlitePath, DEFAULT_SERVICE_SETTINGS.mailOutboxDir].map((p) =>
      path.posix.resolve(workdir, p),
    );
    expect(dataDirs).toEqual(['/app/.data/app.sqlite', '/app/.data/outbox']);
    const runs = final.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs).toContainEqual(expect.stringMatching(/\bmkdir -p \/app\/\.data\/outbox\b/));
    expect(runs).toContainEqual(expect.stringMatching(/\bchown -R node:node \/app\/\.data\b/));
    // Created (as root) before USER node, so the chown can run.
    const index = (keyword: string, pattern: RegExp) =>
      final.instructions.findIndex((i) => i.keyword === keyword && pattern.test(i.args));
    expect(index('RUN', /chown/)).toBeLessThan(index('USER', /^node$/));
  });

  it('the .dockerignore keeps dependencies, earlier builds, local data, secrets and tests out of the context', () => {
    const ignored = fs
      .readFileSync(path.resolve(__dirname, '../.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'));
    expect(ignored).toEqual(
      expect.arrayContaining(['.git', 'node_modules', 'dist', 'build', 'workflow-bundle.js', '.data', '.env', 'test']),
    );
    // So what the final stage takes of the build stage's output was made there: a local build or node_modules (with
    // devDependencies, or a native module compiled for another system) cannot slip in through `COPY . .`.
    const made = copies(stages.at(-1)!).flatMap((copy) =>
      copy.sources.map((source) => path.posix.relative('/app', source)),
    );
    expect(made.filter((source) => !ignored.includes(source)).sort()).toEqual([
      'bin',
      'docker/dynamicconfig.yaml',
      'package-lock.json',
      'package.json',
    ]);
  });

  describe('the checks catch what they are for', () => {
    it('a single-stage image on Node 20 that builds as root and copies everything fails every check', () => {
      const singleStage = [
        'FROM node:20-bookworm',
        'WORKDIR /app',
        'RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++',
        'COPY . .',
        'RUN npm ci',
        'ENV JOBS_APP=/app/app.ts',
        'ENTRYPOINT ["npx", "tsx", "src/cli/jobctl.ts"]',
      ].join('\n');
      const problems = problemsOf(singleStage);
      expect([...new Set(problems.map((p) => p.check))].sort()).toEqual([...ALL_CHECKS].sort());
      expect(problems.map((p) => p.message)).toEqual([
        'a single stage: the toolchain that built the image runs it too',
        'the final stage starts from node:20-bookworm, a full image with a compiler toolchain',
        'not a supported Node LTS (22, 24): node:20-bookworm',
        'no USER: the container runs as root',
        'line 3: the final stage installs or compiles: RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++',
        'line 5: the final stage installs or compiles: RUN npm ci',
        'line 4: COPY . .: copies the context wholesale',
        'node_modules are not copied from a build stage',
        'JOBS_APP=/app/app.ts is not a file the final stage copies from a build stage that ran it',
        'JOBS_WORKFLOW_BUNDLE is not set in the final stage',
        'ENTRYPOINT ["npx", "tsx", "src/cli/jobctl.ts"] does not run node bin/jobctl.js copied from the build stage',
      ]);
    });

    /** The real Dockerfile with one change, and the one check that change must trip. */
    const changes: [string, (text: string) => string, Check][] = [
      ['USER root', (t) => t.replace(/^USER node$/m, 'USER root'), 'non-root'],
      ['USER 0:0', (t) => t.replace(/^USER node$/m, 'USER 0:0'), 'non-root'],
      ['no USER', (t) => t.replace(/^USER node\n/m, ''), 'non-root'],
      [
        'the final stage from the build stage',
        (t) => t.replace(/^FROM node:\$\{NODE_VERSION\}-trixie-slim/m, 'FROM build'),
        'multi-stage',
      ],
      ['the final stage from a full image', (t) => t.replace('-trixie-slim', '-trixie'), 'no-toolchain'],
      [
        'Node 20, past its end of life',
        (t) => t.replace(/^ARG NODE_VERSION=.*$/m, 'ARG NODE_VERSION=20.20.2'),
        'node-lts',
      ],
      ['Node 23, not an LTS', (t) => t.replace(/^ARG NODE_VERSION=.*$/m, 'ARG NODE_VERSION=23.11.1'), 'node-lts'],
      ['a floating tag', (t) => t.replace('node:${NODE_VERSION}-trixie-slim', 'node:lts-trixie-slim'), 'node-lts'],
      [
        'another Node in the final stage',
        (t) => t.replace('node:${NODE_VERSION}-trixie-slim', 'node:22.22.0-trixie-slim'),
        'node-lts',
      ],
      [
        'apt-get in the final stage',
        (t) => t.replace(/^USER node$/m, 'RUN apt-get install -y g++\nUSER node'),
        'no-toolchain',
      ],
      [
        'npm ci in the final stage',
        (t) => t.replace(/^USER node$/m, 'RUN npm ci --omit=dev\nUSER node'),
        'no-toolchain',
      ],
      [
        'the whole build stage',
        (t) => t.replace(/^USER node$/m, 'COPY --from=build /app /app\nUSER node'),
        'copies-built-output-only',
      ],
      ['the whole context', (t) => t.replace(/^USER node$/m, 'COPY ./ ./\nUSER node'), 'copies-built-output-only'],
      [
        'src/',
        (t) => t.replace(/^USER node$/m, 'COPY --from=build /app/src ./src\nUSER node'),
        'copies-built-output-only',
      ],
      ['test/', (t) => t.replace(/^USER node$/m, 'COPY test/ ./test/\nUSER node'), 'copies-built-output-only'],
      [
        'the build stage from its root',
        (t) => t.replace(/^USER node$/m, 'COPY --from=build / /\nUSER node'),
        'copies-built-output-only',
      ],
      [
        'recorded histories',
        (t) => t.replace(/^USER node$/m, 'COPY --from=build /app/fixtures/histories ./h\nUSER node'),
        'copies-built-output-only',
      ],
      [
        'app.ts',
        (t) => t.replace(/^USER node$/m, 'COPY --from=build /app/app.ts ./\nUSER node'),
        'copies-built-output-only',
      ],
      ['all dependencies', (t) => t.replace(/^RUN npm prune.*\n/m, ''), 'production-dependencies'],
      [
        'the bundle written elsewhere',
        (t) => t.replace('--out /app/workflow-bundle.js', '--out /tmp/b.js'),
        'env-from-build',
      ],
      [
        'the bundle not copied',
        (t) => t.replace(/^COPY --from=build \/app\/workflow-bundle\.js.*\n/m, ''),
        'env-from-build',
      ],
      [
        'JOBS_APP to the sources',
        (t) => t.replace('JOBS_APP=/app/build/app.js \\', 'JOBS_APP=/app/app.ts \\'),
        'env-from-build',
      ],
      ['a shell-form entrypoint', (t) => t.replace(/^ENTRYPOINT .*$/m, 'ENTRYPOINT node bin/jobctl.js'), 'entrypoint'],
      [
        'tsx from the sources',
        (t) => t.replace('["node", "bin/jobctl.js"]', '["node", "src/cli/jobctl.ts"]'),
        'entrypoint',
      ],
    ];
    it.each(changes)('%s', (_, change, check) => {
      const changed = change(dockerfile);
      expect(changed, 'the change applies').not.toBe(dockerfile);
      expect(problemsOf(changed).map((p) => p.check)).toEqual([check]);
    });

    it('a file from outside the build stage WORKDIR is not taken for a wholesale copy', () => {
      const changed = dockerfile.replace(/^USER node$/m, 'COPY --from=build /usr/local/lib/x ./x\nUSER node');
      expect(changed).not.toBe(dockerfile);
      expect(problemsOf(changed)).toEqual([]);
    });
  });

  it('the parser joins continued lines, skips comments and refuses what it does not read', () => {
    expect(parseInstructions('# c\nENV A=1 \\\n  # dropped\n\n  B="two words"\n\nRUN x')).toEqual([
      { keyword: 'ENV', args: 'A=1 B="two words"', line: 2 },
      { keyword: 'RUN', args: 'x', line: 7 },
    ]);
    expect(envPairs('A=1 B="two words"')).toEqual([
      ['A', '1'],
      ['B', 'two words'],
    ]);
    expect(envPairs('A one')).toEqual([['A', 'one']]);
    expect(() => parseInstructions('# escape=`\nFROM x')).toThrow(/escape/);
    expect(() => parseInstructions('FROM x\nRUN <<EOF\necho\nEOF')).toThrow(/heredocs/);
    expect(() => parseInstructions('FROM x\nRUN a \\')).toThrow(/ends inside/);
    expect(() => parseStages('RUN x')).toThrow(/before FROM/);
    expect(parseStages('ARG V=1.2\nARG W\nFROM a:${V}-x AS b\nARG V\nFROM c:$V').map((stage) => stage.base)).toEqual([
      'a:1.2-x',
      'c:1.2',
    ]);
    expect(() => parseStages('ARG W\nFROM a:${W}')).toThrow(/no ARG default/);
  });
});
