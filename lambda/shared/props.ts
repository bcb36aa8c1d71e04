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

export function required(props: Record<string, unknown>, name: string): string {
  const value = str(props[name]);
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
