/**
 * EC2's `Filter.N.Name` / `Filter.N.Value.M` on Describe* actions: glob values, `tag:<key>`, `tag-key`
 * and `tag-value`, and the resource's own filter names (each area defines the table of its resources).
 */
import { invalidValue } from './errors';
import { globMatches } from './helpers';
import { QueryParams } from './protocol';
import { Tags } from './types';

export type Tagged = { readonly tags: Tags };
export type FilterFields<T> = Readonly<Record<string, (resource: T) => ReadonlyArray<string | undefined>>>;

/**
 * A predicate for all `Filter.N` of the request (`Filters.N` for the few actions whose model names
 * the list so); an unknown filter name is rejected up front, like EC2 does.
 */
export function filterPredicate<T extends Tagged>(params: QueryParams, fields: FilterFields<T>, prefix = 'Filter'): (resource: T) => boolean {
  const tests = params.members(prefix).map((filter) => {
    const read = filterReader(filter.required('Name'), fields);
    const patterns = filter.list('Value');
    return (resource: T) => read(resource).some((value) => value !== undefined && patterns.some((p) => globMatches(p, value)));
  });
  return (resource) => tests.every((test) => test(resource));
}

function filterReader<T extends Tagged>(name: string, fields: FilterFields<T>): (resource: T) => ReadonlyArray<string | undefined> {
  if (name.startsWith('tag:')) {
    const key = name.slice('tag:'.length);
    return (resource) => (Object.hasOwn(resource.tags, key) ? [resource.tags[key]] : []);
  }
  if (name === 'tag-key') return (resource) => Object.keys(resource.tags);
  if (name === 'tag-value') return (resource) => Object.values(resource.tags);
  const field = fields[name];
  if (!field) throw invalidValue(`The filter '${name}' is invalid`);
  return field;
}
