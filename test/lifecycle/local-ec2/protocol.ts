/**
 * The wire formats: query parameters of the ec2Query / awsQuery form body (`Key.N.Member`), XML rendering,
 * the EC2 and CloudFormation response and error documents, and reading a request's SigV4 credential scope
 * and the SDK's attempt number.
 */
import * as http from 'node:http';
import { ApiError, invalidValue, missingParameter } from './errors';
import { Tags } from './types';

const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const CFN_NAMESPACE = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

export class QueryParams {
  static parse(body: string, search: string): QueryParams {
    const values = new Map<string, string>();
    for (const source of [search, body]) {
      for (const [key, value] of new URLSearchParams(source)) values.set(key, value);
    }
    return new QueryParams(values);
  }

  constructor(private readonly values: ReadonlyMap<string, string>) {}

  has(key: string): boolean {
    return this.values.has(key);
  }

  get(key: string): string | undefined {
    return this.values.get(key);
  }

  required(key: string): string {
    const value = this.values.get(key);
    if (value === undefined || value === '') throw missingParameter(key);
    return value;
  }

  /** A non-negative integer parameter. */
  int(key: string): number | undefined {
    const value = this.values.get(key);
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value)) throw invalidValue(`Value (${value}) for parameter ${key} is invalid. Expected an integer.`);
    return Number(value);
  }

  /** Every parameter except `exclude`, sorted: two requests with the same fingerprint asked for the same thing. */
  fingerprint(exclude: readonly string[]): string {
    return JSON.stringify([...this.values].filter(([key]) => !exclude.includes(key)).sort(([a], [b]) => a.localeCompare(b)));
  }

  bool(key: string): boolean | undefined {
    const value = this.values.get(key);
    if (value === undefined) return undefined;
    if (value !== 'true' && value !== 'false') throw invalidValue(`Invalid value '${value}' for ${key}; expected true or false`);
    return value === 'true';
  }

  /** `Key.1`, `Key.2`, … in index order. */
  list(prefix: string): string[] {
    return this.indexes(prefix, (rest) => rest === '').map((index) => this.values.get(`${prefix}.${index}`) ?? '');
  }

  /** `Key.N.*` as one scoped QueryParams per N, in index order. */
  members(prefix: string): QueryParams[] {
    return this.indexes(prefix, (rest) => rest.startsWith('.')).map((index) => {
      const scope = `${prefix}.${index}.`;
      const scoped = new Map<string, string>();
      for (const [key, value] of this.values) {
        if (key.startsWith(scope)) scoped.set(key.slice(scope.length), value);
      }
      return new QueryParams(scoped);
    });
  }

  /** Distinct indexes N of keys `prefix.N<rest>` whose rest passes `accept`, sorted numerically. */
  private indexes(prefix: string, accept: (rest: string) => boolean): number[] {
    const indexes = new Set<number>();
    for (const key of this.values.keys()) {
      if (!key.startsWith(`${prefix}.`)) continue;
      const match = /^(\d+)(.*)$/.exec(key.slice(prefix.length + 1));
      if (match && accept(match[2])) indexes.add(Number(match[1]));
    }
    return [...indexes].sort((a, b) => a - b);
  }
}

const XML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => XML_ENTITIES[char]);
}

/** `<name>value</name>`, or nothing when the value is absent (EC2 omits unset members). */
export function leaf(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** A container element around already-rendered children. */
export function node(name: string, ...children: string[]): string {
  return `<${name}>${children.join('')}</${name}>`;
}

/** An EC2 list: `<name><item>…</item>…</name>` (each entry is the item's rendered children). */
export function itemSet(name: string, items: readonly string[]): string {
  return node(name, ...items.map((item) => node('item', item)));
}

/** EC2 leaves `tagSet` out entirely when a resource has no tags. */
export function renderTags(tags: Tags): string {
  const entries = Object.entries(tags);
  return entries.length === 0 ? '' : itemSet('tagSet', entries.map(([key, value]) => leaf('key', key) + leaf('value', value)));
}

export function ec2Document(action: string, requestId: string, body: string): string {
  return `${XML_DECLARATION}<${action}Response xmlns="${EC2_NAMESPACE}">${leaf('requestId', requestId)}${body}</${action}Response>`;
}

export function ec2ErrorDocument(error: ApiError, requestId: string): string {
  const detail = node('Error', leaf('Code', error.code), leaf('Message', error.message));
  return `${XML_DECLARATION}${node('Response', node('Errors', detail), leaf('RequestID', requestId))}`;
}

export function cfnDocument(action: string, requestId: string, result: string): string {
  const metadata = node('ResponseMetadata', leaf('RequestId', requestId));
  return `${XML_DECLARATION}<${action}Response xmlns="${CFN_NAMESPACE}">${node(`${action}Result`, result)}${metadata}</${action}Response>`;
}

export function cfnErrorDocument(error: ApiError, requestId: string): string {
  const type = error.status >= 500 ? 'Receiver' : 'Sender';
  const detail = node('Error', leaf('Type', type), leaf('Code', error.code), leaf('Message', error.message));
  return `${XML_DECLARATION}<ErrorResponse xmlns="${CFN_NAMESPACE}">${detail}${leaf('RequestId', requestId)}</ErrorResponse>`;
}

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly code?: string;
  /** Default: the AWS services' `text/xml;charset=UTF-8`. */
  readonly contentType?: string;
}

/** `Credential=AKID/20261123/us-east-1/ec2/aws4_request` → access key, region and service of a SigV4 request. */
export function credentialScope(authorization: string | undefined): { accessKeyId: string; region: string; service: string } | undefined {
  const match = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? '');
  return match ? { accessKeyId: match[1], region: match[2], service: match[3] } : undefined;
}

/** The attempt number the SDK's retry middleware puts in `amz-sdk-request: attempt=2; max=3`. */
export function sdkAttempt(header: string | string[] | undefined): number | undefined {
  const match = /attempt=(\d+)/.exec(String(header ?? ''));
  return match ? Number(match[1]) : undefined;
}

export async function readBody(request: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
