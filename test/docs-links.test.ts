import fs from 'node:fs';
import path from 'node:path';
import type { ParserOptions } from 'prettier';
import { parsers } from 'prettier/plugins/markdown';
import { describe, expect, it } from 'vitest';

/**
 * Every relative link of the documentation (README.md, CONTRIBUTING.md, docs/**\/*.md) must lead somewhere: its file
 * must exist, and its #anchor must be a heading of the target. The Markdown is parsed by Prettier's own Markdown
 * parser (remark, bundled in the `prettier` dev dependency), so links in code blocks and inline code are not links,
 * and reference definitions (`[id]: path`) count as links.
 */

const root = path.resolve(__dirname, '..');

/** What the checker reads: repository-relative POSIX paths. A fake one feeds it made-up documents. */
interface DocSource {
  /** The text of a file, or undefined when there is no such file. */
  read(file: string): string | undefined;
  /** Whether a file or directory exists. */
  exists(file: string): boolean;
}

/** The mdast nodes this check looks at (remark's shapes; everything else is walked through). */
interface MdNode {
  type: string;
  url?: string;
  value?: string;
  alt?: string;
  children?: MdNode[];
  position?: { start: { line: number } };
}

async function parseMarkdown(text: string): Promise<MdNode> {
  // The Markdown parser reads no option; the type asks for Prettier's whole option set.
  return (await parsers.markdown.parse(text, {} as ParserOptions)) as MdNode;
}

function* walk(node: MdNode): Generator<MdNode> {
  yield node;
  for (const child of node.children ?? []) yield* walk(child);
}

/** A heading's text as GitHub renders it: text and inline code, through emphasis and links; no HTML, no images. */
function textOf(node: MdNode): string {
  if (node.type === 'text' || node.type === 'inlineCode') return node.value ?? '';
  if (node.type === 'html' || node.type === 'image') return '';
  return (node.children ?? []).map(textOf).join('');
}

/** GitHub's heading slug: lower-case, punctuation dropped except `-` and `_`, each space a `-`. */
function githubSlug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a document's headings, in order; a repeated heading gets `-1`, `-2`, … as on GitHub. */
async function anchorsOf(text: string): Promise<Set<string>> {
  const occurrences = new Map<string, number>();
  const anchors = new Set<string>();
  for (const node of walk(await parseMarkdown(text))) {
    if (node.type !== 'heading') continue;
    const base = githubSlug(textOf(node));
    let slug = base;
    while (occurrences.has(slug)) {
      const n = (occurrences.get(base) ?? 0) + 1;
      occurrences.set(base, n);
      slug = `${base}-${n}`;
    }
    occurrences.set(slug, 0);
    anchors.add(slug);
  }
  return anchors;
}

/** http:, https:, mailto: and any other scheme: not ours to check. */
const EXTERNAL = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Every broken relative link of the given documents, as `file:line: link — why`. A link is `[text](path)`,
 * `[text](path#anchor)`, `[text](#anchor)`, an image, or a reference definition; external ones are skipped. Anchors
 * are checked in Markdown targets only (a `#L10` into a source file is GitHub's, not a heading).
 */
async function brokenLinks(files: string[], source: DocSource): Promise<string[]> {
  const anchorCache = new Map<string, Set<string>>();
  const anchors = async (file: string) => {
    let found = anchorCache.get(file);
    if (!found) {
      found = await anchorsOf(source.read(file) ?? '');
      anchorCache.set(file, found);
    }
    return found;
  };
  const broken: string[] = [];
  for (const file of files) {
    const text = source.read(file);
    if (text === undefined) throw new Error(`${file}: no such document`);
    for (const node of walk(await parseMarkdown(text))) {
      if (!['link', 'image', 'definition'].includes(node.type) || node.url === undefined) continue;
      const url = node.url;
      if (url === '' || EXTERNAL.test(url)) continue;
      const report = (why: string) => broken.push(`${file}:${node.position?.start.line ?? '?'}: ${url} — ${why}`);
      const hash = url.indexOf('#');
      const pathPart = decodeURIComponent(hash === -1 ? url : url.slice(0, hash));
      const anchor = hash === -1 ? undefined : decodeURIComponent(url.slice(hash + 1));
      const target =
        pathPart === ''
          ? file
          : pathPart.startsWith('/')
            ? path.posix.normalize(pathPart.slice(1))
            : path.posix.join(path.posix.dirname(file), pathPart);
      if (target.startsWith('..')) {
        report('leads out of the repository');
        continue;
      }
      if (!source.exists(target)) {
        report(`no such file: ${target}`);
        continue;
      }
      if (anchor === undefined || anchor === '' || !/\.md$/i.test(target)) continue;
      if (!(await anchors(target)).has(anchor)) report(`no heading of ${target} has the anchor #${anchor}`);
    }
  }
  return broken;
}

/** The repository on disk. */
const disk: DocSource = {
  read: (file) => {
    try {
      return fs.readFileSync(path.join(root, file), 'utf8');
    } catch {
      return undefined;
    }
  },
  exists: (file) => fs.existsSync(path.join(root, file)),
};

/** README.md, CONTRIBUTING.md and every Markdown file under docs/. */
function documentationFiles(): string[] {
  const docs = fs
    .readdirSync(path.join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.posix.join('docs', name.split(path.sep).join('/')))
    .sort();
  return ['README.md', 'CONTRIBUTING.md', ...docs];
}

describe('documentation links', () => {
  it('every relative link of README.md, CONTRIBUTING.md and docs/*.md leads to an existing file and heading', async () => {
    const files = documentationFiles();
    expect(files.length).toBeGreaterThan(2);
    expect(await brokenLinks(files, disk)).toEqual([]);
  });

  it('reports a broken file link and a broken anchor, naming file, line and link (the check can fail)', async () => {
    const made: Record<string, string> = {
      'guide.md': [
        '# Guide', // 1
        '', // 2
        'A [good link](other.md#setup-and-run) and [a good one here](#guide).', // 3
        'A [missing file](no-such-page.md).', // 4
        'A [missing anchor](other.md#no-such-heading), a [second setup](other.md#setup-and-run-1).', // 5
        'Not a link: `[inline](nowhere.md)`; external: [site](https://example.com/x.md), [mail](mailto:a@b.c).', // 6
        '', // 7
        '```md', // 8
        '[in a code block](nowhere.md)', // 9
        '```', // 10
        '', // 11
        '[ref]: other.md#missing', // 12
        '[up](../outside.md)', // 13
      ].join('\n'),
      'other.md': '# Other\n\n## Setup and run!\n\ntext\n\n## Setup and run\n\n## `jobctl new`: adding a job\n',
    };
    const fake: DocSource = { read: (file) => made[file], exists: (file) => file in made };

    expect(await brokenLinks(['guide.md'], fake)).toEqual([
      'guide.md:4: no-such-page.md — no such file: no-such-page.md',
      'guide.md:5: other.md#no-such-heading — no heading of other.md has the anchor #no-such-heading',
      'guide.md:12: other.md#missing — no heading of other.md has the anchor #missing',
      'guide.md:13: ../outside.md — leads out of the repository',
    ]);
  });

  it('slugs headings as GitHub does', async () => {
    expect(githubSlug('Retries: a table per error type')).toBe('retries-a-table-per-error-type');
    expect(githubSlug('Server settings (docker/dynamicconfig.yaml)')).toBe('server-settings-dockerdynamicconfigyaml');
    expect(githubSlug('On PostgreSQL: TEST_DATABASE_URL')).toBe('on-postgresql-test_database_url');
    expect(githubSlug('Against the production stack: npm run test:production')).toBe(
      'against-the-production-stack-npm-run-testproduction',
    );
    expect([...(await anchorsOf('# A\n## `jobctl new`: adding a job\n## A\n## A\n'))]).toEqual([
      'a',
      'jobctl-new-adding-a-job',
      'a-1',
      'a-2',
    ]);
  });
});
