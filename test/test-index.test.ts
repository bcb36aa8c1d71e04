/**
 * test/README.md names, per construct, where each behaviour is tested. This
 * keeps it true: every path it names exists, every test file is named, and
 * every construct the package exports has a section.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

const TEST = __dirname;
const index = readFileSync(path.join(TEST, 'README.md'), 'utf8');

/** The `*.test.ts` files under test/, relative to it. */
function testFiles(dir = TEST): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'node_modules' || name.endsWith('.snapshot') ? [] : testFiles(full);
    return name.endsWith('.test.ts') ? [path.relative(TEST, full).split(path.sep).join('/')] : [];
  });
}

/** The paths the index names in backticks. */
const named = [...index.matchAll(/`([\w./-]+\.ts)`/g)].map((m) => m[1]);

describe('test/README.md, the index of tests by construct', () => {
  test('names only files that exist', () => {
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((file) => !isFile(file))).toEqual([]);
  });

  test('names every test file', () => {
    expect(testFiles().filter((file) => !named.includes(file))).toEqual([]);
  });

  test('has a section for every construct the package exports', () => {
    const constructs = [...readFileSync(path.join(TEST, '..', 'src', 'index.ts'), 'utf8').matchAll(/from '\.\/([\w-]+)'/g)]
      .map((m) => readFileSync(path.join(TEST, '..', 'src', `${m[1]}.ts`), 'utf8'))
      .flatMap((source) => [...source.matchAll(/^export class (\w+) extends (?:ImageBase|Construct|Resource)\b/gm)].map((m) => m[1]));
    expect(constructs).toEqual(expect.arrayContaining(['AmiFromInstance', 'BakedAmi', 'CopiedAmi', 'StoredAmi', 'CrossAccountCopyRole']));
    expect(constructs.filter((name) => !index.includes(`### ${name}\n`))).toEqual([]);
  });
});

function isFile(file: string): boolean {
  try {
    return statSync(path.join(TEST, file)).isFile();
  } catch {
    return false;
  }
}
