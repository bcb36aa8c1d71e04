/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * tags and the settings of existing AMIs (tags.ts, image-settings.ts).
 */
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DisableImageBlockPublicAccessCommand,
  DisableImageDeprecationCommand,
  DisableImageDeregistrationProtectionCommand,
  EnableImageBlockPublicAccessCommand,
  EnableImageDeprecationCommand,
  EnableImageDeregistrationProtectionCommand,
  GetImageBlockPublicAccessStateCommand,
  ModifyImageAttributeCommand,
} from '@aws-sdk/client-ec2';
import { createImage, describeImage, ec2, failure, server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('tags and attributes', () => {
  test('CreateTags and DeleteTags work on images, snapshots and instances', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'tagged');
    const [snapshot] = server.snapshots('us-east-1');
    const instanceId = server.instances('us-east-1')[0].instanceId;
    const resources = [imageId, snapshot.snapshotId, instanceId];

    await client.send(new CreateTagsCommand({ Resources: resources, Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }] }));
    await client.send(new DeleteTagsCommand({ Resources: resources, Tags: [{ Key: 'a' }, { Key: 'b', Value: 'not-2' }] }));
    expect(server.image(imageId)!.tags).toEqual({ b: '2' });
    expect(server.snapshots('us-east-1')[0].tags).toEqual({ b: '2' });
    expect(server.instances('us-east-1')[0].tags).toEqual({ b: '2' });

    const missing = await failure(client.send(new CreateTagsCommand({ Resources: ['snap-0123456789abcdef0'], Tags: [{ Key: 'a', Value: '1' }] })));
    expect(missing.name).toBe('InvalidSnapshot.NotFound');
  });

  test('ModifyImageAttribute stores description and launch permissions; DescribeImageAttribute returns them', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'shared');

    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId,
      Description: { Value: 'shared image' },
      LaunchPermission: {
        Add: [{ UserId: '111111111111' }, { OrganizationArn: 'arn:aws:organizations::123456789012:organization/o-abc' }],
      },
    }));
    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId,
      LaunchPermission: { Add: [{ UserId: '222222222222' }], Remove: [{ UserId: '111111111111' }] },
    }));

    const permissions = await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }));
    expect(permissions.ImageId).toBe(imageId);
    expect(permissions.LaunchPermissions).toEqual([
      { OrganizationArn: 'arn:aws:organizations::123456789012:organization/o-abc' },
      { UserId: '222222222222' },
    ]);
    const description = await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'description' }));
    expect(description.Description).toEqual({ Value: 'shared image' });
    expect((await describeImage(client, imageId)).Description).toBe('shared image');
  });
});

describe('launch permissions and deprecation', () => {
  const ORG = 'arn:aws:organizations::123456789012:organization/o-abc';
  const OU = 'arn:aws:organizations::123456789012:ou/o-abc/ou-ab12-cdef3456';

  test('LaunchPermission.Add/.Remove take accounts, the all group, organizations and OUs; isPublic follows the all group', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'shared-widely');
    const launchPermissions = async () =>
      (await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }))).LaunchPermissions;

    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId,
      LaunchPermission: { Add: [{ UserId: '111111111111' }, { Group: 'all' }, { OrganizationArn: ORG }, { OrganizationalUnitArn: OU }] },
    }));
    expect(await launchPermissions()).toEqual([
      { UserId: '111111111111' }, { Group: 'all' }, { OrganizationArn: ORG }, { OrganizationalUnitArn: OU },
    ]);
    expect((await describeImage(client, imageId)).Public).toBe(true);
    const publicImages = await client.send(new DescribeImagesCommand({ Filters: [{ Name: 'is-public', Values: ['true'] }] }));
    expect(publicImages.Images!.map((i) => i.ImageId)).toEqual([imageId]);

    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId,
      LaunchPermission: { Remove: [{ OrganizationArn: ORG }, { Group: 'all' }] },
    }));
    expect(await launchPermissions()).toEqual([{ UserId: '111111111111' }, { OrganizationalUnitArn: OU }]);
    expect((await describeImage(client, imageId)).Public).toBe(false);

    // The older form: Attribute + OperationType + UserId.N / UserGroup.N / OrganizationArn.N / OrganizationalUnitArn.N.
    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId, Attribute: 'launchPermission', OperationType: 'add', OrganizationArns: [ORG], UserIds: ['222222222222'],
    }));
    await client.send(new ModifyImageAttributeCommand({
      ImageId: imageId, Attribute: 'launchPermission', OperationType: 'remove', UserIds: ['111111111111'], OrganizationalUnitArns: [OU],
    }));
    expect(await launchPermissions()).toEqual([{ UserId: '222222222222' }, { OrganizationArn: ORG }]);
    expect(server.image(imageId)!.launchPermissions).toEqual([{ userId: '222222222222' }, { organizationArn: ORG }]);

    const badAccount = await failure(client.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: '12345' }] } })));
    expect(badAccount.name).toBe('InvalidAMIAttributeItemValue');
    const unknown = await failure(client.send(new ModifyImageAttributeCommand({
      ImageId: 'ami-0123456789abcdef0', LaunchPermission: { Add: [{ UserId: '111111111111' }] },
    })));
    expect(unknown.name).toBe('InvalidAMIID.NotFound');
  });

  test('DescribeImages reports deprecationTime after EnableImageDeprecation and drops it after DisableImageDeprecation', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'deprecating');
    expect((await describeImage(client, imageId)).DeprecationTime).toBeUndefined();

    await client.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date('2031-01-15T08:29:31Z') }));
    expect((await describeImage(client, imageId)).DeprecationTime).toBe('2031-01-15T08:30:00.000Z');
    expect(server.image(imageId)!.deprecationTime).toBe('2031-01-15T08:30:00.000Z');

    const disabled = await client.send(new DisableImageDeprecationCommand({ ImageId: imageId }));
    expect(disabled.Return).toBe(true);
    expect((await describeImage(client, imageId)).DeprecationTime).toBeUndefined();
    expect(server.image(imageId)!.deprecationTime).toBeUndefined();
  });

  test('EnableImageDeprecation refuses a time in the past (after rounding) and more than 10 years ahead, as EC2 documents', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'deprecating');
    const past = await failure(client.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date(Date.now() - 60_000) })));
    expect(past.name).toBe('InvalidParameterValue');
    expect(past.$metadata.httpStatusCode).toBe(400);
    const elevenYears = new Date(Date.now() + 11 * 365 * 24 * 3600_000);
    const tooLate = await failure(client.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: elevenYears })));
    expect(tooLate.name).toBe('InvalidParameterValue');
    expect(server.image(imageId)!.deprecationTime).toBeUndefined();
    await client.send(new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date(Date.now() + 2 * 60_000) }));
    expect(server.image(imageId)!.deprecationTime).toBeDefined();
  });
});

describe('block public access for AMIs', () => {
  test('GetImageBlockPublicAccessState is per region and unblocked by default; the script and the API change it', async () => {
    const east = ec2('us-east-1');
    const west = ec2('eu-west-1');
    expect(await east.send(new GetImageBlockPublicAccessStateCommand({}))).toMatchObject({ ImageBlockPublicAccessState: 'unblocked', ManagedBy: 'account' });

    server.setImageBlockPublicAccess('us-east-1', 'block-new-sharing');
    expect((await east.send(new GetImageBlockPublicAccessStateCommand({}))).ImageBlockPublicAccessState).toBe('block-new-sharing');
    expect((await west.send(new GetImageBlockPublicAccessStateCommand({}))).ImageBlockPublicAccessState).toBe('unblocked');

    expect((await east.send(new DisableImageBlockPublicAccessCommand({}))).ImageBlockPublicAccessState).toBe('unblocked');
    const enabled = await west.send(new EnableImageBlockPublicAccessCommand({ ImageBlockPublicAccessState: 'block-new-sharing' }));
    expect(enabled.ImageBlockPublicAccessState).toBe('block-new-sharing');
    expect([server.imageBlockPublicAccess('us-east-1'), server.imageBlockPublicAccess('eu-west-1')]).toEqual(['unblocked', 'block-new-sharing']);
  });

  test('while new sharing is blocked, adding the all group fails and changes nothing; accounts can be added, public images stay public', async () => {
    const client = ec2();
    const alreadyPublic = await createImage(client, 'us-east-1', 'already-public');
    await client.send(new ModifyImageAttributeCommand({ ImageId: alreadyPublic, LaunchPermission: { Add: [{ Group: 'all' }] } }));
    const imageId = await createImage(client, 'us-east-1', 'private');
    server.setImageBlockPublicAccess('us-east-1', 'block-new-sharing');

    const blocked = await failure(client.send(new ModifyImageAttributeCommand({
      ImageId: imageId,
      Description: { Value: 'should not stick' },
      LaunchPermission: { Add: [{ UserId: '111111111111' }, { Group: 'all' }] },
    })));
    expect(blocked.name).toBe('OperationNotPermitted');
    expect(blocked.$metadata.httpStatusCode).toBe(400);
    expect(blocked.message).toBe('You can’t publicly share this image because block public access for AMIs is enabled for this account. '
      + 'To publicly share the image, you must call the DisableImageBlockPublicAccess API.');
    const blockedOldForm = await failure(client.send(new ModifyImageAttributeCommand({
      ImageId: imageId, Attribute: 'launchPermission', OperationType: 'add', UserGroups: ['all'],
    })));
    expect(blockedOldForm.name).toBe('OperationNotPermitted');
    expect(server.image(imageId)).toMatchObject({ description: undefined, launchPermissions: [] });

    await client.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: '111111111111' }] } }));
    expect(server.image(imageId)!.launchPermissions).toEqual([{ userId: '111111111111' }]);
    expect((await describeImage(client, alreadyPublic)).Public).toBe(true);
    // Making an image private is always allowed.
    await client.send(new ModifyImageAttributeCommand({ ImageId: alreadyPublic, LaunchPermission: { Remove: [{ Group: 'all' }] } }));
    expect((await describeImage(client, alreadyPublic)).Public).toBe(false);

    // Another region is not blocked.
    const westClient = ec2('eu-west-1');
    const westImage = await createImage(westClient, 'eu-west-1', 'west-public');
    await westClient.send(new ModifyImageAttributeCommand({ ImageId: westImage, LaunchPermission: { Add: [{ Group: 'all' }] } }));
    expect((await describeImage(westClient, westImage)).Public).toBe(true);
  });
});

describe('deregistration protection cooldown', () => {
  test('protection enabled with cooldown stays in effect after Disable (disabled-until) until endCooldown', async () => {
    const client = ec2();
    const imageId = await createImage(client, 'us-east-1', 'cooldown');
    const protection = async () => (await describeImage(client, imageId)).DeregistrationProtection;

    await client.send(new EnableImageDeregistrationProtectionCommand({ ImageId: imageId, WithCooldown: true }));
    expect(await protection()).toBe('enabled-with-cooldown');
    const attribute = await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'deregistrationProtection' }));
    expect(attribute.DeregistrationProtection).toEqual({ Value: 'enabled-with-cooldown' });

    const before = Date.now();
    const disabled = await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: imageId }));
    expect(disabled.Return).toBe('true');
    const reported = await protection();
    const match = /^disabled-until (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)$/.exec(reported ?? '');
    expect(match).not.toBeNull();
    const cooldownEnds = Date.parse(match![1]);
    expect(cooldownEnds).toBeGreaterThanOrEqual(before + 24 * 3600_000);
    expect(cooldownEnds).toBeLessThanOrEqual(Date.now() + 24 * 3600_000);
    expect(server.image(imageId)).toMatchObject({ deregistrationProtection: 'disabled-until', protectionCooldownEnds: match![1] });
    const attributeDuringCooldown = await client.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'deregistrationProtection' }));
    expect(attributeDuringCooldown.DeregistrationProtection).toEqual({ Value: reported });

    const blocked = await failure(client.send(new DeregisterImageCommand({ ImageId: imageId })));
    expect(blocked.name).toBe('OperationNotPermitted');
    expect(blocked.message).toBe(`Deregistration protection for image ${imageId} stays in effect until its cooldown ends at ${match![1]}`);
    // Disabling again does not restart the cooldown.
    await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: imageId }));
    expect(await protection()).toBe(reported);

    server.endCooldown(imageId);
    expect(await protection()).toBe('disabled');
    expect(server.image(imageId)!.protectionCooldownEnds).toBeUndefined();
    expect(() => server.endCooldown(imageId)).toThrow(/not in a deregistration-protection cooldown/);
    expect(() => server.endCooldown('ami-0123456789abcdef0')).toThrow(/No image/);
    await client.send(new DeregisterImageCommand({ ImageId: imageId }));
    expect(server.image(imageId)!.state).toBe('deregistered');
  });

  test('protection without cooldown ends at once; enabling again during a cooldown cancels it', async () => {
    const client = ec2();
    const plain = await createImage(client, 'us-east-1', 'plain-protection');
    await client.send(new EnableImageDeregistrationProtectionCommand({ ImageId: plain }));
    expect((await describeImage(client, plain)).DeregistrationProtection).toBe('enabled');
    await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: plain }));
    expect((await describeImage(client, plain)).DeregistrationProtection).toBe('disabled');
    await client.send(new DeregisterImageCommand({ ImageId: plain }));

    const cooled = await createImage(client, 'us-east-1', 'cooled');
    await client.send(new EnableImageDeregistrationProtectionCommand({ ImageId: cooled, WithCooldown: true }));
    await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: cooled }));
    await client.send(new EnableImageDeregistrationProtectionCommand({ ImageId: cooled, WithCooldown: false }));
    expect((await describeImage(client, cooled)).DeregistrationProtection).toBe('enabled');
    expect(() => server.endCooldown(cooled)).toThrow();
    expect((await failure(client.send(new DeregisterImageCommand({ ImageId: cooled })))).message)
      .toBe(`Deregistration protection is enabled for image ${cooled}`);
    await client.send(new DisableImageDeregistrationProtectionCommand({ ImageId: cooled }));
    await client.send(new DeregisterImageCommand({ ImageId: cooled }));
    expect(server.liveImages('us-east-1')).toEqual([]);
  });
});
