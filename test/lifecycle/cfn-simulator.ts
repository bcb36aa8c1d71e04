/**
 * Drives the real cdk-ami handlers the way CloudFormation and the aws-cdk-lib
 * Provider framework do, from a real synthesized template: resources are
 * created in dependency order, `Ref`/`Fn::GetAtt` are resolved from what the
 * handlers returned, scalar properties arrive as strings, a waiter's
 * isComplete is called every poll interval until done or out of attempts,
 * failures roll the stack back (with the stack status the handlers can read
 * through DescribeStacks), replaced and dropped resources (or, in a rollback,
 * replacements and new resources) are deleted in the cleanup phase, together,
 * in reverse dependency order,
 * and a resource's DeletionPolicy / UpdateReplacePolicy decide, as
 * CloudFormation's do, whether its Delete is sent at all.
 *
 * Time is virtual: `Date.now()` returns the simulator's clock, which advances
 * by one poll interval between isComplete calls, so an hour-long wait runs in
 * milliseconds and the handlers' link budgets and timeouts behave as deployed.
 *
 * Order: CloudFormation creates and updates resources that do not depend on
 * each other in parallel, in no set order, and deletes in reverse dependency
 * order only. The simulator runs one resource at a time, so it must pick an
 * order for independent ones: by default the REVERSE of their template order
 * (the order a construct adds its resources in is the order its author had in
 * mind, so taking them backwards exposes a missing DependsOn that template
 * order would hide). `CFN_SIM_ORDER=template` in the environment runs every
 * suite in template order instead: the lifecycle suites pass in both orders,
 * so only Ref, Fn::GetAtt and DependsOn decide what happens first. A test that
 * proves an order-specific behaviour sets `independentOrder` on its simulator.
 * IAM is not run here: `lifecycleTemplate` (harness.ts) checks instead that a
 * resource handing a role to AWS waits for that role's policies.
 */
import { randomUUID } from 'node:crypto';
import { LocalEc2 } from './local-ec2';
import * as handlers from '../../lambda';
import { ResourceTypes } from '../../src/private/contract';

/** The provider's entry points: the TypeScript sources, or the built bundle (assets/provider/index.js). */
export type Handlers = Pick<typeof handlers, 'onEvent' | 'isComplete'>;

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

/**
 * Why CloudFormation removes a resource: the stack or the template dropped it,
 * an update replaced it, or a rollback removes what the failed operation created.
 */
type RemovalCause = 'delete' | 'replace' | 'rollback';

export interface StackTemplate {
  readonly Resources: Record<string, TemplateResource>;
  readonly Outputs?: Record<string, { Value: unknown }>;
}

export interface SimulatorOptions {
  readonly stackName?: string;
  readonly region?: string;
  /** The Provider framework's queryInterval (cdk-ami: 15 s). */
  readonly pollIntervalSeconds?: number;
  /** The Provider framework's totalTimeout / queryInterval (cdk-ami: 55 min / 15 s). */
  readonly maxPollsPerWait?: number;
  /** The handlers CloudFormation invokes (default: the sources in lambda/). */
  readonly handlers?: Handlers;
  /**
   * Stand-ins for resource types CloudFormation itself creates (e.g. AWS::EC2::Instance), keyed by
   * type. A changed resource is replaced, as CloudFormation replaces an instance whose user data
   * or image changed: the stand-in creates a new one, and deletes the old one in the cleanup phase.
   */
  readonly nativeResources?: Record<string, NativeResource>;
  /**
   * The order of resources that do not depend on each other, for creates, updates and deletes.
   * Set it only in a test that proves what happens in one particular order CloudFormation may take.
   * Default: `CFN_SIM_ORDER` from the environment, else `reverse`.
   */
  readonly independentOrder?: IndependentOrder;
}

/**
 * How the simulator orders resources that do not depend on each other: in their template order,
 * or its reverse (deletes go in the reverse of the create order either way, as CloudFormation's).
 */
export type IndependentOrder = 'template' | 'reverse';

/** The environment variable that picks the default `IndependentOrder` of every simulator. */
export const ORDER_ENV = 'CFN_SIM_ORDER';

/** The default order: `CFN_SIM_ORDER` when it names one, `reverse` when unset; anything else is a mistake. */
export function defaultIndependentOrder(): IndependentOrder {
  const value = process.env[ORDER_ENV];
  if (value === undefined || value === '') return 'reverse';
  if (value === 'template' || value === 'reverse') return value;
  throw new Error(`${ORDER_ENV}=${value}: must be 'template' or 'reverse'`);
}

/** How a test stands in for CloudFormation's own handling of a resource type. */
export interface NativeResource {
  /** Creates the resource; returns its physical ID (the value of its Ref), or that and its `Fn::GetAtt` attributes. */
  create(logicalId: string, props: Record<string, unknown>): string | NativeOutcome;
  /**
   * Applies a change: returns the same physical ID (in place) or a new one (replacement);
   * throws to fail the update. Default: a replacement, through `create`.
   */
  update?(logicalId: string, physicalId: string, props: Record<string, unknown>, oldProps: Record<string, unknown>): string | NativeOutcome;
  delete(physicalId: string): void;
}

/** A native resource's physical ID and attributes. */
export interface NativeOutcome {
  readonly physicalId: string;
  readonly attributes: Record<string, string>;
}

export interface ResourceEvent {
  readonly logicalId: string;
  readonly status: string;
  readonly reason?: string;
  readonly at: number;
}

export interface DeployResult {
  readonly ok: boolean;
  /** The first failure's reason, as the stack event shows it. */
  readonly reason?: string;
  readonly failedResource?: string;
}

interface LiveResource {
  readonly type: string;
  readonly props: Record<string, unknown>;
  readonly physicalId: string;
  readonly data: Record<string, string>;
  readonly lastCreate?: Record<string, unknown>;
}

/** Resource types the simulator fails on purpose, to test rollbacks. */
export const FAILING_RESOURCE = 'Test::AlwaysFails';
/** Resource types of the provider with a waiter: onEvent, then isComplete every poll interval. */
const WAITER_TYPES: ReadonlySet<string> = new Set([ResourceTypes.WAITER, ResourceTypes.BUILDER_SETUP]);
const CREATE_FAILED_MARKER = 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED';

export class CfnSimulator {
  public readonly stackId: string;
  public readonly stackName: string;
  public readonly region: string;
  public readonly events: ResourceEvent[] = [];
  public now = Date.UTC(2026, 10, 23, 12, 0, 0);
  /** The stack status, as DescribeStacks reports it (e.g. UPDATE_ROLLBACK_FAILED). */
  public status = 'NONE';
  /** isComplete calls made, over the simulator's life. */
  public polls = 0;
  private template: StackTemplate = { Resources: {} };
  private readonly live = new Map<string, LiveResource>();
  /** The DeletionPolicy and UpdateReplacePolicy of each resource, as the last template that had it set them. */
  private readonly policies = new Map<string, Pick<TemplateResource, 'DeletionPolicy' | 'UpdateReplacePolicy'>>();
  private readonly pollIntervalMs: number;
  private readonly maxPolls: number;
  private readonly handlers: Handlers;
  private readonly nativeResources: Record<string, NativeResource>;
  /** The order of independent resources this simulator takes. */
  public readonly independentOrder: IndependentOrder;
  private dateSpy?: jest.SpyInstance;

  constructor(private readonly ec2: LocalEc2, options: SimulatorOptions = {}) {
    this.stackName = options.stackName ?? 'LifecycleStack';
    this.region = options.region ?? 'us-east-1';
    this.stackId = `arn:aws:cloudformation:${this.region}:123456789012:stack/${this.stackName}/${randomUUID()}`;
    this.pollIntervalMs = (options.pollIntervalSeconds ?? 15) * 1000;
    this.maxPolls = options.maxPollsPerWait ?? 220;
    this.handlers = options.handlers ?? handlers;
    this.nativeResources = options.nativeResources ?? {};
    this.independentOrder = options.independentOrder ?? defaultIndependentOrder();
  }

  /** Makes `Date.now()` follow the virtual clock; call `stopClock()` after. */
  public startClock(): void {
    this.dateSpy = jest.spyOn(Date, 'now').mockImplementation(() => this.now);
  }

  public stopClock(): void {
    this.dateSpy?.mockRestore();
  }

  public physicalId(logicalId: string): string | undefined {
    return this.live.get(logicalId)?.physicalId;
  }

  public attribute(logicalId: string, name: string): string | undefined {
    return this.live.get(logicalId)?.data[name];
  }

  /** The stack's outputs, resolved against the live resources. */
  public outputs(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.template.Outputs ?? {}).map(([name, o]) => [name, this.resolve(o.Value)]));
  }

  /** Logical IDs of the current template's resources of a type. */
  public logicalIdsOfType(type: string): string[] {
    return Object.entries(this.template.Resources).filter(([, r]) => r.Type === type).map(([id]) => id);
  }

  /** Creates the stack, or updates it to the new template. */
  public async deploy(template: StackTemplate): Promise<DeployResult> {
    return this.live.size === 0 ? this.createStack(template) : this.updateStack(template);
  }

  public async deleteStack(): Promise<DeployResult> {
    this.setStatus('DELETE_IN_PROGRESS');
    for (const logicalId of order(this.template, this.independentOrder).reverse()) {
      const resource = this.live.get(logicalId);
      if (!resource) continue;
      const result = await this.remove(logicalId, resource, 'delete');
      if (!result.ok) {
        this.setStatus('DELETE_FAILED');
        return { ok: false, reason: result.reason, failedResource: logicalId };
      }
      this.live.delete(logicalId);
    }
    this.setStatus('DELETE_COMPLETE');
    return { ok: true };
  }

  /** Delivers the last Create request of a resource again, same RequestId (a retried Lambda). */
  public async redeliverCreate(logicalId: string): Promise<string> {
    const resource = this.live.get(logicalId);
    if (!resource?.lastCreate) throw new Error(`${logicalId} was not created`);
    const out = await this.handlers.onEvent(resource.lastCreate as never);
    return out.PhysicalResourceId;
  }

  private async createStack(template: StackTemplate): Promise<DeployResult> {
    this.template = template;
    this.recordPolicies(template);
    this.setStatus('CREATE_IN_PROGRESS');
    for (const logicalId of order(template, this.independentOrder)) {
      const def = template.Resources[logicalId];
      const result = await this.invoke(logicalId, 'Create', def.Type, this.resolveProps(def));
      if (!result.ok) {
        this.setStatus('ROLLBACK_IN_PROGRESS');
        const deleted = await this.deleteAll([...this.live.keys()].reverse(), 'rollback');
        this.setStatus(deleted ? 'ROLLBACK_COMPLETE' : 'ROLLBACK_FAILED');
        return { ok: false, reason: result.reason, failedResource: logicalId };
      }
    }
    this.setStatus('CREATE_COMPLETE');
    return { ok: true };
  }

  private async updateStack(template: StackTemplate): Promise<DeployResult> {
    const previous = this.template;
    const before = new Map(this.live);
    this.template = template;
    this.recordPolicies(template);
    this.setStatus('UPDATE_IN_PROGRESS');
    const created: string[] = [];
    const replaced: [string, LiveResource][] = [];
    let failure: DeployResult | undefined;

    for (const logicalId of order(template, this.independentOrder)) {
      const def = template.Resources[logicalId];
      const props = this.resolveProps(def);
      const old = this.live.get(logicalId);
      if (!old) {
        const result = await this.invoke(logicalId, 'Create', def.Type, props);
        if (!result.ok) { failure = { ok: false, reason: result.reason, failedResource: logicalId }; break; }
        created.push(logicalId);
        continue;
      }
      if (JSON.stringify(old.props) === JSON.stringify(props)) continue;
      const result = await this.invoke(logicalId, 'Update', def.Type, props, old.physicalId, old.props);
      if (!result.ok) {
        failure = { ok: false, reason: result.reason, failedResource: logicalId };
        // CloudFormation rolls the failed resource back too, with an Update from the properties it failed on.
        this.live.set(logicalId, { ...old, props });
        break;
      }
      if (this.live.get(logicalId)!.physicalId !== old.physicalId) replaced.push([logicalId, old]);
    }

    if (!failure) {
      // The cleanup removes what was replaced and what the template dropped together, in the
      // reverse dependency order of the previous template: a dropped resource that used a
      // replaced one goes before it.
      this.setStatus('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      const replacedOld = new Map(replaced);
      for (const logicalId of order(previous, this.independentOrder).reverse()) {
        const old = replacedOld.get(logicalId);
        if (old) await this.remove(logicalId, old, 'replace');
        else if (!template.Resources[logicalId]) await this.deleteAll([logicalId], 'delete');
      }
      this.setStatus('UPDATE_COMPLETE');
      return { ok: true };
    }

    // Roll back: in-place updates are reverted with the old properties; what
    // this update created (new resources, replacements) is deleted in cleanup.
    this.setStatus('UPDATE_ROLLBACK_IN_PROGRESS');
    const replacements: [string, LiveResource][] = [];
    for (const [logicalId, old] of before) {
      const current = this.live.get(logicalId)!;
      if (current === old) continue;
      if (current.physicalId !== old.physicalId) {
        replacements.push([logicalId, current]);
      } else {
        const reverted = await this.invoke(logicalId, 'Update', old.type, old.props, old.physicalId, current.props);
        if (!reverted.ok) {
          // The stack stays stuck until someone continues the rollback by hand.
          this.setStatus('UPDATE_ROLLBACK_FAILED');
          return failure;
        }
      }
      this.live.set(logicalId, old);
    }
    this.template = previous;
    // As the update's cleanup: replacements and new resources together, in reverse dependency order.
    this.setStatus('UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS');
    const replacementOf = new Map(replacements);
    for (const logicalId of order(template, this.independentOrder).reverse()) {
      const replacement = replacementOf.get(logicalId);
      if (replacement) await this.remove(logicalId, replacement, 'rollback');
      else if (created.includes(logicalId)) await this.deleteAll([logicalId], 'rollback');
    }
    this.setStatus('UPDATE_ROLLBACK_COMPLETE');
    return failure;
  }

  /** Deletes the resources; false when any delete failed. */
  private async deleteAll(logicalIds: string[], why: RemovalCause): Promise<boolean> {
    let ok = true;
    for (const logicalId of logicalIds) {
      const resource = this.live.get(logicalId);
      if (!resource) continue;
      const result = await this.remove(logicalId, resource, why);
      ok &&= result.ok;
      this.live.delete(logicalId);
    }
    return ok;
  }

  private recordPolicies(template: StackTemplate): void {
    for (const [logicalId, def] of Object.entries(template.Resources)) {
      this.policies.set(logicalId, { DeletionPolicy: def.DeletionPolicy, UpdateReplacePolicy: def.UpdateReplacePolicy });
    }
  }

  /**
   * CloudFormation's side of a removal: a resource its policy retains gets no
   * Delete (DELETE_SKIPPED). `Retain` keeps it always, also when the operation
   * that created it rolls back; `RetainExceptOnCreate` keeps it except then;
   * a replaced resource follows its UpdateReplacePolicy.
   */
  private async remove(logicalId: string, resource: LiveResource, why: RemovalCause): Promise<{ ok: boolean; reason?: string }> {
    const policies = this.policies.get(logicalId) ?? {};
    const policy = why === 'replace' ? policies.UpdateReplacePolicy : policies.DeletionPolicy;
    if (policy === 'Retain' || (policy === 'RetainExceptOnCreate' && why !== 'rollback')) {
      this.events.push({ logicalId, status: 'DELETE_SKIPPED', at: this.now });
      return { ok: true };
    }
    return this.invoke(logicalId, 'Delete', resource.type, resource.props, resource.physicalId);
  }

  /**
   * One CloudFormation request through the Provider framework: onEvent, then
   * (waiters) isComplete every poll interval. Records the resource's new state.
   */
  private async invoke(
    logicalId: string, requestType: 'Create' | 'Update' | 'Delete', type: string, props: Record<string, unknown>,
    physicalId?: string, oldProps?: Record<string, unknown>,
  ): Promise<{ ok: boolean; reason?: string }> {
    const native = Object.hasOwn(this.nativeResources, type) ? this.nativeResources[type] : undefined;
    if (native) {
      try {
        if (requestType === 'Delete') {
          native.delete(physicalId!);
        } else {
          const outcome = requestType === 'Update' && native.update
            ? native.update(logicalId, physicalId!, props, oldProps ?? {})
            : native.create(logicalId, props);
          const [id, data] = typeof outcome === 'string' ? [outcome, {}] : [outcome.physicalId, outcome.attributes];
          this.live.set(logicalId, { type, props, physicalId: id, data });
        }
      } catch (err) {
        return this.record(logicalId, requestType, false, (err as Error).message);
      }
      return this.record(logicalId, requestType, true);
    }
    if (!type.startsWith('Custom::') && type !== FAILING_RESOURCE) {
      // Not ours: CloudFormation creates it; only its Ref matters here.
      if (requestType !== 'Delete') this.live.set(logicalId, { type, props, physicalId: `${logicalId}-physical`, data: {} });
      return { ok: true };
    }
    if (type === FAILING_RESOURCE && requestType !== 'Delete') {
      return this.record(logicalId, requestType, false, 'Resource failed on purpose (test)');
    }
    if (requestType === 'Delete' && physicalId === CREATE_FAILED_MARKER) {
      return this.record(logicalId, requestType, true);
    }
    const event: Record<string, unknown> = {
      RequestType: requestType,
      ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
      ResponseURL: 'https://cloudformation-custom-resource-response.example/...',
      StackId: this.stackId,
      RequestId: randomUUID(),
      LogicalResourceId: logicalId,
      ResourceType: type,
      ResourceProperties: props,
      ...(physicalId ? { PhysicalResourceId: physicalId } : {}),
      ...(oldProps ? { OldResourceProperties: oldProps } : {}),
    };

    let response: { PhysicalResourceId?: string; Data?: Record<string, string> };
    try {
      response = await this.handlers.onEvent(event as never);
    } catch (err) {
      if (requestType === 'Create') this.live.set(logicalId, { type, props, physicalId: CREATE_FAILED_MARKER, data: {} });
      return this.record(logicalId, requestType, false, frameworkReason(err));
    }
    const resourceEvent = { ...event, ...response, PhysicalResourceId: response.PhysicalResourceId ?? physicalId ?? event.RequestId };
    let data = response.Data ?? {};

    if (WAITER_TYPES.has(type)) {
      const outcome = await this.waitUntilComplete(resourceEvent);
      if (!outcome.ok) {
        this.live.set(logicalId, { type, props, physicalId: resourceEvent.PhysicalResourceId as string, data: {} });
        return this.record(logicalId, requestType, false, outcome.reason);
      }
      data = { ...data, ...outcome.data };
    }
    if (requestType !== 'Delete') {
      this.live.set(logicalId, {
        type,
        props,
        data,
        physicalId: resourceEvent.PhysicalResourceId as string,
        lastCreate: requestType === 'Create' ? event : this.live.get(logicalId)?.lastCreate,
      });
    }
    return this.record(logicalId, requestType, true);
  }

  private async waitUntilComplete(resourceEvent: Record<string, unknown>): Promise<{ ok: boolean; reason?: string; data?: Record<string, string> }> {
    for (let attempt = 0; attempt < this.maxPolls; attempt++) {
      this.polls++;
      let result;
      try {
        result = await this.handlers.isComplete(resourceEvent as never);
      } catch (err) {
        return { ok: false, reason: frameworkReason(err) };
      }
      if (result.IsComplete) return { ok: true, data: result.Data ?? {} };
      this.now += this.pollIntervalMs;
    }
    return { ok: false, reason: 'Operation timed out' };
  }

  private record(logicalId: string, requestType: string, ok: boolean, reason?: string): { ok: boolean; reason?: string } {
    const status = `${requestType.toUpperCase()}_${ok ? 'COMPLETE' : 'FAILED'}`;
    this.events.push({ logicalId, status, reason, at: this.now });
    return { ok, reason };
  }

  private setStatus(status: string): void {
    this.status = status;
    this.ec2.setStackStatus(this.stackId, status);
  }

  private resolveProps(def: TemplateResource): Record<string, unknown> {
    const { ServiceToken: _token, ...props } = def.Properties ?? {};
    return stringifyScalars(this.resolve(props)) as Record<string, unknown>;
  }

  private resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const obj = value as Record<string, unknown>;
    if ('Ref' in obj) {
      const ref = obj.Ref as string;
      if (ref === 'AWS::StackId') return this.stackId;
      if (ref === 'AWS::StackName') return this.stackName;
      if (ref === 'AWS::Region') return this.region;
      if (ref === 'AWS::Partition') return 'aws';
      if (ref === 'AWS::AccountId') return '123456789012';
      return this.live.get(ref)?.physicalId;
    }
    if ('Fn::GetAtt' in obj) {
      const [logicalId, attr] = obj['Fn::GetAtt'] as [string, string];
      return this.live.get(logicalId)?.data[attr];
    }
    if ('Fn::Join' in obj) {
      const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => this.resolve(p)).join(sep);
    }
    if ('Fn::Split' in obj) {
      const [sep, source] = obj['Fn::Split'] as [string, unknown];
      return String(this.resolve(source) ?? '').split(sep);
    }
    if ('Fn::Select' in obj) {
      const [index, list] = obj['Fn::Select'] as [unknown, unknown];
      const items = this.resolve(list) as unknown[];
      const i = Number(this.resolve(index));
      // CloudFormation fails a template whose index is out of range.
      if (!Array.isArray(items) || !(i >= 0 && i < items.length)) throw new Error(`Fn::Select index ${i} out of range of ${JSON.stringify(items)}`);
      return items[i];
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, this.resolve(v)]));
  }
}

/** CloudFormation hands custom resources every scalar as a string. */
function stringifyScalars(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stringifyScalars);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stringifyScalars(v)]));
  }
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

/**
 * The Reason the Provider framework puts in the stack event: the user
 * function's error message, a log pointer, then every trace line after the first.
 */
export function frameworkReason(err: unknown): string {
  const error = err as Error;
  const trace = (error.stack ?? '').split('\n');
  return [error.message, '', 'Logs: /aws/lambda/cdk-ami-provider', '', ...trace.slice(1)].join('\n').trimEnd();
}

/** Resources in an order that respects Ref, Fn::GetAtt and DependsOn (independent ones in template order, or its reverse). */
function order(template: StackTemplate, independentOrder: IndependentOrder): string[] {
  const ids = Object.keys(template.Resources);
  if (independentOrder === 'reverse') ids.reverse();
  const deps = new Map(ids.map((id) => [id, dependencies(template.Resources[id], ids)]));
  const result: string[] = [];
  const visit = (id: string, path: Set<string>) => {
    if (result.includes(id)) return;
    if (path.has(id)) throw new Error(`dependency cycle through ${id}`);
    path.add(id);
    for (const dep of deps.get(id) ?? []) visit(dep, path);
    path.delete(id);
    result.push(id);
  };
  for (const id of ids) visit(id, new Set());
  return result;
}

/** The resources among `ids` that `def` names in DependsOn, Ref or Fn::GetAtt. */
export function dependencies(def: TemplateResource, ids: readonly string[]): string[] {
  // DependsOn may name resources the simulator does not run (an IAM policy a copy waits for).
  const found = new Set<string>([def.DependsOn ?? []].flat().filter((id) => ids.includes(id)));
  const walk = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (typeof o.Ref === 'string' && ids.includes(o.Ref)) found.add(o.Ref);
    if (Array.isArray(o['Fn::GetAtt']) && ids.includes(o['Fn::GetAtt'][0] as string)) found.add(o['Fn::GetAtt'][0] as string);
    Object.values(o).forEach(walk);
  };
  walk(def.Properties);
  return [...found];
}
