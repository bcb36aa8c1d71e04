/**
 * The other lifecycle tests run the handlers from their TypeScript sources;
 * these run the files Lambda runs: assets/provider/index.js and s3-objects.js,
 * as `npx projen bundle` built them (minified, SDK inside, unused shapes
 * dropped). Every image kind is created, waited on and deleted through them,
 * so a bundling step that broke a request or a response would fail here.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Handlers } from './cfn-simulator';
import { instanceStandIn, lifecycleTemplate, useLocalEc2 } from './harness';
import { AmiFromInstance, AmiFromSnapshot, BakedAmi, DiskImageFormat, ImportDisk, ImportedAmi, RestoredAmi, StoredAmi } from '../../src';
import { snapshotDevices } from '../util';

const h = useLocalEc2();
const REGION = 'us-east-1';
const BUNDLE = path.join(__dirname, '..', '..', 'assets', 'provider', 'index.js');

/**
 * The bundle runs in a Node.js process of its own, as in Lambda (jest's module
 * sandbox cannot run the SDK's dynamic `import("node:http")`). Each call
 * carries the simulator's virtual clock, which the child's `Date.now` follows.
 */
const CHILD = `
const handlers = require(${JSON.stringify(BUNDLE)});
process.on('message', async ({ id, fn, event, now }) => {
  Date.now = () => now;
  try {
    process.send({ id, result: await handlers[fn](event) });
  } catch (error) {
    process.send({ id, error: { message: error.message, stack: error.stack } });
  }
});`;

class BundleProcess implements Handlers {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  /** The log lines the bundle wrote to stdout. */
  public stdout = '';
  /** What else it printed (the SDK's Node.js version notice, or why it could not start). */
  public stderr = '';

  constructor() {
    // Started after the harness has pointed the environment at the local endpoint.
    this.child = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: process.env });
    this.child.stdout!.on('data', (chunk: Buffer) => { this.stdout += chunk.toString(); });
    this.child.stderr!.on('data', (chunk: Buffer) => { this.stderr += chunk.toString(); });
    // A bundle that cannot load (or a crash) fails the calls with what the child printed.
    this.child.on('exit', (code) => {
      for (const call of this.pending.values()) call.reject(new Error(`The bundle process exited (${code}): ${this.stderr}`));
      this.pending.clear();
    });
    this.child.on('message', (message: { id: number; result?: unknown; error?: { message: string; stack: string } }) => {
      const call = this.pending.get(message.id)!;
      this.pending.delete(message.id);
      if (message.error === undefined) {
        call.resolve(message.result);
        return;
      }
      // The error as the handler threw it, stack included: the Provider framework copies the stack into the Reason.
      const error = new Error(message.error.message);
      error.stack = message.error.stack;
      call.reject(error);
    });
  }

  public readonly onEvent: Handlers['onEvent'] = (event) => this.call('onEvent', event);
  public readonly isComplete: Handlers['isComplete'] = (event) => this.call('isComplete', event);

  public logLines(): Record<string, unknown>[] {
    return this.stdout.split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line));
  }

  public stop(): void {
    this.child.kill();
  }

  /** The handlers' results cross the process boundary as JSON, as they do in Lambda. */
  private call<T>(fn: keyof Handlers, event: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.child.exitCode !== null) {
        reject(new Error(`The bundle process exited (${this.child.exitCode}): ${this.stderr}`));
        return;
      }
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, fn, event, now: Date.now() });
    });
  }
}

let bundled: BundleProcess;
beforeAll(() => {
  bundled = new BundleProcess();
});
afterAll(() => bundled.stop());

describe('the built bundle against the local endpoint', () => {
  test('every image kind is created, waited on, tagged and deleted with its snapshots and stored object', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    const root = h.ec2.addSnapshot({ region: REGION, sizeGiB: 8 });
    const destroy = RemovalPolicy.DESTROY;
    const sim = h.sim({ handlers: bundled });
    const template = lifecycleTemplate((stack) => {
      const bucket = s3.Bucket.fromBucketName(stack, 'Store', 'stored-amis');
      const golden = new AmiFromInstance(stack, 'Golden', { instanceId, removalPolicy: destroy, tags: { team: 'platform' } });
      golden.copyTo('EuWest1', 'eu-west-1', { removalPolicy: destroy });
      const stored = new StoredAmi(stack, 'Stored', { image: golden, bucket, removalPolicy: destroy });
      new RestoredAmi(stack, 'Restored', { bucket: stored.bucket, objectKey: stored.objectKey, removalPolicy: destroy });
      new AmiFromSnapshot(stack, 'Registered', { blockDevices: snapshotDevices(root), removalPolicy: destroy });
      new ImportedAmi(stack, 'Imported', {
        disks: [ImportDisk.fromBucket(s3.Bucket.fromBucketName(stack, 'Disks', 'vm-disks'), 'appliance.raw', DiskImageFormat.RAW)],
        removalPolicy: destroy,
      });
    });

    expect(await sim.deploy(template)).toEqual({ ok: true });
    const images = [...h.ec2.liveImages(REGION), ...h.ec2.liveImages('eu-west-1')];
    // From instance, copy, restore, register, import: every output is an available image.
    expect(images).toHaveLength(5);
    expect(images.every((image) => image.state === 'available')).toBe(true);
    const outputs = Object.values(sim.outputs());
    expect(outputs).toHaveLength(5);
    expect(new Set(outputs)).toEqual(new Set(images.map((image) => image.imageId)));
    expect(h.ec2.image(sim.attribute(sim.logicalIdsOfType('Custom::AmiWaiter')[0], 'ImageId')!)).toBeDefined();
    expect(images.find((image) => image.tags.team === 'platform')).toBeDefined();
    expect(h.ec2.s3Objects()).toHaveLength(1);
    // The bundle logged one JSON object per line, polls included.
    expect(bundled.logLines().filter((line) => line.message === 'poll').length).toBeGreaterThan(5);

    expect(await sim.deleteStack()).toEqual({ ok: true });
    for (const region of [REGION, 'eu-west-1']) {
      expect(h.ec2.liveImages(region)).toEqual([]);
      // Only the user's own snapshot (registered from, never deleted) is left.
      expect(h.ec2.snapshots(region).map((snapshot) => snapshot.snapshotId)).toEqual(region === REGION ? [root] : []);
    }
    // Deleted by s3-objects.js, the separately bundled S3 client.
    expect(h.ec2.s3Objects()).toEqual([]);
    expect(h.ec2.callCount('DeleteObject')).toBe(1);
  });

  test('a failed image fails the deployment with EC2\'s reason, in one sentence, and the rollback removes it', async () => {
    const instanceId = h.ec2.addInstance({ region: REGION });
    h.ec2.imageBehaviour = {
      pendingPolls: 1,
      finalState: 'failed',
      stateReason: { code: 'Client.InternalError', message: 'Client.InternalError: the snapshot of /dev/sdf could not be completed' },
    };
    const sim = h.sim({ handlers: bundled });
    const result = await sim.deploy(lifecycleTemplate((stack) => new AmiFromInstance(stack, 'Golden', { instanceId })));
    expect(result.ok).toBe(false);
    expect(result.reason!.split('\n')[0]).toMatch(/^Image ami-[0-9a-f]+ \(LifecycleStack\/Golden-[0-9a-f]+\) ended in state failed in us-east-1: Client.InternalError: the snapshot of \/dev\/sdf could not be completed\. The rollback deregisters it and deletes its snapshots\.$/);
    expect(result.reason).not.toMatch(/\n\s+at /);
    expect(h.ec2.liveImages(REGION)).toEqual([]);
    expect(h.ec2.snapshots(REGION)).toEqual([]);
  });

  test('a bake: the setup wait reads the builder\'s tag and console, a failure shows the console\'s last lines', async () => {
    let exitCode = 0;
    const builders = instanceStandIn(h, REGION, ({ instanceId }) => h.ec2.scriptInstance(REGION, instanceId, {
      afterDescribes: 2,
      tags: { 'cdk-ami:setup': exitCode ? `failed:${exitCode}` : 'succeeded' },
      consoleOutput: `Installing...\n${exitCode ? 'No match for argument: nginxx\n' : ''}`,
    }));
    const template = lifecycleTemplate((stack) => new BakedAmi(stack, 'Web', {
      machineImage: ec2.MachineImage.genericLinux({ [REGION]: 'ami-0123456789abcdef0' }),
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1 }),
      setup: ec2.UserData.custom('#!/bin/bash\ndnf install -y nginx'),
    }), {}, ['AWS::EC2::Instance']);

    const sim = h.sim({ handlers: bundled, nativeResources: { 'AWS::EC2::Instance': builders } });
    expect(await sim.deploy(template)).toEqual({ ok: true });
    expect(h.ec2.liveImages(REGION)).toHaveLength(1);
    expect(h.ec2.instances(REGION)[0].state).toBe('terminated');

    exitCode = 1;
    const failing = h.sim({ handlers: bundled, nativeResources: { 'AWS::EC2::Instance': builders } });
    const result = await failing.deploy(template);
    expect(result.reason!.split('\n')[0]).toMatch(/failed with exit code 1\. Last lines of its console output: Installing\.\.\. \| No match for argument: nginxx$/);
  });
});
