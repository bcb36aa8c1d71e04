/**
 * AWS Systems Manager Parameter Store (awsJson1_1 protocol: POST /, `X-Amz-Target: AmazonSSM.<Action>`,
 * JSON in and out): PutParameter, GetParameter, DeleteParameter and ListTagsForResource of parameters.
 */
import { ApiError } from './errors';
import { newTags, now } from './helpers';
import { LocalParameter } from './types';
import { RegionState, World } from './world';

/** PutParameter's name rules (SSM API reference, "Naming constraints"). */
const SSM_PARAMETER_NAME = /^[a-zA-Z0-9_.\-/]{1,1011}$/;
const SSM_RESERVED_PREFIX = /^\/?(aws|ssm)/i;
const SSM_DATA_TYPES: ReadonlySet<string> = new Set(['text', 'aws:ec2:image', 'aws:ssm:integration']);
const SSM_TYPES: ReadonlySet<string> = new Set(['String', 'StringList', 'SecureString']);

export type Json = Record<string, unknown>;

/**
 * PutParameter, GetParameter, DeleteParameter and ListTagsForResource of parameters, as the SSM API
 * reference describes them. An `aws:ec2:image` value is validated after PutParameter has answered
 * (the reference: "a successful HTTP 200 response does not guarantee that your parameter was
 * successfully created or updated"): the write becomes visible once the image is an available image
 * of the region, and is dropped otherwise; `parameterValidationReads` GetParameter calls see the old
 * state first.
 */
export class SsmApi {
  constructor(private readonly world: World) {}

  handle(action: string, region: RegionState, body: Json): Json {
    switch (action) {
      case 'PutParameter': return this.putParameter(region, body);
      case 'GetParameter': return this.getParameter(region, body);
      case 'DeleteParameter': return this.deleteParameter(region, body);
      case 'ListTagsForResource': return this.listTags(region, body);
      default: throw new ApiError('UnknownOperationException', `The local endpoint does not serve SSM ${action || '(none)'}.`);
    }
  }

  /** Seeds a parameter (e.g. one someone else made), visible at once. */
  seed(region: RegionState, parameter: Pick<LocalParameter, 'name' | 'value'> & Partial<LocalParameter>): void {
    region.parameters.set(parameter.name, { type: 'String', dataType: 'text', version: 1, lastModified: now(), tags: newTags([]), ...parameter });
  }

  private putParameter(region: RegionState, body: Json): Json {
    const name = ssmString(body, 'Name', true)!;
    const value = ssmString(body, 'Value', true)!;
    const type = ssmString(body, 'Type') ?? 'String';
    const dataType = ssmString(body, 'DataType') ?? 'text';
    const overwrite = body.Overwrite === true;
    const tags = Array.isArray(body.Tags) ? (body.Tags as { Key: string; Value: string }[]) : [];
    if (!SSM_PARAMETER_NAME.test(name)) throw ssmValidation('Parameter name: can\'t contain characters other than a-zA-Z0-9_.-/ and must be at most 1011 characters');
    if (SSM_RESERVED_PREFIX.test(name)) throw ssmValidation('Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).');
    if (!SSM_TYPES.has(type)) throw ssmValidation(`1 validation error detected: Value '${type}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]`);
    if (!SSM_DATA_TYPES.has(dataType)) throw ssmValidation(`The following data type is not supported: ${dataType} (Data type names are all lowercase.)`);
    if (dataType === 'aws:ec2:image' && type !== 'String') throw ssmValidation('Parameters of type aws:ec2:image must be of type String.');
    // Best knowledge: the message SSM gives for Tags together with Overwrite.
    if (overwrite && tags.length > 0) {
      throw ssmValidation('Invalid request: tags and overwrite can\'t be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.');
    }
    const existing = region.parameters.get(name);
    if (existing && !overwrite) {
      throw new ApiError('ParameterAlreadyExists', 'The parameter already exists. To overwrite this request value, set the overwrite option in the request to true.');
    }
    const written: LocalParameter = {
      name,
      value,
      type,
      dataType,
      description: ssmString(body, 'Description') ?? existing?.description,
      version: (existing?.version ?? 0) + 1,
      lastModified: now(),
      tags: existing ? existing.tags : newTags(tags.map((t) => [t.Key, t.Value])),
    };
    if (dataType === 'aws:ec2:image') {
      region.pendingParameters.set(name, { parameter: written, readsLeft: this.world.parameterValidationReads });
      if (this.world.parameterValidationReads === 0) this.settle(region, name);
    } else {
      region.parameters.set(name, written);
    }
    return { Version: written.version, Tier: 'Standard' };
  }

  private getParameter(region: RegionState, body: Json): Json {
    const name = ssmString(body, 'Name', true)!;
    const pending = region.pendingParameters.get(name);
    if (pending && pending.readsLeft-- <= 0) this.settle(region, name);
    const parameter = region.parameters.get(name);
    if (!parameter) throw new ApiError('ParameterNotFound', `Parameter ${name} not found.`);
    return {
      Parameter: {
        Name: parameter.name,
        Type: parameter.type,
        Value: parameter.value,
        Version: parameter.version,
        LastModifiedDate: Date.parse(parameter.lastModified) / 1000,
        ARN: `arn:aws:ssm:${region.name}:${region.account}:parameter/${name.replace(/^\//, '')}`,
        DataType: parameter.dataType,
      },
    };
  }

  private deleteParameter(region: RegionState, body: Json): Json {
    const name = ssmString(body, 'Name', true)!;
    region.pendingParameters.delete(name);
    if (!region.parameters.delete(name)) throw new ApiError('ParameterNotFound', `Parameter ${name} not found.`);
    return {};
  }

  private listTags(region: RegionState, body: Json): Json {
    const resourceType = ssmString(body, 'ResourceType', true)!;
    const id = ssmString(body, 'ResourceId', true)!;
    if (resourceType !== 'Parameter') throw new ApiError('InvalidResourceType', `The local endpoint only knows tags of parameters, not ${resourceType}.`);
    const parameter = region.parameters.get(id);
    if (!parameter) throw new ApiError('InvalidResourceId', 'The resource ID is not valid. Verify that you entered the correct ID and try again.');
    return { TagList: Object.entries(parameter.tags).map(([Key, Value]) => ({ Key, Value })) };
  }

  /** The asynchronous validation of an aws:ec2:image write ends: stored if the image is available here, dropped otherwise. */
  private settle(region: RegionState, name: string): void {
    const pending = region.pendingParameters.get(name);
    if (!pending) return;
    region.pendingParameters.delete(name);
    const image = region.images.get(pending.parameter.value);
    if (image?.state === 'available') region.parameters.set(name, pending.parameter);
  }
}

function ssmString(body: Json, key: string, required = false): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) {
    if (required) throw ssmValidation(`1 validation error detected: Value null at '${key.charAt(0).toLowerCase()}${key.slice(1)}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  return String(value);
}

function ssmValidation(message: string): ApiError {
  return new ApiError('ValidationException', message);
}

export function ssmErrorDocument(error: ApiError): string {
  return JSON.stringify({ __type: error.code, message: error.message });
}
