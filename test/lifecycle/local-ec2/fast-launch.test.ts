/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * EC2 Fast Launch (fast-launch.ts).
 */
import { CreateImageCommand, DescribeFastLaunchImagesCommand, DisableFastLaunchCommand, EC2Client, EnableFastLaunchCommand } from '@aws-sdk/client-ec2';
import { createImage, ec2, failure, pollUntilSettled, server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('EC2 Fast Launch', () => {
  async function windowsImage(client: EC2Client): Promise<string> {
    const instanceId = server.addInstance({ region: 'us-east-1', platform: 'windows' });
    const { ImageId } = await client.send(new CreateImageCommand({ InstanceId: instanceId, Name: 'windows' }));
    await pollUntilSettled(client, ImageId!);
    return ImageId!;
  }
  const describeFastLaunch = async (client: EC2Client, imageId: string) =>
    (await client.send(new DescribeFastLaunchImagesCommand({ ImageIds: [imageId] }))).FastLaunchImages ?? [];

  test('EnableFastLaunch starts enabling; DescribeFastLaunchImages advances it to enabled; the settings can change; DisableFastLaunch removes it after disabling', async () => {
    const client = ec2();
    const imageId = await windowsImage(client);
    const templateId = server.addLaunchTemplate({ region: 'us-east-1', imageId: 'ami-0123456789abcdef0' });
    expect(await describeFastLaunch(client, imageId)).toEqual([]);

    const enabled = await client.send(new EnableFastLaunchCommand({
      ImageId: imageId,
      ResourceType: 'snapshot',
      SnapshotConfiguration: { TargetResourceCount: 10 },
      MaxParallelLaunches: 8,
      LaunchTemplate: { LaunchTemplateId: templateId, Version: '3' },
    }));
    expect(enabled).toMatchObject({
      ImageId: imageId,
      ResourceType: 'snapshot',
      SnapshotConfiguration: { TargetResourceCount: 10 },
      MaxParallelLaunches: 8,
      LaunchTemplate: { LaunchTemplateId: templateId, Version: '3' },
      OwnerId: '123456789012',
      State: 'enabling',
    });
    expect((await describeFastLaunch(client, imageId)).map((i) => i.State)).toEqual(['enabling']);
    expect((await describeFastLaunch(client, imageId))[0]).toMatchObject({ State: 'enabled', StateTransitionTime: expect.any(Date) });

    await client.send(new EnableFastLaunchCommand({ ImageId: imageId, MaxParallelLaunches: 12 }));
    expect((await describeFastLaunch(client, imageId))[0]).toMatchObject({ State: 'enabling', MaxParallelLaunches: 12, SnapshotConfiguration: { TargetResourceCount: 5 } });
    expect((await describeFastLaunch(client, imageId))[0].LaunchTemplate).toBeUndefined();

    const disabled = await client.send(new DisableFastLaunchCommand({ ImageId: imageId }));
    expect(disabled.State).toBe('disabling');
    const again = await failure(client.send(new EnableFastLaunchCommand({ ImageId: imageId })));
    expect(again.name).toBe('IncorrectState');
    expect((await describeFastLaunch(client, imageId)).map((i) => i.State)).toEqual(['disabling']);
    expect(await describeFastLaunch(client, imageId)).toEqual([]);
    const notEnabled = await failure(client.send(new DisableFastLaunchCommand({ ImageId: imageId })));
    expect(notEnabled.name).toBe('InvalidParameter');
  });

  test('EnableFastLaunch refuses what the API reference rules out: Linux images, fewer than 6 parallel launches, a template by ID and name or without version', async () => {
    const client = ec2();
    const linux = await createImage(client, 'us-east-1', 'linux');
    await pollUntilSettled(client, linux);
    expect((await failure(client.send(new EnableFastLaunchCommand({ ImageId: linux })))).name).toBe('InvalidParameter');
    const windows = await windowsImage(client);
    expect((await failure(client.send(new EnableFastLaunchCommand({ ImageId: windows, MaxParallelLaunches: 5 })))).name).toBe('InvalidParameterValue');
    expect((await failure(client.send(new EnableFastLaunchCommand({ ImageId: windows, ResourceType: 'instance' })))).name).toBe('InvalidParameterValue');
    expect((await failure(client.send(new EnableFastLaunchCommand({
      ImageId: windows, LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', LaunchTemplateName: 'x', Version: '1' },
    })))).name).toBe('InvalidParameterCombination');
    expect((await failure(client.send(new EnableFastLaunchCommand({
      ImageId: windows, LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '1' },
    })))).name).toBe('InvalidLaunchTemplateId.NotFound');
    expect((await failure(client.send(new EnableFastLaunchCommand({ ImageId: 'ami-0123456789abcdef0' })))).name).toBe('InvalidAMIID.NotFound');
    expect(await describeFastLaunch(client, windows)).toEqual([]);
  });

  test('a scripted failure ends enabling in enabling-failed with its reason', async () => {
    const client = ec2();
    const imageId = await windowsImage(client);
    server.fastLaunchBehaviour({ transitionPolls: 0, failReason: 'Client.InvalidVpc - no default VPC' });
    await client.send(new EnableFastLaunchCommand({ ImageId: imageId }));
    expect((await describeFastLaunch(client, imageId))[0]).toMatchObject({ State: 'enabling-failed', StateTransitionReason: 'Client.InvalidVpc - no default VPC' });
  });
});
