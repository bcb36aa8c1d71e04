import type { EbsBlockDevice, VolumeType } from '@aws-sdk/client-ec2';
import { AmiError } from './errors';
import { Tag } from './types';

/**
 * CloudFormation hands every scalar property to the handler as a string
 * ("true", "3600"); these read them back with the construct's defaults.
 */
export function bool(value: unknown, defaultValue: boolean): boolean {
  if (value === undefined || value === null || value === '') return defaultValue;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new AmiError(`Expected "true" or "false", got "${String(value)}".`);
}

export function num(value: unknown, defaultValue: number): number {
  if (value === undefined || value === null || value === '') return defaultValue;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new AmiError(`Expected a number, got "${String(value)}".`);
  return n;
}

export function str(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

/** A property the handler cannot act without; `name` is checked against the props' type (the contract's schema). */
export function required<P extends object>(props: P, name: Extract<keyof P, string>): string {
  const value = str((props as Record<string, unknown>)[name]);
  if (value === undefined) throw new AmiError(`The resource property ${name} is required.`);
  return value;
}

export function tags(value: unknown): Tag[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((t): t is { Key: unknown; Value: unknown } => typeof t === 'object' && t !== null && 'Key' in t)
    .map((t) => ({ Key: String(t.Key), Value: t.Value === undefined ? '' : String(t.Value) }));
}

/** True when any of the named properties differs between two property sets. */
export function changed(before: Record<string, unknown>, after: Record<string, unknown>, names: readonly string[]): string[] {
  return names.filter((name) => canonical(before[name]) !== canonical(after[name]));
}

function canonical(value: unknown): string {
  if (value === undefined || value === null || value === '') return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The EBS settings of a volume as the constructs render them (VolumeSize,
 * VolumeType, Iops, Throughput, DeleteOnTermination), for a block device
 * mapping; what is not given is left to EC2.
 */
export function ebsSettings(volume: Record<string, unknown>, defaults: EbsBlockDevice = {}): EbsBlockDevice {
  const optionalNumber = (value: unknown) => (str(value) === undefined ? undefined : num(value, 0));
  return {
    ...defaults,
    ...definedOnly({
      VolumeSize: optionalNumber(volume.VolumeSize),
      VolumeType: str(volume.VolumeType) as VolumeType | undefined,
      Iops: optionalNumber(volume.Iops),
      Throughput: optionalNumber(volume.Throughput),
      DeleteOnTermination: str(volume.DeleteOnTermination) === undefined ? undefined : bool(volume.DeleteOnTermination, true),
    }),
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
