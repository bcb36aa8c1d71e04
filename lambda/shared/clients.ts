import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { declareCalls } from './calls';
import { AmiError, errorMessage, sentence } from './errors';

/** Assuming the role of another account that owns a copy. */
export const CALLS = declareCalls(
  'sts:AssumeRole',
);

/**
 * Adaptive retry rate-limits the client itself when EC2 throttles, so a burst
 * of images polled at once slows down instead of failing the deployment.
 */
const RETRY = { retryMode: 'adaptive', maxAttempts: 10 } as const;

/** A role in another account that EC2 and SSM are called as (a copy owned by that account, and its parameter). */
export interface AssumedRole {
  readonly roleArn: string;
  /** Names the resource in the target account's CloudTrail. */
  readonly sessionName: string;
}

const ec2Clients = new Map<string, EC2Client>();
let cfnClient: CloudFormationClient | undefined;
let stsClient: STSClient | undefined;
let overrides: Record<string, unknown> = {};

/**
 * EC2 is always called in the image's own Region, not the function's; as the
 * function's role, or as `role` for an image owned by another account.
 */
export function ec2(region: string, role?: AssumedRole): EC2Client {
  const key = role ? `${region} ${role.roleArn} ${role.sessionName}` : region;
  let client = ec2Clients.get(key);
  if (!client) {
    client = new EC2Client(clientConfig(region, role));
    ec2Clients.set(key, client);
  }
  return client;
}

/**
 * The configuration every client of the provider gets, also for a client that
 * is made elsewhere (the lazily loaded SSM bundle): the Region, the retry
 * settings, what tests override, and `role`'s credentials when the call is
 * made in another account.
 */
export function clientConfig(region: string, role?: AssumedRole): Record<string, unknown> & { region: string } {
  return { region, ...RETRY, ...overrides, ...(role ? { credentials: assumedCredentials(role) } : {}) };
}

export function cloudFormation(): CloudFormationClient {
  cfnClient ??= new CloudFormationClient({ ...RETRY, ...overrides });
  return cfnClient;
}

/**
 * The role's temporary credentials. The SDK caches what this returns and asks
 * again shortly before it expires (after an hour, far beyond one invocation).
 */
function assumedCredentials(role: AssumedRole) {
  return async () => {
    // STS in the function's own Region (the SDK's default), which needs no opt-in.
    stsClient ??= new STSClient({ ...RETRY, ...overrides });
    try {
      const out = await stsClient.send(new AssumeRoleCommand({ RoleArn: role.roleArn, RoleSessionName: role.sessionName }));
      const c = out.Credentials!;
      return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken, expiration: c.Expiration };
    } catch (err) {
      throw new AmiError(
        `The provider could not assume role ${role.roleArn}: ${sentence(errorMessage(err))} The role must trust this stack's provider roles and allow sts:AssumeRole (deploy a CrossAccountCopyRole in its account).`,
      );
    }
  };
}

/**
 * Forget cached clients; tests point them at a new endpoint, and may swap the
 * retry strategy for one that does not sleep between attempts.
 */
export function resetClients(clientOverrides: Record<string, unknown> = {}): void {
  ec2Clients.clear();
  cfnClient = undefined;
  stsClient = undefined;
  overrides = clientOverrides;
}
