import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { findOnPath, isExecutable } from '../src/temporal-cli';

/**
 * The Chromium the Web UI tests drive through playwright-core: a pinned build fetched once into a per-user cache, so a
 * fresh machine needs no browser installed and every machine runs the tests on the same one. Only the tests need it
 * (not the library, not the image), hence here and not in src/.
 *
 * The npm package `@sparticuz/chromium` ships a headless Chromium for Linux x64, brotli-packed, with the libraries it
 * needs beyond glibc (NSS, NSPR, expat) and a font: npm fetches it like any package (the user's registry settings
 * apply) and its integrity is pinned here. Only its files are used, never its JavaScript (which wants Node 22). Its
 * newest build is Chromium 153; playwright-core 1.65 is made for 159 and drives 153 through the same protocol (the Web UI
 * tests pass on it). When bumping either, run test/web-ui*.test.ts.
 */
export const CHROMIUM_PACKAGE = '@sparticuz/chromium';
export const CHROMIUM_PACKAGE_VERSION = '153.0.0';
/** The registry's `dist.integrity` of that version: the tarball is checked against it before anything is unpacked. */
export const CHROMIUM_PACKAGE_INTEGRITY =
  'sha512-jiGWqSvPMdu4+P9TilYqAR7yEGPEHINx+lCvE/NqNO/EHYzF/x1hUiI5T6ioVIt7dEy7n88byyT0vk+dnsgQwA==';
/** The package's build is for this platform only. */
const PLATFORM = 'linux-x64';

/** Per-user cache shared by every checkout, beside the Temporal CLI's. */
export function chromiumCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.DURABLE_JOBS_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'durable-jobs');
  return path.join(base, 'chromium', CHROMIUM_PACKAGE_VERSION);
}

/** What playwright-core launches: a script that gives the binary its libraries and fonts. */
export function cachedChromium(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(chromiumCacheDir(env), 'chromium');
}

/**
 * Why no Chromium can be had, or undefined: CHROMIUM_PATH when set (any Chromium or Chrome, used as is), else the
 * cache, else a download, which needs Linux x64, npm and tar. Local and fast, for the prerequisite check.
 */
export function chromiumProblem(
  env: NodeJS.ProcessEnv = process.env,
  platform = `${process.platform}-${process.arch}`,
): string | undefined {
  if (env.CHROMIUM_PATH) {
    return isExecutable(env.CHROMIUM_PATH)
      ? undefined
      : `Chromium, for the Web UI tests: CHROMIUM_PATH=${env.CHROMIUM_PATH} is not an executable file; fix it, or unset it to have npm test download ${CHROMIUM_PACKAGE} ${CHROMIUM_PACKAGE_VERSION}`;
  }
  if (isExecutable(cachedChromium(env))) return undefined;
  if (platform !== PLATFORM) {
    return `Chromium, for the Web UI tests: the pinned build (${CHROMIUM_PACKAGE}) is for ${PLATFORM} only and this is ${platform}; set CHROMIUM_PATH to a Chromium or Chrome binary`;
  }
  const lacking = [npmCommand(env) ? undefined : 'npm', findOnPath('tar', env) ? undefined : 'tar'].filter(Boolean);
  if (lacking.length > 0) {
    return `Chromium, for the Web UI tests: downloading ${CHROMIUM_PACKAGE} ${CHROMIUM_PACKAGE_VERSION} needs ${lacking.join(' and ')} on PATH; or set CHROMIUM_PATH to a Chromium or Chrome binary`;
  }
  return undefined;
}

/**
 * The Chromium to launch: CHROMIUM_PATH when set, else the pinned build, downloaded and unpacked into the cache the
 * first time (about 70 MB, a few seconds to unpack). The system's own Chromium is never picked up by itself.
 */
export async function chromiumExecutable(
  options: { env?: NodeJS.ProcessEnv; integrity?: string; log?: (line: string) => void } = {},
): Promise<string> {
  const env = options.env ?? process.env;
  const problem = chromiumProblem(env);
  if (problem) throw new Error(problem);
  if (env.CHROMIUM_PATH) return env.CHROMIUM_PATH;
  const target = cachedChromium(env);
  if (!isExecutable(target)) {
    await provision(chromiumCacheDir(env), env, options.integrity ?? CHROMIUM_PACKAGE_INTEGRITY, options.log ?? log);
  }
  return target;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Unpacks into a private directory, then renames it into place, so that two test files provisioning at once never see
 * half a browser: the loser of the rename finds the winner's copy there and discards its own.
 */
async function provision(dir: string, env: NodeJS.ProcessEnv, integrity: string, say: (line: string) => void) {
  const started = Date.now();
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const staging = fs.mkdtempSync(path.join(path.dirname(dir), '.unpack-'));
  say(
    `Chromium for the Web UI tests: downloading ${CHROMIUM_PACKAGE}@${CHROMIUM_PACKAGE_VERSION} with npm (about 70 MB, ` +
      `once per machine) into ${dir}; the system's Chromium, if any, is not used.`,
  );
  try {
    const tarball = await npmPack(staging, env);
    const actual = `sha512-${createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`;
    if (actual !== integrity) {
      throw new Error(
        `${CHROMIUM_PACKAGE}@${CHROMIUM_PACKAGE_VERSION}: the download's integrity is ${actual}, not the pinned ${integrity}`,
      );
    }
    await run('tar', ['-xzf', tarball, '--no-same-owner', '-C', staging, 'package/bin'], env);
    const bin = path.join(staging, 'package', 'bin');
    await unbrotli(
      path.join(bin, 'chromium.br'),
      fs.createWriteStream(path.join(staging, 'chromium-bin'), { mode: 0o755 }),
    );
    // The libraries beside glibc, SwiftShader (software GL, which Chromium loads from its own directory) and a font.
    await untar(path.join(bin, 'al2023.tar.br'), path.join(staging, 'al2023'), env);
    await untar(path.join(bin, 'swiftshader.tar.br'), staging, env);
    await untar(path.join(bin, 'fonts.tar.br'), path.join(staging, 'fonts'), env);
    fs.rmSync(path.join(staging, 'package'), { recursive: true });
    fs.rmSync(tarball);
    writeLauncher(staging, dir);
    fs.chmodSync(staging, 0o755);
    try {
      fs.renameSync(staging, dir);
    } catch (err) {
      if (!isExecutable(path.join(dir, 'chromium'))) throw err;
    }
    say(
      `Chromium ${CHROMIUM_PACKAGE_VERSION} ready in ${Math.round((Date.now() - started) / 1000)} s: ${dir}/chromium`,
    );
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * The launcher sets what the package's own JavaScript sets on AWS Lambda: its libraries first on the library path, and
 * a fontconfig of its own (the packaged one names Lambda's paths), so no system library or font is needed.
 */
function writeLauncher(staging: string, dir: string): void {
  fs.writeFileSync(
    path.join(staging, 'fonts', 'fonts.conf'),
    [
      '<?xml version="1.0"?>',
      '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
      '<fontconfig>',
      `  <dir>${dir}/fonts/fonts</dir>`,
      `  <cachedir>${dir}/fonts/cache</cachedir>`,
      '</fontconfig>',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(staging, 'chromium'),
    [
      '#!/bin/sh',
      `# ${CHROMIUM_PACKAGE}@${CHROMIUM_PACKAGE_VERSION}, unpacked for the durable-jobs Web UI tests.`,
      `export LD_LIBRARY_PATH=${quote(`${dir}/al2023/lib`)}\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}`,
      `export FONTCONFIG_FILE=${quote(`${dir}/fonts/fonts.conf`)}`,
      `exec ${quote(`${dir}/chromium-bin`)} "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
}

/** A shell word for `text`, quoted. */
function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** npm itself when npm runs us (npm test), else npm on PATH. */
function npmCommand(env: NodeJS.ProcessEnv): string[] | undefined {
  if (env.npm_execpath && /npm-cli\.js$/.test(env.npm_execpath)) return [process.execPath, env.npm_execpath];
  const npm = findOnPath('npm', env);
  return npm ? [npm] : undefined;
}

/** `npm pack` fetches the package's tarball without installing it (no scripts); the npm cache serves it when it can. */
async function npmPack(destination: string, env: NodeJS.ProcessEnv): Promise<string> {
  const [command, ...args] = npmCommand(env)!;
  const spec = `${CHROMIUM_PACKAGE}@${CHROMIUM_PACKAGE_VERSION}`;
  const out = await run(
    command!,
    [...args, 'pack', spec, '--pack-destination', destination, '--prefer-offline', '--ignore-scripts', '--json'],
    env,
  );
  const [packed] = JSON.parse(out) as { filename: string }[];
  return path.join(destination, path.basename(packed!.filename));
}

async function unbrotli(file: string, to: NodeJS.WritableStream): Promise<void> {
  await pipeline(fs.createReadStream(file), zlib.createBrotliDecompress(), to);
}

async function untar(file: string, into: string, env: NodeJS.ProcessEnv): Promise<void> {
  fs.mkdirSync(into, { recursive: true });
  const tar = spawn('tar', ['-x', '--no-same-owner', '-C', into], { env, stdio: ['pipe', 'ignore', 'pipe'] });
  // tar's own complaint says more than the broken pipe it leaves behind.
  await Promise.all([
    exited(tar, `tar (unpacking ${path.basename(file)})`),
    pipeline(fs.createReadStream(file), zlib.createBrotliDecompress(), tar.stdin).catch(() => undefined),
  ]);
}

/** Runs a command, resolving to its stdout; its stderr ends up in the error. */
async function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  await exited(child, `${path.basename(command)} ${args.join(' ')}`);
  return stdout;
}

function exited(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}):\n${stderr}`)),
    );
  });
}

if (require.main === module) {
  chromiumExecutable().then(
    (file) => process.stdout.write(`${file}\n`),
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}
