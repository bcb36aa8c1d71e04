import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(rel);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Every relative module a file imports or re-exports, type-only imports included. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms)].map((m) => m[1]);
  return specifiers.map((s) => path.normalize(path.join(path.dirname(file), s)) + '.ts');
}

/** The first import cycle found, as the list of files on it, or undefined. */
function findCycle(files: string[], imports: (file: string) => string[] = importsOf): string[] | undefined {
  const graph = new Map(files.map((f) => [f, imports(f).filter((i) => files.includes(i))]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of files) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('the import graph', () => {
  const src = sources('src');
  const lambda = sources('lambda');

  test('the reader sees imports and the search finds cycles (else the tests below could not fail)', () => {
    expect(importsOf('src/image.ts')).toContain(path.normalize('src/private/image-state.ts'));
    expect(findCycle(['a', 'b', 'c'], (f) => ({ a: ['b'], b: ['c'], c: ['b'] })[f] ?? [])).toEqual(['b', 'c', 'b']);
    expect(findCycle(['a', 'b'], (f) => (f === 'a' ? ['b'] : []))).toBeUndefined();
  });

  test('src/ has no import cycle, type-only imports included', () => {
    expect(findCycle(src)).toBeUndefined();
  });

  test('lambda/ has no import cycle', () => {
    expect(findCycle([...lambda, ...src])).toBeUndefined();
  });

  test('no module of src/ or lambda/ is over 600 lines: small, named pieces', () => {
    const long = [...src, ...lambda].map((f) => [f, readFileSync(path.join(ROOT, f), 'utf8').split('\n').length] as const).filter(([, n]) => n > 600);
    expect(long).toEqual([]);
  });

  test('src/ loads no module with require()', () => {
    expect(src.filter((f) => /\brequire\(/.test(readFileSync(path.join(ROOT, f), 'utf8')))).toEqual([]);
  });

  test('the handlers import nothing from src/ but the contract, which imports only the enums, which import nothing', () => {
    const fromSrc = lambda.flatMap((f) => importsOf(f).filter((i) => i.startsWith(`src${path.sep}`)));
    expect(new Set(fromSrc)).toEqual(new Set([path.normalize('src/private/contract.ts')]));
    expect(importsOf('src/private/contract.ts')).toEqual([path.normalize('src/enums.ts')]);
    expect(readFileSync(path.join(ROOT, 'src/private/contract.ts'), 'utf8').match(/^import .*$/gm)).toEqual([expect.stringMatching(/from '\.\.\/enums';$/)]);
    expect(importsOf('src/enums.ts')).toEqual([]);
    expect(readFileSync(path.join(ROOT, 'src/enums.ts'), 'utf8')).not.toMatch(/^import /m);
  });
});
