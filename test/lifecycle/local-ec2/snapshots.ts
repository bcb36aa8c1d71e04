/**
 * EBS snapshots (EC2): DescribeSnapshots, DeleteSnapshot (refused while an image uses the snapshot),
 * ModifySnapshotAttribute / DescribeSnapshotAttribute (createVolumePermission), and snapshots a test adds.
 */
import { ActionHandler, Ec2Area } from './ec2-area';
import { ApiError, invalidValue, missingParameter, snapshotNotFound } from './errors';
import { FilterFields, filterPredicate } from './filters';
import { assertWellFormedId, newId, newTags, ownersInclude, unique } from './helpers';
import { applyPermissionChanges, PermissionKind, readPermissionChanges } from './permissions';
import { itemSet, leaf, QueryParams, renderTags } from './protocol';
import { AddSnapshotOptions, CreateVolumePermission, LocalSnapshot } from './types';
import { RegionState } from './world';

const SNAPSHOT_ATTRIBUTES = new Set(['productCodes', 'createVolumePermission']);

function renderSnapshot(snapshot: LocalSnapshot): string {
  return [
    leaf('snapshotId', snapshot.snapshotId),
    leaf('volumeId', snapshot.volumeId),
    leaf('status', snapshot.state),
    leaf('statusMessage', snapshot.statusMessage),
    leaf('startTime', snapshot.startTime),
    leaf('progress', `${snapshot.progress}%`),
    leaf('ownerId', snapshot.ownerId),
    leaf('volumeSize', snapshot.volumeSizeGiB),
    leaf('description', snapshot.description),
    leaf('encrypted', snapshot.encrypted),
    leaf('kmsKeyId', snapshot.kmsKeyId),
    leaf('storageTier', 'standard'),
    renderTags(snapshot.tags),
  ].join('');
}

function renderCreateVolumePermission(permission: CreateVolumePermission): string {
  return leaf('group', permission.group) + leaf('userId', permission.userId);
}

const CREATE_VOLUME_PERMISSION: PermissionKind<CreateVolumePermission> = {
  name: 'CreateVolumePermission',
  fields: [
    { key: 'userId', member: 'UserId', list: 'UserId' },
    { key: 'group', member: 'Group', list: 'UserGroup' },
  ],
};

function assertCreateVolumePermission(permission: CreateVolumePermission): void {
  if (permission.userId !== undefined && !/^\d{12}$/.test(permission.userId)) {
    throw new ApiError('InvalidUserID.Malformed', `Invalid user id: "${permission.userId}"`);
  }
  if (permission.group !== undefined && permission.group !== 'all') {
    throw invalidValue(`Value (${permission.group}) for parameter group is invalid. Only 'all' is supported.`);
  }
  if (permission.userId === undefined && permission.group === undefined) throw missingParameter('CreateVolumePermission');
}

const SNAPSHOT_FILTERS: FilterFields<LocalSnapshot> = {
  'status': (snapshot) => [snapshot.state],
  'snapshot-id': (snapshot) => [snapshot.snapshotId],
  'volume-id': (snapshot) => [snapshot.volumeId],
  'volume-size': (snapshot) => [String(snapshot.volumeSizeGiB)],
  'description': (snapshot) => [snapshot.description],
  'owner-id': (snapshot) => [snapshot.ownerId],
  'encrypted': (snapshot) => [String(snapshot.encrypted)],
  'progress': (snapshot) => [`${snapshot.progress}%`],
};


export class SnapshotActions extends Ec2Area {
  readonly handlers: Readonly<Record<string, ActionHandler>> = {
    DescribeSnapshots: (region, params) => this.describeSnapshots(region, params),
    DeleteSnapshot: (region, params) => this.deleteSnapshot(region, params),
    ModifySnapshotAttribute: (region, params) => this.modifySnapshotAttribute(region, params),
    DescribeSnapshotAttribute: (region, params) => this.describeSnapshotAttribute(region, params),
  };

  private describeSnapshots(region: RegionState, params: QueryParams): string {
    const ids = unique(params.list('SnapshotId'));
    ids.forEach((id) => assertWellFormedId(id, 'snap', 'InvalidSnapshotID.Malformed'));
    const missing = ids.filter((id) => !region.snapshots.has(id));
    if (missing.length > 0) throw snapshotNotFound(missing);
    const candidates = ids.length > 0 ? ids.map((id) => region.snapshots.get(id) as LocalSnapshot) : [...region.snapshots.values()];
    const owned = ownersInclude(params.list('Owner'), region.account);
    const matches = filterPredicate(params, SNAPSHOT_FILTERS);
    return itemSet('snapshotSet', candidates.filter((snapshot) => owned && matches(snapshot)).map(renderSnapshot));
  }

  private modifySnapshotAttribute(region: RegionState, params: QueryParams): string {
    const snapshot = this.snapshotById(region, params.required('SnapshotId'));
    const attribute = params.get('Attribute');
    if (attribute !== undefined && attribute !== 'createVolumePermission') {
      throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Only createVolumePermission can be modified.`);
    }
    const { add, remove } = readPermissionChanges(params, CREATE_VOLUME_PERMISSION);
    if (add.length + remove.length === 0) throw missingParameter('CreateVolumePermission');
    for (const permission of [...add, ...remove]) assertCreateVolumePermission(permission);

    snapshot.createVolumePermissions = applyPermissionChanges(snapshot.createVolumePermissions, { add, remove }, CREATE_VOLUME_PERMISSION);
    return leaf('return', true);
  }

  private describeSnapshotAttribute(region: RegionState, params: QueryParams): string {
    const snapshot = this.snapshotById(region, params.required('SnapshotId'));
    const attribute = params.required('Attribute');
    if (!SNAPSHOT_ATTRIBUTES.has(attribute)) throw invalidValue(`Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
    const value = attribute === 'createVolumePermission'
      ? itemSet('createVolumePermission', snapshot.createVolumePermissions.map(renderCreateVolumePermission))
      : itemSet('productCodes', []);
    return leaf('snapshotId', snapshot.snapshotId) + value;
  }

  private deleteSnapshot(region: RegionState, params: QueryParams): string {
    const snapshotId = params.required('SnapshotId');
    assertWellFormedId(snapshotId, 'snap', 'InvalidSnapshotID.Malformed');
    if (!region.snapshots.has(snapshotId)) throw snapshotNotFound([snapshotId]);
    const user = region.imageUsing(snapshotId);
    if (user) throw new ApiError('InvalidSnapshot.InUse', `The snapshot ${snapshotId} is currently in use by ${user.imageId}`);
    region.snapshots.delete(snapshotId);
    return leaf('return', true);
  }

  /** The test's own snapshot, as if a volume had been snapshotted long ago (default: completed, 8 GiB). */
  addScriptedSnapshot(options: AddSnapshotOptions): LocalSnapshot {
    const encrypted = options.encrypted ?? false;
    return this.addSnapshot(this.world.region(options.region), {
      volumeId: newId('vol'),
      volumeSizeGiB: options.sizeGiB ?? 8,
      description: options.description ?? '',
      encrypted,
      kmsKeyId: encrypted ? options.kmsKeyId ?? 'alias/aws/ebs' : undefined,
      tags: newTags(Object.entries(options.tags ?? {})),
      state: options.state ?? 'completed',
    });
  }
}
