import * as path from 'node:path';
import { Arn, ArnFormat, Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, IConstruct, Node } from 'constructs';
import { suppressNag } from './nag';

/** The tag every image and snapshot gets; the IAM conditions below test it. */
export const STACK_TAG = 'cdk-ami:stack';

/** The Lambda runtime is pinned: "latest" would churn users' snapshots. */
export const HANDLER_RUNTIME = lambda.Runtime.NODEJS_22_X;

/** Poll interval of the waiters; also the worst-case lag after "available". */
export const POLL_INTERVAL = Duration.seconds(15);
/** Longest wait of one waiter link: below CloudFormation's 1-hour limit. */
export const LINK_BUDGET = Duration.minutes(50);

const PROVIDER_ID = 'CdkAmiProvider';
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

    const onEvent = this.handler('OnEvent', 'index.onEvent', this.operationRole, logGroup, Duration.minutes(5));
    const isComplete = this.handler('IsComplete', 'index.isComplete', this.waiterRole, logGroup, Duration.minutes(2));

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
      actions: ['ec2:DescribeImages', 'ec2:DescribeSnapshots', 'ec2:DescribeInstances'],
      resources: ['*'],
    });
    // Before a DESTROY deregisters an image, the log names the instances and launch
    // templates that still use it; EC2 reads those with the caller's permissions.
    this.grantOperation('image-references', {
      sid: 'FindImageReferences',
      actions: ['ec2:DescribeImageReferences', 'ec2:DescribeLaunchTemplates', 'ec2:DescribeLaunchTemplateVersions'],
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
      conditions: { StringEquals: { [`aws:ResourceTag/${STACK_TAG}`]: Aws.STACK_ID } },
    });
    this.grantOperation('retag-own', {
      sid: 'RetagOwnImages',
      actions: ['ec2:CreateTags', 'ec2:DeleteTags'],
      resources: [imageArns(), snapshotArns()],
      conditions: {
        'StringEquals': { [`aws:ResourceTag/${STACK_TAG}`]: Aws.STACK_ID },
        // The ownership tags themselves are only ever written at creation.
        'ForAllValues:StringNotLike': { 'aws:TagKeys': ['cdk-ami:*'] },
      },
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
      conditions: { StringEquals: { [`aws:ResourceTag/${STACK_TAG}`]: Aws.STACK_ID } },
    });
    this.grantWaiter('describe', {
      sid: 'DescribeImages',
      actions: ['ec2:DescribeImages', 'ec2:DescribeSnapshots', 'ec2:GetImageBlockPublicAccessState'],
      resources: ['*'],
    });

    const describeOnly = {
      id: 'AwsSolutions-IAM5',
      reason: 'EC2 Describe* actions and GetImageBlockPublicAccessState support no resource-level permissions; ImportImage and '
        + 'CancelImportTask name no resource before the call, and are limited by the cdk-ami:stack request or resource tag.',
      appliesTo: ['Resource::*'],
    };
    const ownImagesOnly = {
      id: 'AwsSolutions-IAM5',
      reason: 'Image and snapshot IDs only exist at deploy time. Every statement on them is limited by the cdk-ami:stack tag '
        + '(aws:ResourceTag on existing ones; aws:RequestTag or ec2:CreateAction at creation) to the images this stack made, '
        + 'in any Region because copies live outside the stack\'s Region.',
      appliesTo: ['Resource::arn:<AWS::Partition>:ec2:*::image/*', 'Resource::arn:<AWS::Partition>:ec2:*::snapshot/*'],
    };
    suppressNag(this.waiterRole, [describeOnly, ownImagesOnly]);
    suppressNag(this.operationRole, [describeOnly, ownImagesOnly, {
      id: 'AwsSolutions-IAM5',
      reason: 'CreateStoreImageTask writes, and CreateRestoreImageTask reads, one object named <ami-id>.bin per image; the image ID is only '
        + 'known at deploy time, so these statements name the bucket and the ami-*.bin pattern, nothing broader.',
      appliesTo: [{ regex: '/^Resource::.*:s3:::.*\\/ami-\\*\\.bin$/' }],
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
   * Lets the onEvent role call an EC2 action that creates images and
   * snapshots (CreateImage, CopyImage, ...) only with this stack's
   * cdk-ami:stack tag on them, and tag them in that same call.
   */
  public grantCreateTagged(ec2Action: string, role: 'operation' | 'waiter' = 'operation'): void {
    const grant = role === 'operation' ? this.grantOperation.bind(this) : this.grantWaiter.bind(this);
    grant(`${ec2Action}-tagged`, {
      sid: `${ec2Action}TaggedAsOwn`,
      actions: [`ec2:${ec2Action}`],
      resources: [imageArns(), snapshotArns()],
      conditions: { StringEquals: { [`aws:RequestTag/${STACK_TAG}`]: Aws.STACK_ID } },
    });
    grant(`${ec2Action}-tag-on-create`, {
      sid: `TagOn${ec2Action}`,
      actions: ['ec2:CreateTags'],
      resources: [imageArns(), snapshotArns()],
      conditions: { StringEquals: { 'ec2:CreateAction': ec2Action } },
    });
  }

  /**
   * Lets the onEvent role run `ec2Action` (CopyImage, CreateStoreImageTask) on
   * a source image: by ARN for an existing image; by the cdk-ami:stack tag for
   * an image this stack makes (naming its ID would make the provider's policy
   * wait for the image, which waits for the provider: a cycle).
   */
  public grantOnSourceImage(
    ec2Action: string, source: { readonly imageId: string; readonly region: string; readonly node: Node }, managedHere: boolean,
  ): void {
    const stack = Stack.of(this);
    if (managedHere && Stack.of(source as unknown as IConstruct) === stack) {
      this.grantOperation(`${ec2Action}-own-sources`, {
        sid: `${ec2Action}OfOwnImages`,
        actions: [`ec2:${ec2Action}`],
        resources: [imageArns()],
        conditions: { StringEquals: { [`aws:ResourceTag/${STACK_TAG}`]: Aws.STACK_ID } },
      });
      return;
    }
    const sourceArn = Arn.format({
      service: 'ec2', region: source.region, account: '', resource: 'image', resourceName: source.imageId, arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    }, stack);
    this.addResourceToOperationStatement(`${ec2Action}-sources`, () => new iam.PolicyStatement({
      sid: `${ec2Action}OfSources`,
      actions: [`ec2:${ec2Action}`],
    }), sourceArn);
  }

  /** What EBS needs, as the onEvent role, to write encrypted snapshots with a customer managed key. */
  public grantEbsKey(key: kms.IKey): void {
    key.grant(this.operationRole,
      'kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo');
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
      existing.addResources(resource);
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
    return new lambda.Function(this, id, {
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
  }
}

/** Images and snapshots in any Region: copies live outside the stack's Region. */
export function imageArns(): string {
  return `arn:${Aws.PARTITION}:ec2:*::image/*`;
}

export function snapshotArns(): string {
  return `arn:${Aws.PARTITION}:ec2:*::snapshot/*`;
}
