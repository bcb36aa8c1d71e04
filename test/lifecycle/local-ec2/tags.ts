/**
 * EC2 CreateTags and DeleteTags, on images, snapshots and instances.
 */
import { ActionHandler, Ec2Area } from './ec2-area';
import { ApiError, missingParameter } from './errors';
import { isWellFormedId, newTags, readTags } from './helpers';
import { leaf, QueryParams } from './protocol';
import { Tags } from './types';
import { RegionState } from './world';

export class TagActions extends Ec2Area {
  readonly handlers: Readonly<Record<string, ActionHandler>> = {
    CreateTags: (region, params) => this.createTags(region, params),
    DeleteTags: (region, params) => this.deleteTags(region, params),
  };

  private createTags(region: RegionState, params: QueryParams): string {
    const targets = this.requiredList(params, 'ResourceId').map((id) => this.taggable(region, id));
    const tags = readTags(params.members('Tag'));
    if (tags.length === 0) throw missingParameter('Tag');
    for (const target of targets) {
      for (const [key, value] of tags) target.tags[key] = value;
    }
    return leaf('return', true);
  }

  private deleteTags(region: RegionState, params: QueryParams): string {
    const targets = this.requiredList(params, 'ResourceId').map((id) => this.taggable(region, id));
    const members = params.members('Tag');
    for (const target of targets) {
      // No Tag.N at all deletes every tag; a Tag.N without Value deletes that key whatever its value.
      if (members.length === 0) target.tags = newTags();
      for (const member of members) {
        const key = member.required('Key');
        const value = member.get('Value');
        if (Object.hasOwn(target.tags, key) && (value === undefined || target.tags[key] === value)) delete target.tags[key];
      }
    }
    return leaf('return', true);
  }

  private taggable(region: RegionState, id: string): { tags: Tags } {
    const prefix = id.slice(0, id.lastIndexOf('-'));
    if (!['ami', 'snap', 'i'].includes(prefix) || !isWellFormedId(id, prefix)) throw new ApiError('InvalidID', `The ID '${id}' is not valid`);
    if (prefix === 'ami') return this.liveImage(region, id);
    if (prefix === 'snap') return this.snapshotById(region, id);
    return this.instancesById(region, [id])[0];
  }
}
