/**
 * Shared fixtures for the handler tests: CloudFormation events as the Provider
 * framework forwards them (scalars as strings), the ownership tags a resource's
 * images carry, SDK-shaped service errors and a log capture.
 */
import { createHash } from 'node:crypto';
import { CloudFormationClient, DescribeStacksCommand, StackStatus } from '@aws-sdk/client-cloudformation';
import { DescribeImagesCommand, EC2Client, EC2ServiceException, Image, Instance } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { actionOf, ALL_DECLARED_CALLS } from './declared-calls';
import { setSleep } from '../../lambda/shared/backoff';
import { resetClients } from '../../lambda/shared/clients';
import { LogSink, setLogSink } from '../../lambda/shared/log';
import { CustomResourceEvent } from '../../lambda/shared/types';

export const REGION = 'us-east-1';
export const STACK_ID = 'arn:aws:cloudformation:us-east-1:123456789012:stack/S/uuid';
export const LOGICAL_ID = 'GoldenResource';
export const INSTANCE_ID = 'i-0abc1234567890def';
export const SERVICE_TOKEN = 'arn:aws:lambda:us-east-1:123456789012:function:provider';
export const FROM_INSTANCE = 'Custom::AmiFromInstance';
export const WAITER = 'Custom::AmiWaiter';
/** The image most tests act on: ownedImage's ID, and waiterProps'. */
export const IMAGE_ID = 'ami-0123456789abcdef0';
/** The last link of a two-link waiter chain: the one that applies the image's settings. */
export const LAST_LINK = { Link: '2', Links: '2' };
/** The user's tags in fromInstanceProps and the other kinds' properties. */
export const TEAM_TAGS = [{ Key: 'team', Value: 'infra' }];

export const CREATE_REQUEST = 'create-request-0001';
export const UPDATE_REQUEST = 'update-request-0002';
export const DELETE_REQUEST = 'delete-request-0003';

type Props = Record<string, unknown>;

/** sha256 hex, first 32 characters: what the handler tags images with. */
export function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** The three tags every image and snapshot of LOGICAL_ID made by `requestId` carries. */
export function ownershipTagsFor(requestId: string, logicalId = LOGICAL_ID): { Key: string; Value: string }[] {
  return [
    { Key: 'cdk-ami:stack', Value: STACK_ID },
    { Key: 'cdk-ami:owner', Value: hash(`${STACK_ID}/${logicalId}`) },
    { Key: 'cdk-ami:request', Value: hash(requestId) },
  ];
}

/** The user's tags and the ownership tags: what an image (and its snapshots) made by CREATE_REQUEST carries. */
export function ownTags(): { Key: string; Value: string }[] {
  return [...TEAM_TAGS, ...ownershipTagsFor(CREATE_REQUEST)];
}

/**
 * What the properties of every kind that makes an image share (Region, name
 * prefix, the user's tags), with the kind's own `props` and a test's `extra`
 * over them.
 */
export function imageProps(namePrefix: string, props: Props, extra: Props = {}): Props {
  return { Region: REGION, NamePrefix: namePrefix, Tags: TEAM_TAGS, ...props, ...extra };
}

/** AmiFromInstance properties as CloudFormation sends them. */
export function fromInstanceProps(overrides: Props = {}): Props {
  return {
    ServiceToken: SERVICE_TOKEN,
    Region: REGION,
    NamePrefix: 'Stack/Golden',
    InstanceId: INSTANCE_ID,
    NoReboot: 'false',
    IncludeDataVolumes: 'true',
    RemovalPolicy: 'retain',
    Tags: TEAM_TAGS,
    ...overrides,
  };
}

/** Waiter link properties as CloudFormation sends them: link 1 of 2, 50 minutes each. */
export function waiterProps(overrides: Props = {}): Props {
  return {
    ServiceToken: SERVICE_TOKEN,
    Region: REGION,
    ImageId: IMAGE_ID,
    Link: '1',
    Links: '2',
    BudgetSeconds: '3000',
    TimeoutSeconds: '6000',
    ...overrides,
  };
}

function base(resourceType: string, requestId: string) {
  return {
    ServiceToken: SERVICE_TOKEN,
    ResponseURL: 'https://cloudformation-custom-resource-response.example/response',
    StackId: STACK_ID,
    RequestId: requestId,
    LogicalResourceId: LOGICAL_ID,
    ResourceType: resourceType,
  };
}

export function createEvent(resourceType: string, props: Props, extra: Partial<CustomResourceEvent> = {}): CustomResourceEvent {
  return {
    ...base(resourceType, CREATE_REQUEST),
    RequestType: 'Create',
    ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props },
    ...extra,
  } as CustomResourceEvent;
}

export function updateEvent(
  resourceType: string,
  physicalId: string,
  props: Props,
  oldProps: Props,
  extra: Partial<CustomResourceEvent> = {},
): CustomResourceEvent {
  return {
    ...base(resourceType, UPDATE_REQUEST),
    RequestType: 'Update',
    PhysicalResourceId: physicalId,
    ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props },
    OldResourceProperties: oldProps,
    ...extra,
  } as CustomResourceEvent;
}

export function deleteEvent(resourceType: string, physicalId: string, props: Props, extra: Partial<CustomResourceEvent> = {}): CustomResourceEvent {
  return {
    ...base(resourceType, DELETE_REQUEST),
    RequestType: 'Delete',
    PhysicalResourceId: physicalId,
    ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...props },
    ...extra,
  } as CustomResourceEvent;
}

/** The Update of the last waiter link of IMAGE_ID from `old` to `props` (waiter properties). */
export function lastLinkUpdate(props: Props, old: Props): CustomResourceEvent {
  return updateEvent(WAITER, `${IMAGE_ID}/wait-2`, waiterProps({ ...LAST_LINK, ...props }), waiterProps({ ...LAST_LINK, ...old }));
}

/** An image of this resource (created by CREATE_REQUEST unless told otherwise). */
export function ownedImage(overrides: Partial<Image> = {}, requestId = CREATE_REQUEST): Image {
  return {
    ImageId: IMAGE_ID,
    Name: 'Stack/Golden-abc',
    State: 'available',
    BlockDeviceMappings: [
      { DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-root' } },
      { DeviceName: '/dev/sdb', Ebs: { SnapshotId: 'snap-data' } },
      { DeviceName: '/dev/sdc', VirtualName: 'ephemeral0' },
    ],
    Tags: [...TEAM_TAGS, ...ownershipTagsFor(requestId)],
    ...overrides,
  };
}

/** An image some other resource (or a person) made. */
export function foreignImage(overrides: Partial<Image> = {}): Image {
  return {
    ImageId: 'ami-0fffffffffffffff0',
    Name: 'someone-elses',
    State: 'available',
    Tags: [...TEAM_TAGS, ...ownershipTagsFor(CREATE_REQUEST, 'OtherResource')],
    ...overrides,
  };
}

/** An error shaped as the AWS SDK v3 throws it for an EC2 error code. */
export function awsError(code: string, message = `${code} message`): EC2ServiceException {
  return new EC2ServiceException({ name: code, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });
}

/** EC2's answer when it failed on its side (a 5xx), which does not say whether the call took effect. */
export function awsServerError(code = 'Unavailable', status = 503, message = 'The service is unavailable.'): EC2ServiceException {
  return new EC2ServiceException({ name: code, $fault: 'server', $metadata: { httpStatusCode: status }, message });
}

/**
 * The handlers' waits, for the current test file: none really sleeps, each is
 * recorded (in ms) and the list starts empty for each test.
 */
export function recordSleeps(): number[] {
  const slept: number[] = [];
  let previous: Parameters<typeof setSleep>[0] | undefined;
  beforeEach(() => {
    slept.length = 0;
    previous = setSleep(async (ms) => { slept.push(ms); });
  });
  afterEach(() => { if (previous) setSleep(previous); });
  return slept;
}

export type LogLine = { level: string; message: string; [field: string]: unknown };

/**
 * Captures the handler's JSON log lines for the current test file and resets
 * the cached SDK clients between tests.
 */
export function captureLogs(): { lines: () => LogLine[]; find: (message: string) => LogLine[]; originalSink: () => LogSink } {
  let captured: string[] = [];
  let previous: LogSink | undefined;
  beforeEach(() => {
    captured = [];
    previous = setLogSink((line) => captured.push(line));
    resetClients();
  });
  afterEach(() => {
    if (previous) setLogSink(previous);
    jest.restoreAllMocks();
  });
  expectOnlyDeclaredCalls();
  const lines = () => captured.map((line) => JSON.parse(line) as LogLine);
  return {
    lines,
    find: (message) => lines().filter((l) => l.message === message),
    originalSink: () => previous!,
  };
}

/** Runs `fn`, expects it to reject, and returns the error for further checks. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

/** The error reached CloudFormation as one sentence: message and stack are one line. */
export function expectOneLine(err: Error): void {
  expect(err.name).toBe('AmiError');
  expect(err.message).not.toContain('\n');
  expect(err.stack).toBe(`AmiError: ${err.message}`);
}

/** The SDK clients the handlers use, by the IAM service prefix of their actions. */
const CLIENTS: [string, { prototype: { send: unknown } }][] = [['ec2', EC2Client], ['s3', S3Client], ['ssm', SSMClient], ['cloudformation', CloudFormationClient]];

/**
 * After each test, every command a handler sent through a client that
 * aws-sdk-client-mock stubs (`mockClient(EC2Client)` replaces its
 * prototype's send with a sinon stub that records each command) must be
 * declared in some handler module's CALLS: the list the IAM simulation
 * suite proves the provider's roles allow.
 */
export function expectOnlyDeclaredCalls(): void {
  afterEach(() => {
    const undeclared = undeclaredCallsSent();
    if (undeclared.length > 0) {
      throw new Error(`The handler sent ${undeclared.join(', ')}, which no handler module declares in its CALLS (lambda/**/*.ts); declare it, and the IAM simulation suite (test/iam) will check the provider may make it.`);
    }
  });
}

/** The actions of the commands sent through stubbed clients since their last reset that no module declares. */
export function undeclaredCallsSent(): string[] {
  const undeclared = new Set<string>();
  for (const [service, client] of CLIENTS) {
    const stub = client.prototype.send as { getCalls?: () => { args: unknown[] }[] };
    for (const call of stub.getCalls?.() ?? []) {
      const action = actionOf(service, call.args[0] as object);
      if (!ALL_DECLARED_CALLS.has(action)) undeclared.add(action);
    }
  }
  return [...undeclared].sort();
}

/**
 * EC2 and CloudFormation clients mocked for one test file, reset before each
 * test, with DescribeImages finding `images` when given (`[]` is what a create
 * sees first). `stackIs` has DescribeStacks report the stack's status, which a
 * Delete or an Update reads to spot a rollback.
 */
export function mockedClients({ images }: { images?: Image[] } = {}) {
  const ec2Mock = mockClient(EC2Client);
  const cfnMock = mockClient(CloudFormationClient);
  beforeEach(() => {
    ec2Mock.reset();
    cfnMock.reset();
    // A copy per test, as if each test built its own: a handler cannot leak a change into the next test.
    if (images) ec2Mock.on(DescribeImagesCommand).resolves({ Images: structuredClone(images) });
  });
  const stackIs = (status: StackStatus) => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'S', StackStatus: status, CreationTime: new Date() }] });
  };
  /** The EC2 commands sent, by name, in order (Describe* left out): what changed something. */
  const mutatingCalls = () => ec2Mock.calls().map((c) => (c.args[0] as object).constructor.name).filter((n) => !n.startsWith('Describe'));
  return { ec2Mock, cfnMock, stackIs, mutatingCalls };
}

/** DescribeInstances' answer when it finds `instances`. */
export function reservationOf(...instances: Instance[]) {
  return { Reservations: [{ Instances: instances }] };
}

/** The error a promise rejects with, checked to be one line (what the stack event shows). */
export async function oneLineFailure(promise: Promise<unknown>): Promise<Error> {
  const err = await rejectionOf(promise);
  expectOneLine(err);
  return err;
}
