/**
 * Figure 1: synth time, template size and Lambda function count of a stack
 * with 1, 10 and 100 `AmiFromInstance` images.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { AmiFromInstance } from '../src';
import { median, msSince } from './stats';

export const IMAGE_COUNTS = [1, 10, 100] as const;

export interface SynthSample {
  readonly images: number;
  readonly ms: number;
  /** The template file as `cdk synth` writes it (JSON, 1-space indent). */
  readonly templateBytes: number;
  /** The same template as minified JSON. */
  readonly minifiedBytes: number;
  readonly lambdaFunctions: number;
  readonly resources: number;
}

export interface SynthResult {
  readonly images: number;
  readonly runs: number;
  readonly medianMs: number;
  readonly samplesMs: number[];
  readonly templateBytes: number;
  readonly minifiedBytes: number;
  readonly lambdaFunctions: number;
  readonly resources: number;
}

/** `i-` and 17 hex digits, a different instance per image. */
function instanceId(n: number): string {
  return `i-${n.toString(16).padStart(17, '0')}`;
}

/** One synth in a fresh App: constructs plus `app.synth()`, timed; the template is read afterwards. */
function synthOnce(images: number): SynthSample {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-ami-bench-'));
  try {
    const start = process.hrtime.bigint();
    const app = new App({ outdir });
    const stack = new Stack(app, 'BenchStack', { env: { account: '123456789012', region: 'us-east-1' } });
    for (let i = 0; i < images; i++) {
      new AmiFromInstance(stack, `Image${i}`, { instanceId: instanceId(i + 1) });
    }
    const assembly = app.synth();
    const elapsed = msSince(start);

    const artifact = assembly.getStackByName(stack.stackName);
    const template = artifact.template as { Resources: Record<string, { Type: string }> };
    const resources = Object.values(template.Resources);
    return {
      images,
      ms: elapsed,
      templateBytes: fs.statSync(artifact.templateFullPath).size,
      minifiedBytes: Buffer.byteLength(JSON.stringify(template)),
      lambdaFunctions: resources.filter((r) => r.Type === 'AWS::Lambda::Function').length,
      resources: resources.length,
    };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** One warm-up synth of each size, then `runs` rounds, interleaved so drift hits every size alike. */
export function benchSynth(runs: number): SynthResult[] {
  for (const images of IMAGE_COUNTS) synthOnce(images);
  const samples = new Map<number, SynthSample[]>(IMAGE_COUNTS.map((n) => [n, []]));
  for (let run = 0; run < runs; run++) {
    for (const images of IMAGE_COUNTS) samples.get(images)!.push(synthOnce(images));
  }
  return IMAGE_COUNTS.map((images) => {
    const list = samples.get(images)!;
    const last = list[list.length - 1];
    return {
      images,
      runs: list.length,
      medianMs: median(list.map((s) => s.ms)),
      samplesMs: list.map((s) => Math.round(s.ms * 10) / 10),
      templateBytes: last.templateBytes,
      minifiedBytes: last.minifiedBytes,
      lambdaFunctions: last.lambdaFunctions,
      resources: last.resources,
    };
  });
}
