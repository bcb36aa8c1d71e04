import * as path from 'node:path';
import { Aws, CfnResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, IConstruct } from 'constructs';
import type { IImage } from '../image';
import { imageArn, imageArns, snapshotArns } from './arns';
import { Tags, Timing } from './contract';
import { suppressNag } from './nag';
import { CreateAction, StatementName, StatementRegistry, StatementShape } from './statement-registry';
import { ownRetagStatement } from './tag-conditions';

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
 * A resource a grant names, which may be a resource of this stack: then the
 * grant goes in a policy of `owner`'s own (see `addResourceToOperationStatement`).
 */
export interface GrantedResource {
  /** The resource's ID (an instance, a snapshot, a launch template): a token is a resource of this stack. */
  readonly id: string;
  /** The image construct the policy belongs to. */
  readonly owner: Construct;
  /** The first resource whose handler makes the call: it waits for the policy. */
  readonly firstUser: IConstruct;
}

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

  private readonly operationStatements: StatementRegistry;
  private readonly waiterStatements: StatementRegistry;
  /** The policies of images' own that hold grants on resources of this stack, by owner path and role. */
  private readonly ownPolicies = new Map<string, { readonly policy: iam.Policy; readonly statements: StatementRegistry }>();

  private constructor(scope: Stack, id: string) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.operationRole = this.lambdaRole('OperationRole', logGroup, 'cdk-ami onEvent: creates, updates and deletes images');
    this.waiterRole = this.lambdaRole('WaiterRole', logGroup, 'cdk-ami isComplete: polls images until they are available');
    this.operationStatements = new StatementRegistry((st) => this.operationRole.addToPrincipalPolicy(st), 'onEvent (operation)');
    this.waiterStatements = new StatementRegistry((st) => this.waiterRole.addToPrincipalPolicy(st), 'isComplete (waiter)');
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
        + 'ebs:CompleteSnapshot, which only write to snapshots that are still being started. These two cannot be bound by the cdk-ami:stack tag: '
        + 'EC2 makes the calls with the caller\'s credentials and documents only that CreateRestoreImageTask tags the snapshots "on restoration", '
        + 'not that they carry the tag while blocks are written, so a tag condition could fail every restore.',
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
   * The same name with another statement throws.
   */
  public grantOperation(name: StatementName, statement: iam.PolicyStatementProps): void {
    this.operationStatements.add(name, statement);
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
   * What EBS needs, on the caller's behalf, to use a customer managed key for
   * snapshots: only through EC2 (kms:ViaService) in `regions`, and grants only
   * for AWS resources. `write` (new snapshots) adds GenerateDataKeyWithoutPlaintext
   * and ReEncryptTo to what reading encrypted snapshots needs.
   */
  public grantEbsKey(key: kms.IKey, regions: string[], use: 'read' | 'write', role: 'operation' | 'waiter' = 'operation', services = ['ec2']): void {
    const viaService = services.flatMap((service) => regions.map((region) => `${service}.${region}.${Aws.URL_SUFFIX}`));
    const actions = ['kms:Decrypt', 'kms:DescribeKey', 'kms:ReEncryptFrom', ...(use === 'write' ? ['kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptTo'] : [])];
    const statements = role === 'operation' ? this.operationStatements : this.waiterStatements;
    const keyId = `${use}:${key.keyArn}:${viaService.join(',')}`;
    statements.add(`kms-use:${keyId}`, {
      actions,
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': viaService } },
    });
    statements.add(`kms-grant:${keyId}`, {
      actions: ['kms:CreateGrant'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': viaService }, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    });
  }

  /** Adds a statement to the isComplete role once. */
  public grantWaiter(name: StatementName, statement: iam.PolicyStatementProps): void {
    this.waiterStatements.add(name, statement);
  }

  /**
   * A statement shared by all images of a kind, growing one resource per image
   * (e.g. each source instance ARN), instead of one statement per image.
   *
   * A resource whose ID (`of.id`) is a token is a resource of this stack, which
   * may wait for an image of this stack (an instance or a builder launched from
   * it, a launch template naming it). Named in the role's default policy, it
   * would make the provider's functions wait for that resource, which waits for
   * the image, which waits for the provider: a cycle CloudFormation refuses.
   * Its statement goes in a policy of `of.owner`'s own instead, attached to the
   * same role, which `of.firstUser` waits for: the grant is in effect before the call.
   */
  public addResourceToOperationStatement(name: StatementName, shape: StatementShape, resource: string, of?: GrantedResource): void {
    this.statementsFor('operation', of).grow(name, shape, resource);
  }

  /** The same, on the isComplete role. */
  public addResourceToWaiterStatement(name: StatementName, shape: StatementShape, resource: string, of?: GrantedResource): void {
    this.statementsFor('waiter', of).grow(name, shape, resource);
  }

  /** The role's shared statements, or, for a resource of this stack, those of the owner's policy (made on first use). */
  private statementsFor(role: 'operation' | 'waiter', of: GrantedResource | undefined): StatementRegistry {
    if (!of || !Token.isUnresolved(of.id)) return role === 'operation' ? this.operationStatements : this.waiterStatements;
    const key = `${of.owner.node.path}:${role}`;
    let own = this.ownPolicies.get(key);
    if (!own) {
      const policy = new iam.Policy(of.owner, role === 'operation' ? 'ProviderOperationPolicy' : 'ProviderWaiterPolicy', {
        roles: [role === 'operation' ? this.operationRole : this.waiterRole],
      });
      own = { policy, statements: new StatementRegistry((st) => policy.addStatements(st), role === 'operation' ? 'onEvent (operation)' : 'isComplete (waiter)') };
      this.ownPolicies.set(key, own);
    }
    of.firstUser.node.addDependency(own.policy);
    return own.statements;
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

/** The new resource types EC2 evaluates with aws:RequestTag for each action that creates images. */
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
