import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { bundle, inlineSchemaKeys } from '../build-tools/bundle';

const ROOT = path.join(__dirname, '..');

const FILES = ['index.js', 's3-objects.js', 'ssm-parameters.js'];

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The `bundle` task's build, writing elsewhere; the hash of each file. */
async function bundleTo(outdir: string): Promise<string[]> {
  await bundle(outdir);
  return FILES.map((f) => sha256(path.join(outdir, f)));
}

test('the handler bundle is byte-identical across builds, so users\' asset hashes are stable', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cdk-ami-bundle-'));
  try {
    const first = await bundleTo(path.join(dir, 'a'));
    const second = await bundleTo(path.join(dir, 'b'));
    expect(second).toEqual(first);
    expect(FILES.map((f) => sha256(path.join(ROOT, 'assets', 'provider', f)))).toEqual(first);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Two full builds of three entry points: seconds on an idle machine, more on a loaded one.
}, 60_000);

test('the bundle carries the pinned EC2 client and loads without node_modules', () => {
  const code = readFileSync(path.join(ROOT, 'assets', 'provider', 'index.js'), 'utf8');
  // Only node: built-ins stay outside, the S3 and SSM bundles beside it (loaded only to delete a stored
  // image's object, and for the parameter of an image in another Region), and the SDK's optional CRT
  // signer, which it loads in a try/catch for SigV4a only.
  const external = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).filter((m) => !m.startsWith('node:'));
  expect([...new Set(external)].sort()).toEqual(['./s3-objects', './ssm-parameters', '@aws-sdk/signature-v4-crt']);
  const out = execFileSync(process.execPath, ['-e', `const m = require(${JSON.stringify(path.join(ROOT, 'assets', 'provider', 'index.js'))}); console.log(typeof m.onEvent, typeof m.isComplete)`], { cwd: tmpdir() });
  expect(out.toString().trim()).toBe('function function');
});

describe('schema keys', () => {
  const source = [
    'const _xN = "xmlName";',
    'const _TSa = "TagSpecification";',
    'export var Req$ = [3, n0, _R, 0, [_TS], [[() => TagSpecificationList, { [_xN]: _TSa }]]];',
  ].join('\n');

  test('computed keys become the string constants they name, so shapes are pure literals', () => {
    expect(inlineSchemaKeys(source, 'schemas_0.js')).toContain('{ "xmlName": _TSa }');
    expect(inlineSchemaKeys(source, 'schemas_0.js')).not.toContain('[_xN]');
  });

  test('a computed key that is not a string constant of the file fails the build, naming it', () => {
    expect(() => inlineSchemaKeys(source.replace('const _xN = "xmlName";\n', ''), 'node_modules/x/schemas_0.js'))
      .toThrow('node_modules/x/schemas_0.js: computed keys _xN are not string constants of the file; update build-tools/bundle.ts.');
  });

  test('the bundle keeps the EC2 shapes the handlers use and drops the others', () => {
    const code = readFileSync(path.join(ROOT, 'assets', 'provider', 'index.js'), 'utf8');
    for (const used of ['DescribeImagesRequest', 'CreateImageRequest', 'CopyImageRequest', 'ImportImageRequest', 'CreateRestoreImageTaskRequest']) {
      expect(code).toContain(`"${used}"`);
    }
    // Operations no handler calls.
    for (const unused of ['AllocateAddressRequest', 'RunInstancesRequest', 'CreateVpcRequest', 'DescribeSecurityGroupsRequest']) {
      expect(code).not.toContain(`"${unused}"`);
    }
  });
});
