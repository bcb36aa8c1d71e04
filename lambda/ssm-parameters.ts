/**
 * The SSM side of an image's parameter in another Region, bundled on its own
 * (assets/provider/ssm-parameters.js): only Custom::AmiParameter needs the SSM
 * client, so every other cold start does not load it.
 *
 * Each function takes the client configuration from the caller (Region, retry
 * settings, and credentials when the parameter lives in another account).
 */
import {
  DeleteParameterCommand, GetParameterCommand, ListTagsForResourceCommand, PutParameterCommand, SSMClient, SSMClientConfig,
} from '@aws-sdk/client-ssm';
import { declareCalls } from './shared/calls';
import { errorCode } from './shared/errors';

/**
 * GetParameter confirms the value, which SSM validates for aws:ec2:image after
 * PutParameter has answered. (PutParameter with Tags is also authorized as
 * ssm:AddTagsToResource, and SSM checks the image with the caller's
 * ec2:DescribeImages: test/iam simulates both.)
 */
export const CALLS = declareCalls(
  'ssm:PutParameter',
  'ssm:GetParameter',
  'ssm:ListTagsForResource',
  'ssm:DeleteParameter',
);

/** Parameter Store's data type for AMI IDs: EC2 resolves it at launch, SSM checks the image exists. */
export const IMAGE_DATA_TYPE = 'aws:ec2:image';

export interface ParameterWrite {
  readonly name: string;
  readonly value: string;
  readonly description?: string;
  /** Tags of a new parameter; SSM refuses them together with overwrite. */
  readonly tags?: { Key: string; Value: string }[];
  readonly overwrite: boolean;
}

export interface ParameterStore {
  put(write: ParameterWrite): Promise<number>;
  get(name: string): Promise<{ value: string; version: number } | undefined>;
  tags(name: string): Promise<{ Key?: string; Value?: string }[] | undefined>;
  delete(name: string): Promise<boolean>;
}

/**
 * The Parameter Store of one Region (and account, through the config's
 * credentials), with one client for the invocation that asks for it.
 */
export function parameterStore(config: SSMClientConfig): ParameterStore {
  const client = new SSMClient(config);
  return {
    put: (write) => putParameter(client, write),
    get: (name) => getParameter(client, name),
    tags: (name) => parameterTags(client, name),
    delete: (name) => deleteParameter(client, name),
  };
}

/** PutParameter as an aws:ec2:image String parameter; returns the version SSM gave it. */
async function putParameter(client: SSMClient, write: ParameterWrite): Promise<number> {
  const out = await client.send(new PutParameterCommand({
    Name: write.name,
    Value: write.value,
    Type: 'String',
    DataType: IMAGE_DATA_TYPE,
    Description: write.description,
    Overwrite: write.overwrite,
    Tags: write.overwrite ? undefined : write.tags,
  }));
  return out.Version ?? 0;
}

/** The parameter's value and version, or undefined when it does not exist. */
async function getParameter(client: SSMClient, name: string): Promise<{ value: string; version: number } | undefined> {
  try {
    const out = await client.send(new GetParameterCommand({ Name: name }));
    return { value: out.Parameter?.Value ?? '', version: out.Parameter?.Version ?? 0 };
  } catch (err) {
    if (errorCode(err) === 'ParameterNotFound') return undefined;
    throw err;
  }
}

/** The parameter's tags, or undefined when it does not exist. */
async function parameterTags(client: SSMClient, name: string): Promise<{ Key?: string; Value?: string }[] | undefined> {
  try {
    const out = await client.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: name }));
    return out.TagList ?? [];
  } catch (err) {
    if (['InvalidResourceId', 'ParameterNotFound'].includes(errorCode(err) ?? '')) return undefined;
    throw err;
  }
}

/** DeleteParameter; a parameter that is already gone is not an error. */
async function deleteParameter(client: SSMClient, name: string): Promise<boolean> {
  try {
    await client.send(new DeleteParameterCommand({ Name: name }));
    return true;
  } catch (err) {
    if (errorCode(err) === 'ParameterNotFound') return false;
    throw err;
  }
}
