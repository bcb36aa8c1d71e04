/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * injected faults, as the SDK classifies and retries them (faults.ts, endpoint.ts).
 */
import { CopyImageCommand, CreateImageCommand, CreateTagsCommand, DescribeImagesCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { fastRetryStrategy, FaultKind } from '.';
import { CREDENTIALS, createImage, ec2, failure, pollUntilSettled, server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('faults and retries', () => {
  test('throttling is answered like EC2 (503 RequestLimitExceeded), classified as THROTTLING and retried', async () => {
    const retry = fastRetryStrategy(3);
    const client = ec2('us-east-1', retry);
    server.injectFault({ action: 'DescribeImages', times: 2, kind: 'throttle' });

    const { Images } = await client.send(new DescribeImagesCommand({ Owners: ['self'] }));
    expect(Images).toEqual([]);
    expect(retry.errorTypes).toEqual(['THROTTLING', 'THROTTLING']);
    expect(server.calls.map((c) => [c.action, c.status, c.code, c.attempt])).toEqual([
      ['DescribeImages', 503, 'RequestLimitExceeded', 1],
      ['DescribeImages', 503, 'RequestLimitExceeded', 2],
      ['DescribeImages', 200, undefined, 3],
    ]);
  });

  test('a fault lasting beyond the retry budget surfaces as the service error', async () => {
    const client = ec2('us-east-1', fastRetryStrategy(3));
    server.injectFault({ times: 5, kind: 'throttle' });

    const error = await failure(client.send(new DescribeImagesCommand({})));
    expect(error.name).toBe('RequestLimitExceeded');
    expect(error.$metadata.httpStatusCode).toBe(503);
    expect(error.$metadata.attempts).toBe(3);
    expect(server.callCount('DescribeImages')).toBe(3);
  });

  test("the SDK's own standard retry strategy retries 5xx faults", async () => {
    const client = new EC2Client({ region: 'us-east-1', endpoint: server.url, credentials: CREDENTIALS, maxAttempts: 3 });
    server.injectFault({ action: 'DescribeImages', times: 1, kind: 'http500' });
    server.injectFault({ action: 'DescribeImages', times: 1, kind: 'http503' });

    const output = await client.send(new DescribeImagesCommand({}));
    expect(output.$metadata.attempts).toBe(3);
    expect(server.calls.map((c) => c.code)).toEqual(['InternalError', 'Unavailable', undefined]);
  });

  test('throttleRate throttles the same calls for the same seed', async () => {
    const throttledCalls = async (seed: number): Promise<boolean[]> => {
      server.reset();
      server.throttleRate(0.3, seed);
      const client = ec2('us-east-1', fastRetryStrategy(10));
      for (let i = 0; i < 10; i++) await client.send(new DescribeImagesCommand({}));
      return server.calls.map((c) => c.status === 503);
    };

    const first = await throttledCalls(42);
    expect(await throttledCalls(42)).toEqual(first);
    expect(first.filter(Boolean).length).toBeGreaterThan(0);
    expect(first.filter((throttled) => !throttled)).toHaveLength(10);
  });

  /** One `kind` fault on `action`: the call fails with `code` and `status`, a client error the SDK does not retry. */
  async function expectClientError(
    action: string, kind: FaultKind, call: (client: EC2Client) => Promise<unknown>, code: string, status: number,
  ): Promise<void> {
    const retry = fastRetryStrategy(3);
    server.injectFault({ action, times: 1, kind });
    const error = await failure(call(ec2('us-east-1', retry)));
    expect(error.name).toBe(code);
    expect(error.$metadata.httpStatusCode).toBe(status);
    expect(retry.errorTypes).toEqual(['CLIENT_ERROR']);
    expect(server.callCount(action)).toBe(1);
  }

  test('capacity is answered like EC2 (400 ResourceLimitExceeded), a client error the SDK does not retry', async () => {
    await expectClientError('CreateImage', 'capacity',
      (client) => client.send(new CreateImageCommand({ InstanceId: server.addInstance({ region: 'us-east-1' }), Name: 'n' })),
      'ResourceLimitExceeded', 400);
  });

  test('unauthorized is answered like EC2 when IAM denies a call (403 UnauthorizedOperation), a client error the SDK does not retry', async () => {
    await expectClientError('CreateTags', 'unauthorized',
      (client) => client.send(new CreateTagsCommand({ Resources: [server.addSnapshot({ region: 'us-east-1' })], Tags: [{ Key: 'k', Value: 'v' }] })),
      'UnauthorizedOperation', 403);
  });

  test('a proxy502 is an HTML page with status 502, which the SDK retries and then cannot parse', async () => {
    const retry = fastRetryStrategy(2);
    // One for the raw request below, two for the SDK's attempts.
    server.injectFault({ action: 'DescribeImages', times: 3, kind: 'proxy502' });
    const response = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'Authorization': 'AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/ec2/aws4_request', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeImages&Version=2016-11-15',
    });
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toBe('text/html');
    expect(response.headers.get('x-amzn-requestid')).toBeNull();
    expect(await response.text()).toMatch(/<title>502 Bad Gateway<\/title>/);

    const error = await failure(ec2('us-east-1', retry).send(new DescribeImagesCommand({})));
    // Both attempts are classified TRANSIENT (5xx); the second exhausts the budget.
    expect(retry.errorTypes).toEqual(['TRANSIENT', 'TRANSIENT']);
    expect(error.$metadata.httpStatusCode).toBe(502);
    expect(error.name).not.toMatch(/\./);
  });

  describe('a call that takes effect and then answers 5xx (tookEffect500, tookEffect503)', () => {
    test('CreateImage makes its image, then every attempt answers 503; the retries are refused as EC2 refuses them (the name is taken)', async () => {
      const retry = fastRetryStrategy(3);
      const instanceId = server.addInstance({ region: 'us-east-1' });
      server.injectFault({ action: 'CreateImage', times: 3, kind: 'tookEffect503' });

      const error = await failure(ec2('us-east-1', retry).send(new CreateImageCommand({ InstanceId: instanceId, Name: 'golden' })));
      expect(error.name).toBe('Unavailable');
      expect(error.$metadata.httpStatusCode).toBe(503);
      expect(retry.errorTypes).toEqual(['TRANSIENT', 'TRANSIENT', 'TRANSIENT']);
      expect(server.calls.map((c) => [c.action, c.status, c.code])).toEqual([
        ['CreateImage', 503, 'Unavailable'], ['CreateImage', 503, 'Unavailable'], ['CreateImage', 503, 'Unavailable'],
      ]);
      // The first attempt took effect; the others met the name it took.
      expect(server.liveImages('us-east-1').map((i) => i.name)).toEqual(['golden']);
    });

    test('CopyImage with a ClientToken makes one copy however often it is retried, and a later call with the token returns it', async () => {
      const client = ec2('us-east-1', fastRetryStrategy(3));
      const source = await createImage(client, 'us-east-1', 'source');
      await pollUntilSettled(client, source);
      const west = ec2('eu-west-1', fastRetryStrategy(3));
      const copy = new CopyImageCommand({ SourceImageId: source, SourceRegion: 'us-east-1', Name: 'copy', ClientToken: 'token-1' });
      server.injectFault({ action: 'CopyImage', times: 3, kind: 'tookEffect500' });

      const error = await failure(west.send(copy));
      expect(error.name).toBe('InternalError');
      expect(error.$metadata.httpStatusCode).toBe(500);
      const [made] = server.liveImages('eu-west-1');
      expect(server.liveImages('eu-west-1')).toHaveLength(1);
      expect((await west.send(copy)).ImageId).toBe(made.imageId);
    });

    test('PutParameter writes the parameter, then answers 500', async () => {
      const client = ec2('us-east-1', fastRetryStrategy(3));
      const imageId = await createImage(client, 'us-east-1', 'golden');
      await pollUntilSettled(client, imageId);
      server.injectFault({ action: 'PutParameter', times: 1, kind: 'tookEffect500' });
      const ssm = new SSMClient({ region: 'us-east-1', endpoint: server.url, credentials: CREDENTIALS, retryStrategy: fastRetryStrategy(1) });

      const error = await failure(ssm.send(new PutParameterCommand({ Name: 'golden', Value: imageId, Type: 'String', DataType: 'aws:ec2:image' })));
      expect(error.name).toBe('InternalServerError');
      expect(server.parameters('us-east-1')).toEqual([expect.objectContaining({ name: 'golden', value: imageId })]);
    });
  });

  test('an action the endpoint does not implement is InvalidAction', async () => {
    const error = await failure(ec2().send(new DescribeVolumesCommand({})));
    expect(error.name).toBe('InvalidAction');
    expect(error.$metadata.httpStatusCode).toBe(400);
  });
});
