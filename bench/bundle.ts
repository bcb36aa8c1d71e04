/**
 * Figures 2 and 4: size and cold-load time of the handler bundle, and whether
 * two builds of it are byte-identical.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { median } from './stats';
import { bundle } from '../build-tools/bundle';

export const ROOT = path.join(__dirname, '..');
export const BUNDLE = path.join(ROOT, 'assets', 'provider', 'index.js');

export interface RequireResult {
  readonly runs: number;
  readonly bundleMs: number;
  readonly unbundledMs: number;
  readonly bundleSamplesMs: number[];
  readonly unbundledSamplesMs: number[];
  /** bundle / unbundled, of the medians. */
  readonly ratio: number;
}

/** Bytes of a file the bundle task wrote (default index.js). */
export function bundleBytes(file = 'index.js'): number {
  return fs.statSync(path.join(path.dirname(BUNDLE), file)).size;
}

/**
 * Time of `require(target)` in a new node process, so nothing is cached in
 * the module registry (the OS file cache is warm after the first run).
 */
function coldRequireMs(target: string): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(target)});console.log(Number(process.hrtime.bigint()-t)/1e6)`;
  const out = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
  const value = Number(out.trim().split('\n').pop());
  if (!Number.isFinite(value)) throw new Error(`Could not read a time from: ${out}`);
  return value;
}

/** One warm-up of each, then `runs` interleaved pairs. */
export function benchRequire(runs: number): RequireResult {
  const unbundled = '@aws-sdk/client-ec2';
  coldRequireMs(BUNDLE);
  coldRequireMs(unbundled);
  const bundleSamples: number[] = [];
  const unbundledSamples: number[] = [];
  for (let i = 0; i < runs; i++) {
    bundleSamples.push(coldRequireMs(BUNDLE));
    unbundledSamples.push(coldRequireMs(unbundled));
  }
  const bundleMs = median(bundleSamples);
  const unbundledMs = median(unbundledSamples);
  const round = (v: number): number => Math.round(v * 10) / 10;
  return {
    runs,
    bundleMs,
    unbundledMs,
    bundleSamplesMs: bundleSamples.map(round),
    unbundledSamplesMs: unbundledSamples.map(round),
    ratio: bundleMs / unbundledMs,
  };
}

export interface ReproducibleResult {
  readonly identical: boolean;
  readonly sha256: [string, string];
  /** The bundle `npx projen bundle` wrote has the same hash. */
  readonly matchesAsset: boolean;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Runs the bundle task's build twice, into two temporary directories, and compares index.js. */
export async function benchReproducible(): Promise<ReproducibleResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-ami-bundle-'));
  try {
    const hashes: string[] = [];
    for (const n of [1, 2]) {
      const outdir = path.join(dir, `build${n}`);
      await bundle(outdir);
      hashes.push(sha256(path.join(outdir, 'index.js')));
    }
    return { identical: hashes[0] === hashes[1], sha256: [hashes[0], hashes[1]], matchesAsset: sha256(BUNDLE) === hashes[0] };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
