import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
// Jest's snapshot printer (a dependency of jest), which runs the serializers a test registers.
// eslint-disable-next-line import/no-extraneous-dependencies
import { format } from 'pretty-format';
import * as ts from 'typescript';

// The README's "Snapshot tests" recipe, run exactly as a user pastes it: two
// builds of cdk-ami whose handler bundles differ must give a user the same
// snapshot, and without the recipe they must not (or this proves nothing).

const ROOT = path.join(__dirname, '..');
const BUNDLE = path.join(ROOT, 'assets', 'provider');

/** The ```js block (a Jest setup file) of the README's "Snapshot tests" section. */
function recipe(): string {
  const section = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split(/^## /m).find((s) => s.startsWith('Snapshot tests\n'));
  const block = section && /^```js\n([\s\S]*?)^```$/m.exec(section);
  if (!block) throw new Error('README.md has no ```js block under "## Snapshot tests"');
  return block[1];
}

/** What the recipe registers with `expect.addSnapshotSerializer`, run as written (transpiled only). */
function recipeSerializers(): any[] {
  const registered: any[] = [];
  const js = ts.transpileModule(recipe(), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 } }).outputText;
  new Function('expect', js)({ addSnapshotSerializer: (serializer: unknown) => registered.push(serializer) });
  return registered;
}

/**
 * A user's stack with an image, synthesized by a fresh load of cdk-ami and
 * aws-cdk-lib whose provider bundle is `bundle` (another build of cdk-ami).
 */
function userTemplate(bundle: string): unknown {
  let template: unknown;
  jest.isolateModules(() => {
    jest.doMock('node:path', () => {
      const real = jest.requireActual<typeof path>('node:path');
      return { ...real, join: (...parts: string[]) => (real.join(...parts) === BUNDLE ? bundle : real.join(...parts)) };
    });
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { App, Stack } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
    const { Template } = require('aws-cdk-lib/assertions') as typeof import('aws-cdk-lib/assertions');
    const { AmiFromInstance } = require('../src') as typeof import('../src');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const stack = new Stack(new App(), 'Images', { env: { account: '123456789012', region: 'us-east-1' } });
    new AmiFromInstance(stack, 'Golden', { instanceId: 'i-0123456789abcdef0', parameterName: '/images/golden' });
    template = Template.fromStack(stack).toJSON();
  });
  jest.dontMock('node:path');
  return template;
}

let thisBuild: unknown;
let otherBuild: unknown;
beforeAll(() => {
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-ami-bundle-'));
  fs.cpSync(BUNDLE, other, { recursive: true });
  fs.appendFileSync(path.join(other, 'index.js'), '\n// another build of the handlers\n');
  thisBuild = userTemplate(BUNDLE);
  otherBuild = userTemplate(other);
  fs.rmSync(other, { recursive: true, force: true });
});

test('two handler bundles give two templates: without the recipe, every release changes a user\'s snapshot', () => {
  expect(format(thisBuild)).not.toEqual(format(otherBuild));
});

test('with the README recipe, both bundles give the same snapshot, which shows the placeholder', () => {
  const plugins = recipeSerializers();
  expect(plugins).toHaveLength(1);
  const snapshot = format(thisBuild, { plugins });
  expect(snapshot).toEqual(format(otherBuild, { plugins }));
  expect(snapshot).toContain('"[ASSET HASH].zip"');
  expect(snapshot).not.toMatch(/[0-9a-f]{64}/);
  // The rest of the template is still compared.
  expect(snapshot).toContain('Custom::AmiFromInstance');
});
