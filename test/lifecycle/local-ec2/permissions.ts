/**
 * The permission lists of EC2 resources: an image's `launchPermission` (ModifyImageAttribute) and a
 * snapshot's `createVolumePermission` (ModifySnapshotAttribute) are read and changed by the same rules.
 */
import { invalidValue } from './errors';
import { QueryParams } from './protocol';

/** One kind of permission list: its request name and the grantee fields of an entry. */
export interface PermissionKind<P extends object> {
  /** The request members `<name>.Add.N.<member>` and `<name>.Remove.N.<member>`. */
  readonly name: string;
  /** Each grantee field of an entry: its key, its member name, and the list `OperationType` reads it from (`<list>.N`). */
  readonly fields: ReadonlyArray<{ readonly key: keyof P & string; readonly member: string; readonly list: string }>;
}

export interface PermissionChanges<P> {
  readonly add: P[];
  readonly remove: P[];
}

/** Both request forms: `<name>.Add.N.*` / `<name>.Remove.N.*`, and `OperationType` with the fields' lists (`UserId.N`, `UserGroup.N`, …). */
export function readPermissionChanges<P extends object>(params: QueryParams, kind: PermissionKind<P>): PermissionChanges<P> {
  const entryOf = (member: QueryParams): P => {
    const permission: Record<string, string> = {};
    for (const field of kind.fields) {
      const value = member.get(field.member);
      if (value !== undefined) permission[field.key] = value;
    }
    return permission as P;
  };
  const add = params.members(`${kind.name}.Add`).map(entryOf);
  const remove = params.members(`${kind.name}.Remove`).map(entryOf);
  const operation = params.get('OperationType');
  if (operation !== undefined) {
    if (operation !== 'add' && operation !== 'remove') throw invalidValue(`Value (${operation}) for parameter OperationType is invalid.`);
    const listed = kind.fields.flatMap((field) => params.list(field.list).map((value) => ({ [field.key]: value }) as P));
    (operation === 'add' ? add : remove).push(...listed);
  }
  return { add, remove };
}

/** The list after the changes: removed entries go, added ones that are not there yet come last. */
export function applyPermissionChanges<P extends object>(existing: readonly P[], changes: PermissionChanges<P>, kind: PermissionKind<P>): P[] {
  const same = (a: P, b: P) => kind.fields.every((field) => a[field.key] === b[field.key]);
  const kept = existing.filter((entry) => !changes.remove.some((removed) => same(entry, removed)));
  const added = changes.add.filter((permission) => !kept.some((entry) => same(entry, permission)));
  return [...kept, ...added];
}
