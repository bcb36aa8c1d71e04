/**
 * EC2 instances, as far as making images from them needs: DescribeInstances, GetConsoleOutput,
 * StopInstances and TerminateInstances, and instances a test adds and scripts (tagging themselves,
 * writing to the console, shutting down after some polls).
 */
import { ActionHandler, Ec2Area } from './ec2-area';
import { ApiError } from './errors';
import { FilterFields, filterPredicate } from './filters';
import { newId, newTags, now, unique } from './helpers';
import { itemSet, leaf, node, QueryParams, renderTags } from './protocol';
import { AddInstanceOptions, InstanceScript, InstanceStateName, LocalInstance } from './types';
import { RegionState } from './world';

/** The numeric codes EC2 reports next to each instance state name. */
const INSTANCE_STATE_CODES: Readonly<Record<InstanceStateName, number>> = {
  'pending': 0,
  'running': 16,
  'shutting-down': 32,
  'terminated': 48,
  'stopping': 64,
  'stopped': 80,
};

function renderInstanceState(state: InstanceStateName): string {
  return leaf('code', INSTANCE_STATE_CODES[state]) + leaf('name', state);
}

function renderInstance(instance: LocalInstance): string {
  // A terminated instance's volumes are gone (deleteOnTermination), so EC2 lists no mappings.
  const volumes = instance.state === 'terminated' ? [] : instance.volumes;
  const mappings = volumes.map((volume) => leaf('deviceName', volume.deviceName) + node('ebs',
    leaf('volumeId', volume.volumeId),
    leaf('status', 'attached'),
    leaf('attachTime', instance.launchTime),
    leaf('deleteOnTermination', true),
  ));
  return [
    leaf('instanceId', instance.instanceId),
    leaf('imageId', instance.imageId),
    node('instanceState', renderInstanceState(instance.state)),
    leaf('instanceType', instance.launch.instanceType ?? 't3.micro'),
    leaf('launchTime', instance.launchTime),
    leaf('architecture', 'x86_64'),
    leaf('rootDeviceType', 'ebs'),
    leaf('rootDeviceName', instance.rootDeviceName),
    itemSet('blockDeviceMapping', mappings),
    leaf('virtualizationType', 'hvm'),
    leaf('hypervisor', 'xen'),
    instance.launch.subnetId ? leaf('subnetId', instance.launch.subnetId) : '',
    itemSet('groupSet', (instance.launch.securityGroupIds ?? []).map((id) => leaf('groupId', id))),
    node('metadataOptions', leaf('httpTokens', instance.launch.httpTokens ?? 'optional')),
    renderTags(instance.tags),
  ].join('');
}

/** Counts one DescribeInstances poll of the instance, and runs its script when it is due. */
function runInstanceScript(instance: LocalInstance): void {
  const script = instance.script;
  if (!script) return;
  if (script.remaining > 0) {
    script.remaining--;
    return;
  }
  instance.script = undefined;
  for (const [key, value] of Object.entries(script.tags ?? {})) instance.tags[key] = value;
  if (script.consoleOutput) instance.consoleOutput += script.consoleOutput;
  if (script.state && instance.state !== 'terminated') instance.state = script.state;
}

function renderStateChange(instanceId: string, previous: InstanceStateName, current: InstanceStateName): string {
  return leaf('instanceId', instanceId)
    + node('currentState', renderInstanceState(current))
    + node('previousState', renderInstanceState(previous));
}

const INSTANCE_FILTERS: FilterFields<LocalInstance> = {
  'instance-id': (instance) => [instance.instanceId],
  'instance-state-name': (instance) => [instance.state],
  'instance-state-code': (instance) => [String(INSTANCE_STATE_CODES[instance.state])],
};


export class InstanceActions extends Ec2Area {
  readonly handlers: Readonly<Record<string, ActionHandler>> = {
    DescribeInstances: (region, params) => this.describeInstances(region, params),
    GetConsoleOutput: (region, params) => this.getConsoleOutput(region, params),
    StopInstances: (region, params) => this.stopInstances(region, params),
    TerminateInstances: (region, params) => this.terminateInstances(region, params),
  };

  addInstance(options: AddInstanceOptions): LocalInstance {
    const rootDeviceName = options.rootDeviceName ?? '/dev/xvda';
    const volumes = options.volumes ?? [{ deviceName: rootDeviceName, sizeGiB: 8 }];
    const instance: LocalInstance = {
      instanceId: newId('i'),
      region: options.region,
      reservationId: newId('r'),
      launchTime: now(),
      rootDeviceName,
      volumes: volumes.map((volume) => ({ deviceName: volume.deviceName, volumeId: newId('vol'), sizeGiB: volume.sizeGiB })),
      state: options.state ?? 'running',
      platform: options.platform,
      tags: newTags(Object.entries(options.tags ?? {})),
      consoleOutput: '',
      imageId: options.imageId,
      launch: { ...options.launch },
    };
    this.world.region(options.region).instances.set(instance.instanceId, instance);
    return instance;
  }

  private describeInstances(region: RegionState, params: QueryParams): string {
    const ids = unique(params.list('InstanceId'));
    const selected = ids.length > 0 ? this.instancesById(region, ids) : [...region.instances.values()];
    const matches = filterPredicate(params, INSTANCE_FILTERS);
    for (const instance of selected) runInstanceScript(instance);
    // One reservation per instance: we never launch several instances together.
    const reservations = selected.filter(matches).map((instance) => leaf('reservationId', instance.reservationId)
      + leaf('ownerId', region.account)
      + itemSet('groupSet', [])
      + itemSet('instancesSet', [renderInstance(instance)]));
    return itemSet('reservationSet', reservations);
  }

  /**
   * The console output, base64-encoded as EC2 returns it, with the time it was captured; an
   * instance that has written nothing has no `output` element. `Latest` is accepted (this endpoint
   * always has the latest output).
   */
  private getConsoleOutput(region: RegionState, params: QueryParams): string {
    const [instance] = this.instancesById(region, [params.required('InstanceId')]);
    return leaf('instanceId', instance.instanceId)
      + leaf('timestamp', now())
      + (instance.consoleOutput ? leaf('output', Buffer.from(instance.consoleOutput, 'utf8').toString('base64')) : '');
  }

  scriptInstance(region: string, instanceId: string, script: InstanceScript): void {
    const [instance] = this.instancesById(this.world.region(region), [instanceId]);
    instance.script = { ...script, remaining: script.afterDescribes ?? 0 };
  }

  instanceIn(region: string, instanceId: string): LocalInstance {
    return this.instancesById(this.world.region(region), [instanceId])[0];
  }

  private stopInstances(region: RegionState, params: QueryParams): string {
    const instances = this.instancesById(region, this.requiredList(params, 'InstanceId'));
    const blocked = instances.find((instance) => instance.state === 'shutting-down' || instance.state === 'terminated');
    if (blocked) {
      throw new ApiError('IncorrectInstanceState', `This instance '${blocked.instanceId}' is not in a state from which it can be stopped.`);
    }
    // The response shows the transition (`stopping`); the instance settles at once so later calls see `stopped`.
    const changes = instances.map((instance) => {
      const previous = instance.state;
      instance.state = 'stopped';
      return renderStateChange(instance.instanceId, previous, previous === 'stopped' ? 'stopped' : 'stopping');
    });
    return itemSet('instancesSet', changes);
  }

  private terminateInstances(region: RegionState, params: QueryParams): string {
    const instances = this.instancesById(region, this.requiredList(params, 'InstanceId'));
    const changes = instances.map((instance) => {
      const previous = instance.state;
      instance.state = 'terminated';
      return renderStateChange(instance.instanceId, previous, previous === 'terminated' ? 'terminated' : 'shutting-down');
    });
    return itemSet('instancesSet', changes);
  }
}
