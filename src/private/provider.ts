import * as path from 'node:path';
import { Aws, CfnResource, Duration, Fn, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, IConstruct } from 'constructs';
import type { IImage } from '../image';
import { TAG_PREFIX, Tags, Timing } from './contract';
import { imageStateOf } from './image-state';
import { suppressNag } from './nag';

/**
 * The Lambda runtime is pinned: "latest" would churn users' snapshots. Named
 * rather than `Runtime.NODEJS_24_X`, which aws-cdk-lib 2.211 lacks.
 */
export const HANDLER_RUNTIME = pinnedNodeRuntime('nodejs24.x');

/** Poll interval of the waiters; also the worst-case lag after "available". */
const POLL_INTERVAL = Duration.seconds(Timing.POLL_INTERVAL_SECONDS);
/** Longest wait of one waiter link: below CloudFormation's 1-hour limit. */
const LINK_BUDGET = Duration.seconds(Timing.LINK_BUDGET_SECONDS);

const PROVIDER_ID = 'CdkAmiProvider';
/** A Region as cdk-nag renders it in a finding: any (*), the stack's (a pseudo parameter), or a named one. */
const REGION_IN_NAG = '(\\*|<AWS::Region>|[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\\d{1,2})';
const ASSET_DIR = path.join(__dirname, '..', '..', 'assets', 'provider');

/**
 * The stack's one provider, created on first use however many images the
 * stack declares. Two Lambda functions run our code: `onEvent` (starts,
 * changes and deletes images; one role with the write permissions) and
 * `isComplete` (polls; a read-only role). Operation resources use a provider
 * without a waiter so they return the image ID at once; waiter resources use
 * a provider whose Step Functions waiter calls isComplete every 15 s.
 */
export class AmiProvider extends Construct {
  public static of(scope: IConstruct): AmiProvider {
    const stack = Stack.of(scope);
    return (stack.node.tryFindChild(PROVIDER_ID) as AmiProvider | undefined) ?? new AmiProvider(stack, PROVIDER_ID);
  }

  /** Service token for operation resources (Custom::AmiFromInstance, ...). */
  public readonly operationServiceToken: string;
  /** Service token for Custom::AmiWaiter resources. */
  public readonly waiterServiceToken: string;
  /** Role of the onEvent function: everything that changes EC2. */
  public readonly operationRole: iam.Role;
  /** Role of the isComplete function: reads, plus the post-availability instance action. */
  public readonly waiterRole: iam.Role;

  private readonly statements = new Map<string, iam.PolicyStatement>();
  /** The accounts that copies of this stack's images are made by. */
  private readonly copyAccounts = new Set<string>();

  private constructor(scope: Stack, id: string) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.operationRole = this.lambdaRole('OperationRole', logGroup, 'cdk-ami onEvent: creates, updates and deletes images');
    this.waiterRole = this.lambdaRole('WaiterRole', logGroup, 'cdk-ami isComplete: polls images until they are available');
    // The framework's onEvent functions start the waiter state machine, which
    // calls the isComplete function: separate roles keep that out of a cycle.
    const frameworkOnEventRole = this.lambdaRole('FrameworkOnEventRole', logGroup, 'cdk-ami provider framework onEvent (aws-cdk-lib custom-resources)');
    const frameworkWaitRole = this.lambdaRole('FrameworkWaitRole', logGroup, 'cdk-ami provider framework isComplete and onTimeout (aws-cdk-lib custom-resources)');

    const onEvent = this.handler('OnEvent', 'index.onEvent', this.operationRole, logGroup, Duration.seconds(Timing.OPERATION_TIMEOUT_SECONDS));
    const isComplete = this.handler('IsComplete', 'index.isComplete', this.waiterRole, logGroup, Duration.seconds(Timing.WAITER_TIMEOUT_SECONDS));

    const operations = new cr.Provider(this, 'Operations', {
      onEventHandler: onEvent,
      frameworkOnEventRole,
      logGroup,
    });
    const waiters = new cr.Provider(this, 'Waiters', {
      onEventHandler: onEvent,
      isCompleteHandler: isComplete,
      queryInterval: POLL_INTERVAL,
      // A link stops itself after LINK_BUDGET; the framework's own timeout is a backstop.
      totalTimeout: LINK_BUDGET.plus(Duration.minutes(5)),
      frameworkOnEventRole,
      frameworkCompleteAndTimeoutRole: frameworkWaitRole,
      logGroup,
      disableWaiterStateMachineLogging: false,
      waiterStateMachineLogOptions: {
        destination: logGroup,
        level: sfn.LogLevel.ALL,
      },
    });
    this.operationServiceToken = operations.serviceToken;
    this.waiterServiceToken = waiters.serviceToken;

    this.grantOperation('describe', {
      sid: 'DescribeImages',
      // Wildcard-only actions (the Service Authorization Reference lists no resource type for them).
      actions: ['ec2:DescribeImages', 'ec2:DescribeSnapshots', 'ec2:DescribeInstances', 'ec2:DescribeFastLaunchImages'],
      resources: ['*'],
    });
    // Before a DESTROY deregisters an image, the log names the instances and launch
    // templates that still use it. DescribeImageReferences has no resource type.
    this.grantOperation('image-references', {
      sid: 'FindImageReferences',
      actions: ['ec2:DescribeImageReferences'],
      resources: ['*'],
    });
    this.grantOperation('stack-status', {
      sid: 'ReadOwnStackStatus',
      actions: ['cloudformation:DescribeStacks'],
      resources: [Aws.STACK_ID],
    });
    this.grantOperation('manage-own', {
      sid: 'ManageOwnImages',
      // DisableImageDeregistrationProtection: a rollback removes the protected image it made.
      actions: ['ec2:DeregisterImage', 'ec2:DeleteSnapshot', 'ec2:ModifyImageAttribute', 'ec2:DisableImageDeregistrationProtection'],
      resources: [imageArns(), snapshotArns()],
      conditions: { StringEquals: { [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID } },
    });
    this.grantOperation('retag-own', ownRetagStatement('RetagOwnImages'));
    // Before a delete deregisters an image with fast launch (and EC2 then removes its pre-provisioned snapshots).
    this.grantOperation('fast-launch-own', {
      sid: 'DisableFastLaunchOfOwnImages',
      actions: ['ec2:DisableFastLaunch'],
      resources: [imageArns()],
      conditions: { StringEquals: { [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID } },
    });
    // The last waiter link applies IMDSv2, sharing, deprecation, protection and
    // disabling once the image is available.
    this.grantWaiter('govern-own', {
      sid: 'GovernOwnImages',
      actions: [
        'ec2:ModifyImageAttribute', 'ec2:ModifySnapshotAttribute',
        'ec2:EnableImageDeprecation', 'ec2:DisableImageDeprecation',
        'ec2:EnableImageDeregistrationProtection', 'ec2:DisableImageDeregistrationProtection',
        'ec2:DisableImage', 'ec2:EnableImage',
      ],
      resources: [imageArns(), snapshotArns()],
      conditions: { StringEquals: { [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID } },
    });
    // Fast launch is applied last, and changed or disabled in place. Granted whether or not an image
    // uses it today: removing fastLaunch must still be able to disable it on the image that had it.
    this.grantWaiter('fast-launch-own', {
      sid: 'FastLaunchOwnImages',
      actions: ['ec2:EnableFastLaunch', 'ec2:DisableFastLaunch'],
      resources: [imageArns()],
      conditions: { StringEquals: { [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID } },
    });
    this.grantWaiter('describe', {
      sid: 'DescribeImages',
      actions: ['ec2:DescribeImages', 'ec2:DescribeSnapshots', 'ec2:GetImageBlockPublicAccessState', 'ec2:DescribeFastLaunchImages'],
      resources: ['*'],
    });

    const wildcardOnly = {
      id: 'AwsSolutions-IAM5',
      reason: 'Resource * is used only for actions that support no resource-level permissions (the Service Authorization Reference '
        + 'lists no resource type for them): ec2:Describe* (images, snapshots, instances, import and store tasks, tags), '
        + 'ec2:GetImageBlockPublicAccessState, ec2:GetEbsEncryptionByDefault and ec2:GetEbsDefaultKmsKeyId.',
      appliesTo: ['Resource::*'],
    };
    const ownImagesOnly = {
      id: 'AwsSolutions-IAM5',
      reason: 'image/* and snapshot/* (in any Region, because copies live outside the stack\'s Region; or in one named Region) stand for '
        + 'IDs that only exist at deploy time. Each statement on them is limited: by the cdk-ami:stack tag to this stack\'s images '
        + 'and snapshots (aws:ResourceTag on existing ones; aws:RequestTag or ec2:CreateAction when they are created), or, for the EBS direct API writes of '
        + 'a restore, to this Region: ebs:StartSnapshot only of snapshots without a parent, and ebs:PutSnapshotBlock and '
        + 'ebs:CompleteSnapshot, which only write to snapshots that are still being started.',
      appliesTo: [{ regex: `/^Resource::arn:<AWS::Partition>:ec2:${REGION_IN_NAG}::(image|snapshot)\\/\\*$/` }],
    };
    suppressNag(this.waiterRole, [wildcardOnly, ownImagesOnly]);
    suppressNag(this.operationRole, [wildcardOnly, ownImagesOnly, {
      id: 'AwsSolutions-IAM5',
      reason: 'CreateStoreImageTask writes, and CreateRestoreImageTask reads, one object named <ami-id>.bin per image; the image ID is only '
        + 'known at deploy time, so these statements name the bucket and the ami-*.bin pattern, nothing broader.',
      // Any bucket ARN: `arn:<AWS::Partition>:s3:::name` imported by name, `<Bucket1234.Arn>` for a bucket of the stack.
      appliesTo: [{ regex: '/^Resource::.+\\/ami-\\*\\.bin$/' }],
    }, {
      id: 'AwsSolutions-IAM5',
      reason: 'ImportImage creates an import-image-task whose ID only exists at deploy time: ImportImage and CancelImportTask on '
        + 'import-image-task/* in this account are limited by the cdk-ami:stack request or resource tag.',
      appliesTo: [{ regex: `/^Resource::arn:<AWS::Partition>:ec2:${REGION_IN_NAG}:<AWS::AccountId>:import-image-task\\/\\*$/` }],
    }]);
    const lambdaVersions = { regex: '/^Resource::<.*\\.Arn>:\\*$/' };
    for (const role of [frameworkOnEventRole, frameworkWaitRole]) {
      suppressNag(role, [{
        id: 'AwsSolutions-IAM5',
        reason: 'Written by the aws-cdk-lib Provider framework: lambda:InvokeFunction on the handler function and its versions (:*).',
        appliesTo: [lambdaVersions],
      }]);
    }
    suppressNag(waiters.node.findChild('waiter-state-machine'), [{
      id: 'AwsSolutions-IAM5',
      reason: 'Written by the aws-cdk-lib Provider framework: invoking its functions and their versions (:*), and the CloudWatch Logs '
        + 'delivery actions for the state machine\'s log, which support no resource-level permissions.',
      appliesTo: [lambdaVersions, 'Resource::*'],
    }]);
    // aws-cdk-lib chooses the framework functions' runtime (lambda.determineLatestNodeRuntime); a cdk-nag
    // that knows a newer Node.js runtime than that aws-cdk-lib flags them, whatever cdk-ami does.
    for (const frameworkFunction of [operations, waiters].flatMap((p) => p.node.children).filter((c) => c instanceof lambda.Function)) {
      suppressNag(frameworkFunction, [{
        id: 'AwsSolutions-L1',
        reason: 'A function of aws-cdk-lib\'s Provider framework: aws-cdk-lib, not cdk-ami, picks its runtime (the Node.js runtime '
          + 'that version of aws-cdk-lib deploys by default), and it runs only aws-cdk-lib\'s framework code; it moves with the app\'s aws-cdk-lib.',
      }]);
    }
    suppressNag(waiters, [{
      id: 'AwsSolutions-SF2',
      reason: 'The Provider framework\'s waiter state machine does not expose X-Ray tracing; every poll is logged as one JSON line by the isComplete function.',
    }]);
  }

  /**
   * Adds a statement to the onEvent role once, however many images ask for it
   * (the statement is only built the first time: synth time grows with images).
   */
  public grantOperation(key: string, statement: iam.PolicyStatementProps): void {
    this.addOnce(`op:${key}`, this.operationRole, () => new iam.PolicyStatement(statement));
  }

  /**
   * Lets a role call an EC2 action that creates images (and snapshots) only
   * with this stack's cdk-ami:stack tag in the request, and tag them in that
   * same call (ec2:CreateAction: never afterwards).
   */
  public grantCreateTagged(ec2Action: CreateAction, role: 'operation' | 'waiter' = 'operation'): void {
    const grant = role === 'operation' ? this.grantOperation.bind(this) : this.grantWaiter.bind(this);
    const resources = CREATED_RESOURCE_TYPES[ec2Action].map((t) => `arn:${Aws.PARTITION}:ec2:*::${t}/*`);
    const tagged = TAGGED_RESOURCE_TYPES[ec2Action].map((t) => `arn:${Aws.PARTITION}:ec2:*::${t}/*`);
    grant(`${ec2Action}-tagged`, {
      sid: `${ec2Action}TaggedAsOwn`,
      actions: [`ec2:${ec2Action}`],
      resources,
      conditions: {
        StringEquals: { [`aws:RequestTag/${Tags.STACK}`]: Aws.STACK_ID },
        // EC2 also evaluates the *source* image of a copy, with the same request tags: only
        // the new image (which has no ID yet) and its snapshots match here. The source is
        // granted by ARN (grantSourceImage, or grantImportedResources for the copy of an imported image).
        ...(ec2Action === 'CopyImage' ? { Null: { 'ec2:ImageID': 'true' } } : {}),
      },
    });
    grant(`${ec2Action}-tag-on-create`, {
      sid: `TagOn${ec2Action}`,
      actions: ['ec2:CreateTags'],
      resources: tagged,
      conditions: { StringEquals: { 'ec2:CreateAction': ec2Action } },
    });
  }

  /**
   * Lets the onEvent role run `ec2Action` (CopyImage, CreateStoreImageTask) on
   * exactly the source image, by its ARN. The statement lives in a policy of
   * its own under `owner`, which `dependent` waits for: naming the ID of an
   * image of this stack in the provider's default policy would make the
   * provider wait for the image, which waits for the provider (a cycle).
   */
  public grantSourceImage(owner: Construct, ec2Action: 'CopyImage' | 'CreateStoreImageTask', source: IImage, dependent: CfnResource): void {
    const policy = new iam.Policy(owner, `${ec2Action}SourcePolicy`, {
      roles: [this.operationRole],
      statements: [new iam.PolicyStatement({
        sid: `${ec2Action}OfSource`,
        actions: [`ec2:${ec2Action}`],
        resources: [imageArn(source.region, source.imageId)],
      })],
    });
    dependent.node.addDependency(policy);
  }

  /**
   * Lets the provider act on exactly the image and snapshots an import made,
   * as stage 1 of its waiter hands them out (VM Import leaves them untagged,
   * and their IDs exist only then): the waiter role may put this stack's tags
   * on them and, with `rename`, copy the image under its name; the operation
   * role may remove them when they were never tagged. The statements live in
   * policies of `owner`, which stage 2 waits for; a new import replaces the
   * IDs they name.
   */
  public grantImportedResources(owner: Construct, region: string, imported: ImportedResourceAttributes, rename: boolean): iam.Policy[] {
    const image = [imageArn(region, imported.imageId)];
    // One ARN per snapshot, comma-joined by stage 1; CloudFormation splits them into the list.
    const snapshots = Fn.split(',', imported.snapshotArns);
    const asOwn = { StringEquals: { [`aws:RequestTag/${Tags.STACK}`]: Aws.STACK_ID } };
    const adopt = new iam.Policy(owner, 'AdoptImportPolicy', {
      roles: [this.waiterRole],
      statements: [
        new iam.PolicyStatement({ sid: 'TagImportedImageAsOwn', actions: ['ec2:CreateTags'], resources: image, conditions: asOwn }),
        new iam.PolicyStatement({ sid: 'TagImportedSnapshotsAsOwn', actions: ['ec2:CreateTags'], resources: snapshots, conditions: asOwn }),
        ...(rename ? [new iam.PolicyStatement({ sid: 'CopyImportedImage', actions: ['ec2:CopyImage'], resources: image })] : []),
      ],
    });
    const cleanup = new iam.Policy(owner, 'RemoveUntaggedImportPolicy', {
      roles: [this.operationRole],
      statements: [
        new iam.PolicyStatement({ sid: 'RemoveUntaggedImportedImage', actions: ['ec2:DeregisterImage'], resources: image }),
        new iam.PolicyStatement({ sid: 'RemoveUntaggedImportedSnapshots', actions: ['ec2:DeleteSnapshot'], resources: snapshots }),
      ],
    });
    return [adopt, cleanup];
  }

  /**
   * What EBS needs, on the caller's behalf, to use a customer managed key for
   * snapshots: only through EC2 (kms:ViaService) in `regions`, and grants only
   * for AWS resources. `write` (new snapshots) adds GenerateDataKeyWithoutPlaintext
   * and ReEncryptTo to what reading encrypted snapshots needs.
   */
  public grantEbsKey(key: kms.IKey, regions: string[], use: 'read' | 'write', role: 'operation' | 'waiter' = 'operation', services = ['ec2']): void {
    const target = role === 'operation' ? this.operationRole : this.waiterRole;
    const viaService = services.flatMap((service) => regions.map((region) => `${service}.${region}.${Aws.URL_SUFFIX}`));
    const actions = ['kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom', ...(use === 'write' ? ['kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptTo'] : [])];
    const keyId = `${role}:${use}:${key.keyArn}:${viaService.join(',')}`;
    this.addOnce(`kms-use:${keyId}`, target, () => new iam.PolicyStatement({
      actions,
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': viaService } },
    }));
    this.addOnce(`kms-grant:${keyId}`, target, () => new iam.PolicyStatement({
      actions: ['kms:CreateGrant'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': viaService }, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    }));
  }

  /**
   * Lets both our functions assume `roleArn`, a role in another account that
   * makes, follows and removes a copy there (onEvent creates and deletes,
   * isComplete polls). Gives the two roles the path that role's trust policy
   * names (see `providerRolePath`), so that no other role of the account matches.
   */
  public grantAssumeCopyRole(roleArn: string): void {
    for (const [key, role] of [['op', this.operationRole], ['wait', this.waiterRole]] as const) {
      this.growStatement(`${key}:assume-copy-role`, role, () => new iam.PolicyStatement({
        sid: 'AssumeCrossAccountCopyRoles',
        actions: ['sts:AssumeRole'],
      }), roleArn);
      (role.node.defaultChild as iam.CfnRole).path = providerRolePath(Stack.of(this).stackName);
    }
  }

  /**
   * Lets the onEvent role share `source` with `account` before that account
   * copies it, and withdraw the share afterwards: launch permission on exactly
   * the source image (in a policy of its own, as in `grantSourceImage`), and
   * createVolumePermission of this stack's snapshots (its cdk-ami:stack tag) in
   * the source's Region for exactly the accounts that copy, never a group (public).
   */
  public grantShareForCopy(owner: Construct, source: IImage, account: string, dependent: CfnResource): void {
    const policy = new iam.Policy(owner, 'ShareSourcePolicy', {
      roles: [this.operationRole],
      statements: [new iam.PolicyStatement({
        sid: 'ShareSourceForCopy',
        actions: ['ec2:DescribeImageAttribute', 'ec2:ModifyImageAttribute'],
        resources: [imageArn(source.region, source.imageId)],
      })],
    });
    dependent.node.addDependency(policy);
    this.grantOperation('read-snapshot-permissions', {
      sid: 'ReadSnapshotPermissions',
      actions: ['ec2:DescribeSnapshotAttribute'],
      resources: [snapshotArns()],
      // Only this account's snapshots can be shared: those of the sources.
      conditions: { StringEquals: { 'ec2:Owner': Aws.ACCOUNT_ID } },
    });
    this.copyAccounts.add(account);
    // Only the snapshots of this stack's images (CopiedAmi accepts no other source), in the source's Region.
    const sourceSnapshots = snapshotArns(source.region);
    for (const operation of ['Add', 'Remove'] as const) {
      const other = operation === 'Add' ? 'Remove' : 'Add';
      this.growStatement(`op:share-snapshots-${operation}`, this.operationRole, () => new iam.PolicyStatement({
        sid: `${operation}SnapshotPermissionForCopies`,
        actions: ['ec2:ModifySnapshotAttribute'],
        conditions: {
          // Present, and naming only accounts that copy; never a group (public) nor the other operation.
          'StringEquals': { 'ec2:Attribute': 'createVolumePermission', [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID },
          'ForAllValues:StringEquals': { [`ec2:${operation}/userId`]: Lazy.list({ produce: () => [...this.copyAccounts] }) },
          'Null': { [`ec2:${operation}/userId`]: 'false', [`ec2:${other}/userId`]: 'true', 'ec2:Add/group': 'true', 'ec2:Remove/group': 'true' },
        },
      }), sourceSnapshots);
    }
  }

  /** Adds a statement to the isComplete role once. */
  public grantWaiter(key: string, statement: iam.PolicyStatementProps): void {
    this.addOnce(`wait:${key}`, this.waiterRole, () => new iam.PolicyStatement(statement));
  }

  /**
   * A statement shared by all images of a kind, growing one resource per image
   * (e.g. each source instance ARN), instead of one statement per image.
   */
  public addResourceToOperationStatement(key: string, create: () => iam.PolicyStatement, resource: string): void {
    this.growStatement(`op:${key}`, this.operationRole, create, resource);
  }

  /** The same, on the isComplete role. */
  public addResourceToWaiterStatement(key: string, create: () => iam.PolicyStatement, resource: string): void {
    this.growStatement(`wait:${key}`, this.waiterRole, create, resource);
  }

  private growStatement(key: string, role: iam.Role, create: () => iam.PolicyStatement, resource: string): void {
    const existing = this.statements.get(key);
    if (existing) {
      if (!existing.resources.includes(resource)) existing.addResources(resource);
      return;
    }
    this.addOnce(key, role, () => {
      const statement = create();
      statement.addResources(resource);
      return statement;
    });
  }

  private addOnce(key: string, role: iam.Role, create: () => iam.PolicyStatement): void {
    if (this.statements.has(key)) return;
    const statement = create();
    this.statements.set(key, statement);
    role.addToPrincipalPolicy(statement);
  }

  private lambdaRole(id: string, logGroup: logs.LogGroup, description: string): iam.Role {
    const role = new iam.Role(this, id, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description,
    });
    // Written by hand instead of AWSLambdaBasicExecutionRole: only our log group.
    logGroup.grantWrite(role);
    return role;
  }

  private handler(id: string, handler: string, role: iam.Role, logGroup: logs.LogGroup, timeout: Duration): lambda.Function {
    const fn = new lambda.Function(this, id, {
      description: `cdk-ami ${handler.split('.')[1]} handler`,
      runtime: HANDLER_RUNTIME,
      code: lambda.Code.fromAsset(ASSET_DIR),
      handler,
      role,
      timeout,
      memorySize: 256,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
    });
    suppressNag(fn, [{
      id: 'AwsSolutions-L1',
      reason: `The handlers run ${HANDLER_RUNTIME.name}, pinned by name in each cdk-ami release so that no aws-cdk-lib upgrade changes the `
        + 'template (and so snapshot tests); a new cdk-ami release, never aws-cdk-lib, moves it to a newer Node.js runtime of Lambda.',
    }]);
    return fn;
  }
}

/**
 * aws-cdk-lib's own Runtime where it has one. Otherwise a new one, taken back
 * out of `Runtime.ALL`: cdk-nag's L1 rule reads that list as the runtimes that
 * exist, and importing cdk-ami must not make it flag users' own functions.
 */
function pinnedNodeRuntime(name: string): lambda.Runtime {
  const known = lambda.Runtime.ALL.find((r) => r.name === name && !r.isVariable);
  if (known) return known;
  const runtime = new lambda.Runtime(name, lambda.RuntimeFamily.NODEJS, { supportsInlineCode: true });
  lambda.Runtime.ALL.splice(lambda.Runtime.ALL.indexOf(runtime), 1);
  return runtime;
}

/**
 * The IAM path of the provider roles that may assume a copy role in another
 * account: `/cdk-ami/<stack name>/`. Role names are generated, so the target
 * account's trust policy names this path (aws:PrincipalArn), which only the
 * provider roles of that stack carry.
 */
export function providerRolePath(stackName: string): string {
  return `${PROVIDER_ROLE_PATH_PREFIX}${stackName}/`;
}
export const PROVIDER_ROLE_PATH_PREFIX = '/cdk-ami/';

/** Images in any Region (copies live outside the stack's Region), or in one. */
export function imageArns(region = '*'): string {
  return `arn:${Aws.PARTITION}:ec2:${region}::image/*`;
}

export function snapshotArns(region = '*'): string {
  return `arn:${Aws.PARTITION}:ec2:${region}::snapshot/*`;
}

export function imageArn(region: string, imageId: string): string {
  return `arn:${Aws.PARTITION}:ec2:${region}::image/${imageId}`;
}

export function snapshotArn(region: string, snapshotId: string): string {
  return `arn:${Aws.PARTITION}:ec2:${region}::snapshot/${snapshotId}`;
}

/** What stage 1 of an import's waiter hands out: the image ID, and its snapshots' ARNs comma-joined. */
export interface ImportedResourceAttributes {
  readonly imageId: string;
  readonly snapshotArns: string;
}

/** The EC2 actions that create images, and the new resource types EC2 evaluates with aws:RequestTag for each. */
export type CreateAction = 'CreateImage' | 'CopyImage' | 'RegisterImage' | 'CreateRestoreImageTask';
const CREATED_RESOURCE_TYPES: Record<CreateAction, string[]> = {
  CreateImage: ['image', 'snapshot'],
  CopyImage: ['image', 'snapshot'],
  // The snapshots RegisterImage and CreateRestoreImageTask use are not created by the call
  // as EC2 authorizes it (the Service Authorization Reference lists no aws:RequestTag for them).
  RegisterImage: ['image'],
  CreateRestoreImageTask: ['image'],
};
/** What the handlers tag in the create call (TagSpecifications): RegisterImage's snapshots are the user's. */
const TAGGED_RESOURCE_TYPES: Record<CreateAction, string[]> = {
  CreateImage: ['image', 'snapshot'],
  CopyImage: ['image', 'snapshot'],
  RegisterImage: ['image'],
  CreateRestoreImageTask: ['image', 'snapshot'],
};

/**
 * Conditions for CreateTags/DeleteTags by the provider: never of the
 * cdk-ami:* keys. `Null aws:TagKeys false`: without a Tags parameter DeleteTags
 * removes every tag (ownership included), and ForAllValues passes on an absent key.
 */
export const USER_TAG_KEYS_ONLY = {
  'ForAllValues:StringNotLike': { 'aws:TagKeys': [`${TAG_PREFIX}*`] },
  'Null': { 'aws:TagKeys': 'false' },
};

/** Retagging of this stack's images and snapshots, with user tag keys only (USER_TAG_KEYS_ONLY). */
export function ownRetagStatement(sid: string): iam.PolicyStatementProps {
  return {
    sid,
    actions: ['ec2:CreateTags', 'ec2:DeleteTags'],
    resources: [imageArns(), snapshotArns()],
    conditions: {
      StringEquals: { [`aws:ResourceTag/${Tags.STACK}`]: Aws.STACK_ID },
      ...USER_TAG_KEYS_ONLY,
    },
  };
}

/** The customer managed key of an image of this app, if it was made with one. */
export function encryptionKeyOf(image: IImage): kms.IKey | undefined {
  return imageStateOf(image)?.encryptionKey;
}
