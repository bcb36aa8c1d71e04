/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * SSM Parameter Store (ssm.ts).
 */
import { DeleteParameterCommand, GetParameterCommand, ListTagsForResourceCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { fastRetryStrategy } from '.';
import { createImage, CREDENTIALS, ec2, failure, MARKUP, pollUntilSettled, server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('SSM parameters (awsJson1_1)', () => {
  function ssm(region: string): SSMClient {
    return new SSMClient({ region, endpoint: server.url, credentials: CREDENTIALS, retryStrategy: fastRetryStrategy(3) });
  }
  let images = 0;
  async function availableImage(region: string): Promise<string> {
    const client = ec2(region);
    const imageId = await createImage(client, region, `for-a-parameter-${++images}`);
    await pollUntilSettled(client, imageId);
    return imageId;
  }
  const put = (Name: string, Value: string, extra = {}) => new PutParameterCommand({ Name, Value, Type: 'String', DataType: 'aws:ec2:image', ...extra });

  test('an aws:ec2:image parameter holds an available image of its Region; GetParameter, tags and DeleteParameter', async () => {
    const imageId = await availableImage('eu-west-1');
    const client = ssm('eu-west-1');
    expect(await client.send(put('/images/golden', imageId, { Tags: [{ Key: 'team', Value: MARKUP }] }))).toMatchObject({ Version: 1, Tier: 'Standard' });
    const { Parameter } = await client.send(new GetParameterCommand({ Name: '/images/golden' }));
    expect(Parameter).toMatchObject({ Name: '/images/golden', Value: imageId, Version: 1, DataType: 'aws:ec2:image', ARN: 'arn:aws:ssm:eu-west-1:123456789012:parameter/images/golden' });
    expect(Parameter!.LastModifiedDate).toBeInstanceOf(Date);
    expect((await client.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/images/golden' }))).TagList).toEqual([{ Key: 'team', Value: MARKUP }]);
    // Parameters are regional.
    expect((await failure(ssm('us-east-1').send(new GetParameterCommand({ Name: '/images/golden' })))).name).toBe('ParameterNotFound');
    await client.send(new DeleteParameterCommand({ Name: '/images/golden' }));
    expect((await failure(client.send(new DeleteParameterCommand({ Name: '/images/golden' })))).name).toBe('ParameterNotFound');
    expect((await failure(client.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/images/golden' })))).name).toBe('InvalidResourceId');
  });

  test('PutParameter without Overwrite refuses an existing name; Overwrite raises the version and keeps the tags; never both with Tags', async () => {
    const first = await availableImage('eu-west-1');
    const second = await availableImage('eu-west-1');
    const client = ssm('eu-west-1');
    await client.send(put('golden', first, { Tags: [{ Key: 'owner', Value: 'me' }] }));
    const exists = await failure(client.send(put('golden', second)));
    expect([exists.name, exists.$metadata.httpStatusCode]).toEqual(['ParameterAlreadyExists', 400]);
    expect((await failure(client.send(put('golden', second, { Overwrite: true, Tags: [{ Key: 'owner', Value: 'you' }] })))).name).toBe('ValidationException');
    expect(await client.send(put('golden', second, { Overwrite: true }))).toMatchObject({ Version: 2 });
    expect(server.parameters('eu-west-1')).toEqual([expect.objectContaining({ name: 'golden', value: second, version: 2, tags: { owner: 'me' } })]);
  });

  test('an aws:ec2:image value is validated after PutParameter answers: a missing image (or one of another Region) is dropped', async () => {
    const elsewhere = await availableImage('us-east-1');
    const client = ssm('eu-west-1');
    expect(await client.send(put('golden', elsewhere))).toMatchObject({ Version: 1 });
    expect((await failure(client.send(new GetParameterCommand({ Name: 'golden' })))).name).toBe('ParameterNotFound');
    expect(server.parameters('eu-west-1')).toEqual([]);
  });

  test('parameterValidationReads: reads see the old state until validation ends', async () => {
    const imageId = await availableImage('eu-west-1');
    server.parameterValidationReads = 1;
    const client = ssm('eu-west-1');
    await client.send(put('golden', imageId));
    expect((await failure(client.send(new GetParameterCommand({ Name: 'golden' })))).name).toBe('ParameterNotFound');
    expect((await client.send(new GetParameterCommand({ Name: 'golden' }))).Parameter!.Value).toBe(imageId);
  });

  test.each([
    ['/aws/golden', /can't be prefixed with "aws" or "ssm"/],
    ['with space', /can't contain characters other than/],
  ])('the name %s is refused with ValidationException', async (name, message) => {
    const err = await failure(ssm('eu-west-1').send(put(name, 'ami-0123456789abcdef0')));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toMatch(message);
  });
});
