import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

const FILES = ['index.js', 's3-objects.js'];

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The exact esbuild command line of the `bundle` task, writing elsewhere; the hash of each file. */
function bundleTo(outdir: string): string[] {
  const tasks = JSON.parse(readFileSync(path.join(ROOT, '.projen', 'tasks.json'), 'utf8'));
  const command: string = tasks.tasks.bundle.steps[0].exec;
  const args = command.split(' ').slice(1).map((a) => (a.startsWith('--outdir=') ? `--outdir=${outdir}` : a));
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'esbuild'), args, { cwd: ROOT });
  return FILES.map((f) => sha256(path.join(outdir, f)));
}

test('the handler bundle is byte-identical across builds, so users\' asset hashes are stable', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cdk-ami-bundle-'));
  try {
    const first = bundleTo(path.join(dir, 'a'));
    const second = bundleTo(path.join(dir, 'b'));
    expect(second).toEqual(first);
    expect(FILES.map((f) => sha256(path.join(ROOT, 'assets', 'provider', f)))).toEqual(first);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bundle carries the pinned EC2 client and loads without node_modules', () => {
  const code = readFileSync(path.join(ROOT, 'assets', 'provider', 'index.js'), 'utf8');
  // Only node: built-ins stay outside, the S3 bundle beside it (loaded only to delete a stored
  // image's object), and the SDK's optional CRT signer, which it loads in a try/catch for SigV4a only.
  const external = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).filter((m) => !m.startsWith('node:'));
  expect([...new Set(external)].sort()).toEqual(['./s3-objects', '@aws-sdk/signature-v4-crt']);
  const out = execFileSync(process.execPath, ['-e', `const m = require(${JSON.stringify(path.join(ROOT, 'assets', 'provider', 'index.js'))}); console.log(typeof m.onEvent, typeof m.isComplete)`], { cwd: tmpdir() });
  expect(out.toString().trim()).toBe('function function');
});
