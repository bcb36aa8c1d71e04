/**
 * Figure 1: synth time, template size and Lambda function count of a stack
 * with 1, 10 and 100 `AmiFromInstance` images; and, for scale, the same
 * stacks with every image after the first written as bare L1 elements.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, CfnOutput, CfnResource, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AmiFromInstance } from '../src';
import { median, msSince } from './stats';
import { AmiProvider } from '../src/private/provider';

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

/**
 * How a stack gets its images:
 * - `cdk-ami`: N `AmiFromInstance` constructs;
 * - `l1-floor`: one `AmiFromInstance` (so the provider is the same), then N-1
 *   images as the bare elements an `AmiFromInstance` with default props puts in
 *   the template: operation resource, two waiter links (the default one-hour
 *   timeout), output, with the same properties and policies. Only the
 *   instance's ARN in the provider's CreateImage statement is left out. What
 *   aws-cdk-lib itself costs per image: no construct library can synthesize
 *   these elements for less.
 */
export type SynthVariant = 'cdk-ami' | 'l1-floor';

function bareImage(stack: Stack, id: string, sourceInstance: string, provider: { operation: string; waiter: string }): void {
  const scope = new Construct(stack, id);
  const wait = new Construct(scope, 'Wait');
  const resource = (parent: Construct, resourceId: string, type: string, properties: Record<string, unknown>): CfnResource => {
    const cfn = new CfnResource(parent, resourceId, { type, properties });
    cfn.applyRemovalPolicy(RemovalPolicy.DESTROY);
    return cfn;
  };
  const waiter = (link: number, imageId: string): CfnResource => resource(wait, `Waiter${link}`, 'Custom::AmiWaiter', {
    ServiceToken: provider.waiter, Region: stack.region, ImageId: imageId, Link: link, Links: 2, BudgetSeconds: 1800, TimeoutSeconds: 3600,
  });
  const operation = resource(scope, 'Resource', 'Custom::AmiFromInstance', {
    ServiceToken: provider.operation,
    Region: stack.region,
    NamePrefix: `${stack.stackName}/${id}`,
    RemovalPolicy: 'retain',
    InstanceId: sourceInstance,
    NoReboot: false,
    IncludeDataVolumes: true,
  });
  const first = waiter(1, operation.ref);
  const last = waiter(2, Token.asString(first.getAtt('ImageId')));
  new CfnOutput(scope, 'ImageIdOutput', { value: Token.asString(last.getAtt('ImageId')), description: `AMI ID of ${scope.node.path} (${stack.region})` });
}

/** One synth in a fresh App: constructs plus `app.synth()`, timed; the template is read afterwards. */
function synthOnce(images: number, variant: SynthVariant = 'cdk-ami', keep?: (template: StackTemplate) => void): SynthSample {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-ami-bench-'));
  try {
    const start = process.hrtime.bigint();
    const app = new App({ outdir });
    const stack = new Stack(app, 'BenchStack', { env: { account: '123456789012', region: 'us-east-1' } });
    new AmiFromInstance(stack, 'Image0', { instanceId: instanceId(1) });
    const provider = AmiProvider.of(stack);
    const tokens = variant === 'l1-floor' ? { operation: provider.operationServiceToken, waiter: provider.waiterServiceToken } : undefined;
    for (let i = 1; i < images; i++) {
      if (tokens) bareImage(stack, `Image${i}`, instanceId(i + 1), tokens);
      else new AmiFromInstance(stack, `Image${i}`, { instanceId: instanceId(i + 1) });
    }
    const assembly = app.synth();
    const elapsed = msSince(start);

    const artifact = assembly.getStackByName(stack.stackName);
    const template = artifact.template as StackTemplate;
    keep?.(template);
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

interface StackTemplate {
  readonly Resources: Record<string, { readonly Type: string }>;
  readonly Outputs?: Record<string, unknown>;
}

/**
 * Whether the floor's stack is cdk-ami's stack, element for element, apart
 * from the IAM policies (cdk-ami's CreateImage statement names each
 * instance): the floor is only a floor while that holds.
 */
export function floorMatchesTemplate(): boolean {
  const render = (variant: SynthVariant): string => {
    let rendered = '';
    synthOnce(3, variant, (template) => {
      // Sorted: the floor adds its elements in another order, which the template keeps.
      const resources = Object.entries(template.Resources).filter(([, r]) => r.Type !== 'AWS::IAM::Policy').sort(([a], [b]) => a.localeCompare(b));
      rendered = canonicalJson({ resources, outputs: template.Outputs });
    });
    return rendered;
  };
  return render('cdk-ami') === render('l1-floor');
}

/** JSON with the keys of every object sorted: the same template whatever order its properties were added in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
    : v));
}

/** One warm-up synth of each size, then `runs` rounds, interleaved so drift hits every size alike. */
export function benchSynth(runs: number, variant: SynthVariant = 'cdk-ami'): SynthResult[] {
  for (const images of IMAGE_COUNTS) synthOnce(images, variant);
  const samples = new Map<number, SynthSample[]>(IMAGE_COUNTS.map((n) => [n, []]));
  for (let run = 0; run < runs; run++) {
    for (const images of IMAGE_COUNTS) samples.get(images)!.push(synthOnce(images, variant));
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
