import { CfnOutput, RemovalPolicy, TagManager } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { IConstruct } from 'constructs';
import type { LaunchPermission } from '../governance';

/**
 * What an image construct knows of its image: `ImageBase` holds one, made by
 * `ManagedImage` for the images this library creates and from the given
 * attributes for images referenced by ID.
 */
export interface ImageState {
  readonly imageId: string;
  readonly imageName?: string;
  readonly region: string;
  readonly tags: TagManager;
  readonly output?: CfnOutput;
  readonly parameter?: ssm.IStringParameter;
  /**
   * The image's snapshots carry its stack's cdk-ami:stack tag: true for the
   * images this library makes, except those registered from the user's snapshots.
   */
  readonly snapshotsTagged?: boolean;
  /** The customer managed key of the image's snapshots, where this library knows it. */
  readonly encryptionKey?: kms.IKey;
  /** The test instance's role, when the image has a test. */
  readonly testGrantPrincipal?: iam.IPrincipal;
  /** The `ec2.IMachineImage` view of the image. */
  machineImage(): ec2.MachineImageConfig;
  /** Adds launch permissions; only images this library manages can. */
  addLaunchPermission?(scope: IConstruct, permissions: LaunchPermission[]): void;
  /** Sets the removal policy; only images this library manages have one. */
  applyRemovalPolicy?(scope: IConstruct, policy: RemovalPolicy): void;
}

/**
 * Marks image constructs of this library. A symbol from the global registry,
 * not `instanceof`: two copies of the library in one app (two versions in
 * node_modules) still recognise each other's images.
 */
const IMAGE_SYMBOL = Symbol.for('cdk-ami.Image');

export function markAsImage(image: object): void {
  Object.defineProperty(image, IMAGE_SYMBOL, { value: true });
}

export function isMarkedImage(x: unknown): boolean {
  return typeof x === 'object' && x !== null && IMAGE_SYMBOL in x;
}

/** The state of an image of this library (of any copy of it), if `x` is one. */
export function imageStateOf(x: unknown): ImageState | undefined {
  return isMarkedImage(x) ? (x as { _state?: ImageState })._state : undefined;
}

/** The customer managed key of an image of this app, if it was made with one. */
export function encryptionKeyOf(image: unknown): kms.IKey | undefined {
  return imageStateOf(image)?.encryptionKey;
}
