/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * the client-side helpers (client.ts).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { withEndpointEnv } from '.';
import { server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('withEndpointEnv', () => {
  test('clients built without endpoint options reach the local endpoint', async () => {
    const restore = withEndpointEnv(server.url);
    try {
      server.setStackStatus('env-stack', 'UPDATE_COMPLETE');
      const instanceId = server.addInstance({ region: 'us-east-1' });

      const { Reservations } = await new EC2Client({}).send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      expect(Reservations![0].Instances![0].InstanceId).toBe(instanceId);
      const { Stacks } = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: 'env-stack' }));
      expect(Stacks![0].StackStatus).toBe('UPDATE_COMPLETE');
    } finally {
      restore();
    }
  });
});
