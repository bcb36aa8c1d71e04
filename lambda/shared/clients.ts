import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';

/**
 * Adaptive retry rate-limits the client itself when EC2 throttles, so a burst
 * of images polled at once slows down instead of failing the deployment.
 */
const RETRY = { retryMode: 'adaptive', maxAttempts: 10 } as const;

const ec2Clients = new Map<string, EC2Client>();
let cfnClient: CloudFormationClient | undefined;
let overrides: Record<string, unknown> = {};

/** EC2 is always called in the image's own Region, not the function's. */
export function ec2(region: string): EC2Client {
  let client = ec2Clients.get(region);
  if (!client) {
    client = new EC2Client({ region, ...RETRY, ...overrides });
    ec2Clients.set(region, client);
  }
  return client;
}

/**
 * The configuration every client of the provider gets, for a client that is
 * made elsewhere (the lazily loaded SSM bundle): the Region, the retry
 * settings and what tests override.
 */
export function clientConfig(region: string): Record<string, unknown> & { region: string } {
  return { region, ...RETRY, ...overrides };
}

export function cloudFormation(): CloudFormationClient {
  cfnClient ??= new CloudFormationClient({ ...RETRY, ...overrides });
  return cfnClient;
}

/**
 * Forget cached clients; tests point them at a new endpoint, and may swap the
 * retry strategy for one that does not sleep between attempts.
 */
export function resetClients(clientOverrides: Record<string, unknown> = {}): void {
  ec2Clients.clear();
  cfnClient = undefined;
  overrides = clientOverrides;
}
