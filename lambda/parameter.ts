import { pause } from './shared/backoff';
import { clientConfig } from './shared/clients';
import { roleOf } from './shared/cross-account';
import { AmiError, errorCode, errorMessage, mayHaveTakenEffect, sentence, toAmiError, withoutFullStop } from './shared/errors';
import { log } from './shared/log';
import { isFromRequest, isOwnedBy, Ownership, ownershipOf, ownershipTags } from './shared/ownership';
import { changed, required, str } from './shared/props';
import { decideRemoval } from './shared/removal';
import { CustomResourceEvent, OnEventResponse } from './shared/types';
import type { ParameterStore } from './ssm-parameters';
import { createOnlyProperties, ReceivedProperties, ResourceTypes } from '../src/private/contract';

/** The properties of a parameter resource, by the contract. */
type Props = ReceivedProperties<typeof ResourceTypes.PARAMETER>;

/**
 * Custom::AmiParameter — the aws:ec2:image parameter of an image that lives
 * outside the stack's Region or account, written in the image's own Region
 * (a CloudFormation AWS::SSM::Parameter can only be made in the stack's) and,
 * for a copy owned by another account, there as the copy's role (RoleArn).
 *
 * Its physical ID is the parameter's ARN: a new Region, account or name is a
 * new parameter (CloudFormation then deletes the old one, as the removal
 * policy says); a new image ID overwrites the value in place.
 */

/**
 * SSM validates an aws:ec2:image value after PutParameter has answered and
 * drops a value that fails; the handler reads it back until it is there.
 */
const CONFIRM_ATTEMPTS = 12;
const CONFIRM_INTERVAL_MS = 2_500;

interface Request {
  readonly event: CustomResourceEvent;
  readonly region: string;
  /** The account whose Parameter Store holds the parameter. */
  readonly account: string;
  /** Where the parameter is, for messages: its Region, and its account when it is not the stack's. */
  readonly where: string;
  readonly name: string;
  readonly imageId: string;
  readonly description?: string;
  readonly ownership: Ownership;
  readonly store: ParameterStore;
}

export async function handleParameter(event: CustomResourceEvent): Promise<OnEventResponse<typeof ResourceTypes.PARAMETER>> {
  const props = event.ResourceProperties as Props;
  const region = required(props, 'Region');
  const role = roleOf(props, event.LogicalResourceId);
  const account = accountOf(role?.roleArn ?? event.StackId);
  const req: Request = {
    event,
    region,
    account,
    where: role ? `${region} of account ${account}` : region,
    name: required(props, 'Name'),
    imageId: required(props, 'ImageId'),
    description: str(props.Description),
    ownership: ownershipOf(event),
    store: loadSsm().parameterStore(clientConfig(region, role)),
  };
  switch (event.RequestType) {
    case 'Create':
      return { PhysicalResourceId: await create(req), Data: { ParameterName: req.name } };
    case 'Update': {
      if (changed(event.OldResourceProperties, props, createOnlyProperties(ResourceTypes.PARAMETER)).length > 0) {
        return { PhysicalResourceId: await create(req), Data: { ParameterName: req.name } };
      }
      await overwriteOwn(req);
      return { PhysicalResourceId: event.PhysicalResourceId, Data: { ParameterName: req.name } };
    }
    case 'Delete':
      await remove(req, event.PhysicalResourceId, str(props.RemovalPolicy));
      return { PhysicalResourceId: event.PhysicalResourceId };
  }
}

/** The parameter's ARN, in the stack's partition. */
export function parameterArn(stackId: string, region: string, account: string, name: string): string {
  const [, partition] = stackId.split(':');
  return `arn:${partition}:ssm:${region}:${account}:parameter/${name.replace(/^\//, '')}`;
}

/** The account of an ARN (the stack's, or the role's). */
function accountOf(arn: string): string {
  return arn.split(':')[4];
}

/**
 * A new parameter, tagged as this resource's. One that exists already is only
 * taken over when it carries this resource's owner tag (a retried create, or
 * one that RETAIN kept when the resource was removed); anyone else's is left
 * alone and the deployment fails. A create that fails has no physical ID, so
 * CloudFormation's rollback never deletes what it wrote: it removes that itself.
 */
async function create(req: Request): Promise<string> {
  const progress = { mayHaveWritten: false };
  try {
    await write(req, progress);
  } catch (err) {
    throw progress.mayHaveWritten ? await withoutWhatThisRequestWrote(req, err) : err;
  }
  return parameterArn(req.event.StackId, req.region, req.account, req.name);
}

async function write(req: Request, progress: { mayHaveWritten: boolean }): Promise<void> {
  let version: number;
  try {
    version = await req.store.put({
      name: req.name, value: req.imageId, description: req.description, overwrite: false, tags: ownershipTags(req.ownership),
    });
    progress.mayHaveWritten = true;
  } catch (err) {
    // A 5xx may hide a write that took effect: the parameter then carries this request's tags.
    const exists = errorCode(err) === 'ParameterAlreadyExists';
    progress.mayHaveWritten = exists || mayHaveTakenEffect(err);
    if (!progress.mayHaveWritten) throw parameterError(err, req, 'Creating');
    const tags = await readTags(req);
    if (!tags && !exists) throw parameterError(err, req, 'Creating');
    if (!tags || !isOurs(tags, req.ownership)) {
      throw new AmiError(
        `SSM parameter ${req.name} already exists in ${req.where} and was not made by this resource; cdk-ami does not overwrite it. Choose another parameterName, or delete the parameter.`,
      );
    }
    log('info', 'taking over the parameter this resource made before', { name: req.name, region: req.region });
    version = await put(req);
  }
  await confirm(req, version);
  log('info', 'parameter written', { name: req.name, region: req.region, account: req.account, imageId: req.imageId, version });
}

/**
 * Deletes the parameter when this very request created it (a parameter RETAIN
 * kept, or anyone else's, stays); returns the create's error, which says what
 * to remove by hand if that fails.
 */
async function withoutWhatThisRequestWrote(req: Request, createError: unknown): Promise<AmiError> {
  const error = toAmiError(createError, `Creating SSM parameter ${req.name} in ${req.where}`);
  try {
    const tags = await req.store.tags(req.name);
    if (!tags || !isFromRequest({ Tags: tags }, req.ownership)) return error;
    await req.store.delete(req.name);
    log('info', 'parameter deleted: its create failed', { name: req.name, region: req.region, account: req.account });
    return error;
  } catch (err) {
    log('warn', 'parameter left behind by a failed create', { name: req.name, region: req.region, account: req.account, error: errorMessage(err) });
    return new AmiError(
      `${sentence(error.message)} Removing the parameter it had written failed too (${withoutFullStop(errorMessage(err))}): delete SSM parameter ${req.name} in ${req.where} by hand.`,
    );
  }
}

/** A new image ID (or description) for the parameter this resource made. */
async function overwriteOwn(req: Request): Promise<void> {
  const tags = await readTags(req);
  if (!tags) {
    // Deleted outside CloudFormation: made again, as the stack says it exists.
    log('warn', 'parameter no longer exists; creating it again', { name: req.name, region: req.region });
    await create(req);
    return;
  }
  if (!isOurs(tags, req.ownership)) {
    throw new AmiError(`SSM parameter ${req.name} in ${req.where} is no longer tagged as this resource's; cdk-ami does not overwrite it.`);
  }
  await confirm(req, await put(req));
  log('info', 'parameter updated', { name: req.name, region: req.region, account: req.account, imageId: req.imageId });
}

async function put(req: Request): Promise<number> {
  try {
    return await req.store.put({ name: req.name, value: req.imageId, description: req.description, overwrite: true });
  } catch (err) {
    throw parameterError(err, req, 'Updating');
  }
}

/**
 * The parameter goes as the removal rule says (`shared/removal.ts`); one that
 * is not tagged as this resource's is never deleted.
 */
async function remove(req: Request, physicalId: string, removalPolicy: string | undefined): Promise<void> {
  if (physicalId !== parameterArn(req.event.StackId, req.region, req.account, req.name)) {
    log('info', 'no parameter behind this resource', { physicalId });
    return;
  }
  const decision = await decideRemoval(removalPolicy, req.event.StackId, { noun: 'the parameter' });
  if (!decision.destroy) {
    log('info', 'parameter retained', { name: req.name, region: req.region, reason: decision.reason });
    return;
  }
  const tags = await readTags(req);
  if (!tags) return;
  if (!isOurs(tags, req.ownership)) {
    log('warn', 'parameter is not tagged as this resource\'s; left in place', { name: req.name, region: req.region });
    return;
  }
  try {
    await req.store.delete(req.name);
  } catch (err) {
    throw toAmiError(err, `Deleting SSM parameter ${req.name} in ${req.where}`);
  }
  log('info', 'parameter deleted', { name: req.name, region: req.region, account: req.account, reason: decision.reason });
}

async function readTags(req: Request): Promise<{ Key?: string; Value?: string }[] | undefined> {
  try {
    return await req.store.tags(req.name);
  } catch (err) {
    throw toAmiError(err, `Reading the tags of SSM parameter ${req.name} in ${req.where}`);
  }
}

function isOurs(tags: { Key?: string; Value?: string }[], ownership: Ownership): boolean {
  return isOwnedBy({ Tags: tags }, ownership);
}

/** Reads the parameter back until it holds the image ID at `version` or later. */
async function confirm(req: Request, version: number): Promise<void> {
  for (let attempt = 1; attempt <= CONFIRM_ATTEMPTS; attempt++) {
    const current = await req.store.get(req.name).catch((err: unknown) => {
      throw toAmiError(err, `Reading SSM parameter ${req.name} in ${req.where}`);
    });
    if (current && current.value === req.imageId && current.version >= version) return;
    if (attempt < CONFIRM_ATTEMPTS) await pause(CONFIRM_INTERVAL_MS);
  }
  throw new AmiError(
    `SSM did not store image ${req.imageId} in parameter ${req.name} in ${req.where}: it validates an aws:ec2:image value after PutParameter has answered, and drops a value that is not an available image of this account in that Region.`,
  );
}

function parameterError(err: unknown, req: Request, doing: string): AmiError {
  switch (errorCode(err)) {
    case 'ValidationException':
    case 'HierarchyLevelLimitExceededException':
    case 'HierarchyTypeMismatchException':
    case 'UnsupportedParameterType':
      return new AmiError(`SSM refused parameter ${req.name} in ${req.where}: ${errorMessage(err)}`);
    case 'ParameterLimitExceeded':
      return new AmiError(`SSM parameter ${req.name} cannot be created in ${req.where}: the account has as many parameters as it may (${withoutFullStop(errorMessage(err))}).`);
    default:
      return toAmiError(err, `${doing} SSM parameter ${req.name} in ${req.where}`);
  }
}

/** In the Lambda bundle the SSM client is a file of its own beside index.js (external to esbuild). */
function loadSsm(): typeof import('./ssm-parameters') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./ssm-parameters');
}
