/**
 * The local endpoint against the REAL AWS SDK v3 clients (see conformance.ts):
 * snapshot sharing (snapshots.ts).
 */
import {
  CreateVolumePermissionModifications,
  DescribeSnapshotAttributeCommand,
  ModifySnapshotAttributeCommand,
  PermissionGroup,
  SnapshotAttributeName,
} from '@aws-sdk/client-ec2';
import { createImage, ec2, failure, server, useLocalEc2 } from './conformance';

useLocalEc2();

describe('snapshot sharing', () => {
  test('ModifySnapshotAttribute takes both request forms; DescribeSnapshotAttribute and snapshots() report the permissions', async () => {
    const client = ec2();
    await createImage(client, 'us-east-1', 'snapshot-source');
    const [{ snapshotId }] = server.snapshots('us-east-1');
    const describe = (Attribute: SnapshotAttributeName) => client.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute }));

    const initial = await describe('createVolumePermission');
    expect(initial.SnapshotId).toBe(snapshotId);
    expect(initial.CreateVolumePermissions).toEqual([]);

    // What the SDK sends: Attribute=createVolumePermission&OperationType=add&UserId.1=…&UserId.2=…
    await client.send(new ModifySnapshotAttributeCommand({
      SnapshotId: snapshotId, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: ['111111111111', '222222222222'],
    }));
    // What the SDK sends: CreateVolumePermission.Add.1.Group=all&CreateVolumePermission.Remove.1.UserId=…
    await client.send(new ModifySnapshotAttributeCommand({
      SnapshotId: snapshotId, CreateVolumePermission: { Add: [{ Group: 'all' }], Remove: [{ UserId: '111111111111' }] },
    }));
    expect((await describe('createVolumePermission')).CreateVolumePermissions).toEqual([{ UserId: '222222222222' }, { Group: 'all' }]);
    expect(server.snapshots('us-east-1')[0].createVolumePermissions).toEqual([{ userId: '222222222222' }, { group: 'all' }]);

    // Adding a permission twice keeps one entry; UserGroup.N removes the group.
    await client.send(new ModifySnapshotAttributeCommand({ SnapshotId: snapshotId, CreateVolumePermission: { Add: [{ UserId: '222222222222' }] } }));
    await client.send(new ModifySnapshotAttributeCommand({
      SnapshotId: snapshotId, Attribute: 'createVolumePermission', OperationType: 'remove', GroupNames: ['all'],
    }));
    expect((await describe('createVolumePermission')).CreateVolumePermissions).toEqual([{ UserId: '222222222222' }]);
    expect((await describe('productCodes')).ProductCodes).toEqual([]);
  });

  test('unknown snapshots are NotFound; bad accounts, groups and attributes are rejected without changing anything', async () => {
    const client = ec2();
    await createImage(client, 'us-east-1', 'snapshot-source');
    const [{ snapshotId }] = server.snapshots('us-east-1');
    const missingId = 'snap-0123456789abcdef0';

    const modifyMissing = await failure(client.send(new ModifySnapshotAttributeCommand({
      SnapshotId: missingId, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: ['111111111111'],
    })));
    expect(modifyMissing.name).toBe('InvalidSnapshot.NotFound');
    expect(modifyMissing.message).toBe(`The snapshot '${missingId}' does not exist.`);
    const describeMissing = await failure(client.send(new DescribeSnapshotAttributeCommand({ SnapshotId: missingId, Attribute: 'createVolumePermission' })));
    expect(describeMissing.name).toBe('InvalidSnapshot.NotFound');
    const malformed = await failure(client.send(new DescribeSnapshotAttributeCommand({ SnapshotId: 'snap-1', Attribute: 'createVolumePermission' })));
    expect(malformed.name).toBe('InvalidSnapshotID.Malformed');

    const modify = (CreateVolumePermission: CreateVolumePermissionModifications) =>
      failure(client.send(new ModifySnapshotAttributeCommand({ SnapshotId: snapshotId, CreateVolumePermission })));
    expect((await modify({ Add: [{ UserId: '111111111111' }, { UserId: 'not-an-account' }] })).name).toBe('InvalidUserID.Malformed');
    expect((await modify({ Add: [{ Group: 'everyone' as PermissionGroup }] })).name).toBe('InvalidParameterValue');
    expect((await modify({})).name).toBe('MissingParameter');
    const productCodes = await failure(client.send(new ModifySnapshotAttributeCommand({
      SnapshotId: snapshotId, Attribute: 'productCodes', OperationType: 'add', UserIds: ['111111111111'],
    })));
    expect(productCodes.name).toBe('InvalidParameterValue');
    const unknownAttribute = await failure(client.send(new DescribeSnapshotAttributeCommand({
      SnapshotId: snapshotId, Attribute: 'colour' as SnapshotAttributeName,
    })));
    expect(unknownAttribute.name).toBe('InvalidParameterValue');
    expect(server.snapshots('us-east-1')[0].createVolumePermissions).toEqual([]);
  });
});
