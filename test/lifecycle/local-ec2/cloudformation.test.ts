/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * CloudFormation DescribeStacks (cloudformation.ts).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CREDENTIALS, failure, server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('CloudFormation DescribeStacks', () => {
  test('reports the scripted status by name and by ID; unknown stacks are a ValidationError', async () => {
    const client = new CloudFormationClient({ region: 'eu-west-1', endpoint: server.url, credentials: CREDENTIALS });
    const stackId = server.setStackStatus('ami-pipeline', 'CREATE_IN_PROGRESS', 'eu-west-1');
    server.setStackStatus(stackId, 'CREATE_COMPLETE');

    const byName = await client.send(new DescribeStacksCommand({ StackName: 'ami-pipeline' }));
    expect(byName.Stacks).toHaveLength(1);
    expect(byName.Stacks![0]).toMatchObject({ StackId: stackId, StackName: 'ami-pipeline', StackStatus: 'CREATE_COMPLETE' });
    expect(byName.Stacks![0].CreationTime).toBeInstanceOf(Date);
    const byId = await client.send(new DescribeStacksCommand({ StackName: stackId }));
    expect(byId.Stacks![0].StackName).toBe('ami-pipeline');

    const missing = await failure(client.send(new DescribeStacksCommand({ StackName: 'nope' })));
    expect(missing.name).toBe('ValidationError');
    expect(missing.message).toBe('Stack with id nope does not exist');
    expect(server.calls.at(-1)).toMatchObject({ service: 'cloudformation', action: 'DescribeStacks', region: 'eu-west-1', status: 400 });
  });
});
