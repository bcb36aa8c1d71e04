/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * EC2 instances (instances.ts).
 */
import { DescribeInstancesCommand, StopInstancesCommand, GetConsoleOutputCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { ec2, failure, server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('instances', () => {
  test('DescribeInstances returns state, root device, volumes and tags; regions are separate', async () => {
    const instanceId = server.addInstance({
      region: 'us-east-1',
      volumes: [{ deviceName: '/dev/xvda', sizeGiB: 8 }, { deviceName: '/dev/sdb', sizeGiB: 20 }],
      tags: { Name: 'builder' },
    });

    const { Reservations } = await ec2().send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = Reservations![0].Instances![0];
    expect(instance).toMatchObject({
      InstanceId: instanceId,
      State: { Code: 16, Name: 'running' },
      RootDeviceName: '/dev/xvda',
      Tags: [{ Key: 'Name', Value: 'builder' }],
    });
    expect(instance.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs?.Status, m.Ebs?.DeleteOnTermination])).toEqual([
      ['/dev/xvda', 'attached', true],
      ['/dev/sdb', 'attached', true],
    ]);
    expect(instance.BlockDeviceMappings![0].Ebs!.VolumeId).toMatch(/^vol-[0-9a-f]{17}$/);

    const elsewhere = await failure(ec2('us-west-2').send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })));
    expect(elsewhere.name).toBe('InvalidInstanceID.NotFound');
    expect(elsewhere.message).toBe(`The instance ID '${instanceId}' does not exist`);
    const malformed = await failure(ec2().send(new DescribeInstancesCommand({ InstanceIds: ['i-123'] })));
    expect(malformed.name).toBe('InvalidInstanceID.Malformed');
  });

  test('StopInstances and TerminateInstances report the transition and settle', async () => {
    const client = ec2();
    const instanceId = server.addInstance({ region: 'us-east-1' });

    const stopped = await client.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    expect(stopped.StoppingInstances).toEqual([{
      InstanceId: instanceId,
      CurrentState: { Code: 64, Name: 'stopping' },
      PreviousState: { Code: 16, Name: 'running' },
    }]);
    expect(server.instances('us-east-1')[0].state).toBe('stopped');

    const terminated = await client.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    expect(terminated.TerminatingInstances![0]).toMatchObject({ CurrentState: { Name: 'shutting-down' }, PreviousState: { Name: 'stopped' } });
    const { Reservations } = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    expect(Reservations![0].Instances![0].State).toEqual({ Code: 48, Name: 'terminated' });
  });
});

describe('launch settings and launch templates', () => {
  test('DescribeInstances reports the type, subnet, groups and metadata options an instance was launched with', async () => {
    const instanceId = server.addInstance({
      region: 'us-east-1',
      launch: { instanceType: 'c7i.large', subnetId: 'subnet-0123456789abcdef0', securityGroupIds: ['sg-0123456789abcdef0'], httpTokens: 'required' },
    });
    const { Reservations } = await ec2().send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    expect(Reservations![0].Instances![0]).toMatchObject({
      InstanceType: 'c7i.large',
      SubnetId: 'subnet-0123456789abcdef0',
      SecurityGroups: [{ GroupId: 'sg-0123456789abcdef0' }],
      MetadataOptions: { HttpTokens: 'required' },
    });
    const plain = server.addInstance({ region: 'us-east-1' });
    const other = (await ec2().send(new DescribeInstancesCommand({ InstanceIds: [plain] }))).Reservations![0].Instances![0];
    expect(other).toMatchObject({ InstanceType: 't3.micro', MetadataOptions: { HttpTokens: 'optional' } });
    expect(other.SubnetId).toBeUndefined();
  });

  test('a launch template\'s versions are numbered from 1; an unknown template or version fails as RunInstances does', () => {
    const templateId = server.addLaunchTemplate({ region: 'us-east-1', data: { instanceType: 'c7i.large', httpTokens: 'required' } });
    expect(server.addLaunchTemplateVersion('us-east-1', templateId, { instanceType: 'm7i.large' })).toBe('2');
    expect(server.launchTemplateVersion('us-east-1', templateId, '1')).toEqual({ imageId: undefined, instanceType: 'c7i.large', httpTokens: 'required' });
    expect(server.launchTemplateVersion('us-east-1', templateId, '2')).toEqual({ instanceType: 'm7i.large' });
    expect(() => server.launchTemplateVersion('us-east-1', templateId, '3')).toThrow(expect.objectContaining({ code: 'InvalidLaunchTemplateId.VersionNotFound' }));
    expect(() => server.launchTemplateVersion('us-west-2', templateId, '1')).toThrow(expect.objectContaining({ code: 'InvalidLaunchTemplateId.NotFound' }));
  });
});

describe('GetConsoleOutput and scripted instances', () => {
  test('returns the console base64-encoded, and nothing before the instance wrote any', async () => {
    const client = ec2();
    const instanceId = server.addInstance({ region: 'us-east-1' });
    const empty = await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
    expect(empty.InstanceId).toBe(instanceId);
    expect(empty.Output).toBeUndefined();
    expect(empty.Timestamp).toBeInstanceOf(Date);

    server.writeConsole('us-east-1', instanceId, 'Cloud-init v. 22.2.2 running\nerror: ünïcode line\n');
    const out = await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
    expect(Buffer.from(out.Output!, 'base64').toString('utf8')).toBe('Cloud-init v. 22.2.2 running\nerror: ünïcode line\n');

    const missing = await failure(client.send(new GetConsoleOutputCommand({ InstanceId: 'i-0123456789abcdef0' })));
    expect(missing.name).toBe('InvalidInstanceID.NotFound');
  });

  test('a scripted instance tags itself, writes its console and stops after the given polls', async () => {
    const client = ec2();
    const instanceId = server.addInstance({ region: 'us-east-1' });
    server.scriptInstance('us-east-1', instanceId, { afterDescribes: 2, tags: { 'cdk-ami:setup': 'succeeded' }, consoleOutput: 'done\n', state: 'stopped' });
    const describe = async () => (await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0].Instances![0];
    expect((await describe()).Tags ?? []).toEqual([]);
    expect((await describe()).State!.Name).toBe('running');
    const third = await describe();
    expect(third.Tags).toEqual([{ Key: 'cdk-ami:setup', Value: 'succeeded' }]);
    expect(third.State).toEqual({ Code: 80, Name: 'stopped' });
    const out = await client.send(new GetConsoleOutputCommand({ InstanceId: instanceId }));
    expect(Buffer.from(out.Output!, 'base64').toString('utf8')).toBe('done\n');
  });
});
