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
      .flatMap((source) => [...source.matchAll(/^export class (\w+) extends (?:CopyableImageBase|ImageBase|Construct|Resource)\b/gm)].map((m) => m[1]));
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

describe('test/lifecycle/local-ec2/README.md, the local endpoint\'s guide', () => {
  const dir = path.join(TEST, 'lifecycle', 'local-ec2');
  const guide = readFileSync(path.join(dir, 'README.md'), 'utf8');
  const modules = readdirSync(dir).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && name !== 'index.ts');

  test('names each of its modules', () => {
    expect(modules.length).toBeGreaterThan(10);
    expect(modules.filter((name) => !guide.includes(`\`${name}\``))).toEqual([]);
  });

  test('names every action the endpoint serves', () => {
    // Each area declares its actions as `Action: (region, params) => ...` in its handler table.
    const actions = modules.flatMap((name) => [...readFileSync(path.join(dir, name), 'utf8').matchAll(/^\s+([A-Z]\w+): \(region, params\) =>/gm)].map((m) => m[1]));
    expect(actions).toEqual(expect.arrayContaining(['CreateImage', 'DescribeFastLaunchImages', 'ImportImage']));
    expect(actions.filter((action) => !new RegExp(`\\b${action}\\b`).test(guide))).toEqual([]);
  });
});
